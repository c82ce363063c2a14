// Flags and cells both mount tables' commands share (`secrets` and `auth`): the TTL flags
// and their body keys, and the TTL column of the detailed lists.
import type { FlagSpecs } from './args.js';
import { humanDuration } from './format.js';

export const TTL_FLAGS = {
  'default-lease-ttl': {
    kind: 'string',
    placeholder: '<duration>',
    help: 'Default lease TTL of the mount, or of the tokens an auth method issues ("1h", "30m", or seconds).',
  },
  'max-lease-ttl': {
    kind: 'string',
    placeholder: '<duration>',
    help: 'Maximum lease TTL of the mount, or of the tokens an auth method issues.',
  },
} as const satisfies FlagSpecs;

/** The TTL flags given, as the `config` (enable) or top-level (tune) keys of the body. */
export function ttlConfig(flags: {
  'default-lease-ttl'?: string;
  'max-lease-ttl'?: string;
}): Record<string, string> {
  const config: Record<string, string> = {};
  if (flags['default-lease-ttl'] !== undefined) {
    config['default_lease_ttl'] = flags['default-lease-ttl'];
  }
  if (flags['max-lease-ttl'] !== undefined) config['max_lease_ttl'] = flags['max-lease-ttl'];
  return config;
}

/** "system" for 0 (the mount uses the system default), else a human duration. */
export function ttlCell(seconds: unknown): string {
  return typeof seconds === 'number' && seconds > 0 ? humanDuration(seconds) : 'system';
}
