// What `coffer run` and `coffer env` share: turning --path/--env-file/--map into variable
// sources, and telling a server that is down or not serving (a snapshot may stand in for it).
import { readFileSync } from 'node:fs';
import {
  ApiError,
  ConnectionError,
  explicitFromEnvFile,
  explicitFromPairs,
  parseEnvFile,
} from '../client/index.js';
import type { ExplicitVariable, VariableSources } from '../client/index.js';
import { UsageError } from './args.js';
import type { FlagSpecs } from './args.js';

export const SOURCE_FLAGS = {
  path: {
    kind: 'list',
    placeholder: '<path>',
    help: 'A secret whose keys all become variables (UPPER_SNAKE names); repeatable.',
  },
  'env-file': {
    kind: 'list',
    placeholder: '<file>',
    help: 'An env template: NAME=coffer://mount/path#key or NAME=literal lines; repeatable.',
  },
  map: {
    kind: 'list',
    placeholder: '<NAME=coffer://mount/path#key>',
    help: 'One variable from one key of a secret; repeatable. Wins over keys of -path.',
  },
} as const satisfies FlagSpecs;

/** Builds the sources; needs at least one of the flags. */
export function sourcesFromFlags(flags: {
  path?: string[];
  'env-file'?: string[];
  map?: string[];
}): VariableSources {
  const explicit: ExplicitVariable[] = [];
  for (const file of flags['env-file'] ?? []) {
    explicit.push(...explicitFromEnvFile(parseEnvFile(readTextFile(file), file), file));
  }
  const pairs = (flags.map ?? []).map((item, index): [string, string] => {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`-map number ${index + 1} is not NAME=coffer://...`);
    return [item.slice(0, eq), item.slice(eq + 1)];
  });
  explicit.push(...explicitFromPairs(pairs, '-map'));
  const paths = flags.path ?? [];
  if (paths.length === 0 && explicit.length === 0) {
    throw new UsageError('nothing to deliver: give -path, -env-file or -map');
  }
  return { paths, explicit };
}

/** SECURITY: the error names the file and the errno code, never any of its content. */
function readTextFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new UsageError(`cannot read ${file} (${typeof code === 'string' ? code : 'error'})`);
  }
}

/** Moved to command.ts, where every command's errors are reported; kept for old importers. */

/** The server is down or not serving (sealed, standby without a leader): a snapshot may serve. */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof ConnectionError) return true;
  return error instanceof ApiError && [502, 503, 504].includes(error.status);
}
