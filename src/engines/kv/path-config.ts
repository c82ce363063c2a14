// KV v2 `config`: the mount-wide defaults every key inherits (max_versions, cas_required,
// delete_version_after).
import { formatGoDuration, parseDurationSeconds } from '../../sdk/duration.js';
import { invalidField } from '../../sdk/errors.js';
import type { EngineRequest, EngineResult } from '../../sdk/engine.js';
import type { FieldValues } from '../../sdk/fields.js';
import { definePath, type PathSpec } from '../../sdk/path.js';
import type { ConfigPatch } from '../../sdk/versioned-store.js';
import { onlyFields, type StoreFor } from './v2-common.js';

const FIELDS = {
  max_versions: {
    type: 'int',
    description: 'Versions to keep for each key; 0 means the default of 10.',
  },
  cas_required: {
    type: 'bool',
    description: 'If true, every write must give the "cas" option.',
  },
  delete_version_after: {
    type: 'any',
    description:
      'Time after which each new version reads as deleted. "0s" clears the setting; a ' +
      'negative duration disables it for every key, whatever the key says.',
  },
} as const;

/** Vault prints the "disabled" setting as a negative Go duration ("-1s"). */
const DISABLED_SECONDS = -1;

/** A duration that may be negative (Vault's TypeSignedDurationSecond), in whole seconds. */
export function parseSignedDurationSeconds(value: unknown, field: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw invalidField(field, 'must be a duration');
    return Math.trunc(value);
  }
  if (typeof value === 'string' && value.trim().startsWith('-')) {
    return -parseDurationSeconds(value.trim().slice(1), field);
  }
  return parseDurationSeconds(value, field);
}

function formatSignedDuration(seconds: number): string {
  return seconds < 0 ? `-${formatGoDuration(-seconds)}` : formatGoDuration(seconds);
}

export function pathConfig(storeFor: StoreFor): PathSpec {
  async function write(
    req: EngineRequest,
    fields: FieldValues<typeof FIELDS>,
  ): Promise<EngineResult> {
    onlyFields(req.data, Object.keys(FIELDS));
    const patch: { -readonly [K in keyof ConfigPatch]: ConfigPatch[K] } = {};
    if (fields.max_versions !== undefined) patch.maxVersions = fields.max_versions;
    if (fields.cas_required !== undefined) patch.casRequired = fields.cas_required;
    if (fields.delete_version_after !== undefined) {
      const seconds = parseSignedDurationSeconds(
        fields.delete_version_after,
        'delete_version_after',
      );
      patch.deleteVersionAfterSeconds = seconds < 0 ? DISABLED_SECONDS : seconds;
    }
    // Vault: a write with no setting is a no-op.
    if (Object.keys(patch).length > 0) await storeFor(req).updateConfig(patch);
    return { kind: 'empty' };
  }

  return definePath({
    pattern: 'config',
    fields: FIELDS,
    operations: {
      async read(req) {
        onlyFields(req.data, []);
        const config = await storeFor(req).readConfig();
        return {
          kind: 'data',
          data: {
            cas_required: config.casRequired,
            delete_version_after: formatSignedDuration(config.deleteVersionAfterSeconds),
            max_versions: config.maxVersions,
          },
        };
      },
      create: write,
      update: write,
    },
    exists: () => Promise.resolve(true),
    help:
      'Mount-wide settings every key inherits: how many versions to keep (max_versions, ' +
      'default 10), whether writes must use check-and-set (cas_required), and how long ' +
      'versions live before they read as deleted (delete_version_after).',
  });
}
