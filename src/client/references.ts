// Secret references: the `coffer://<mount>/<path>[?version=N]#<key>` strings that `coffer run`,
// `coffer env`, env templates and loadEnv resolve into values. Parsing only; resolve.ts reads.
import { ClientError } from './errors.js';
import { sanitizePath } from './kv-path.js';

export const REFERENCE_SCHEME = 'coffer://';

/**
 * A parsed reference. `path` is user-style ("secret/app", "database/creds/app"): the mount probe
 * decides whether it is KV v2 (data/ is inserted) or read as it is. `version` is KV v2 only.
 */
export interface SecretReference {
  readonly path: string;
  readonly key: string;
  readonly version?: number;
}

/** Whether `text` is meant as a reference (it starts with the scheme). */
export function isReference(text: string): boolean {
  return text.startsWith(REFERENCE_SCHEME);
}

/**
 * Parses `coffer://<path>[?version=N]#<key>`. Path and key are percent-decoded (so `%23` is a
 * "#" inside a key). A reference holds no secret, so messages may quote it.
 */
export function parseReference(text: string): SecretReference {
  if (!isReference(text)) {
    throw new ClientError(`reference "${text}" must start with ${REFERENCE_SCHEME}`);
  }
  const rest = text.slice(REFERENCE_SCHEME.length);
  const hash = rest.indexOf('#');
  if (hash === -1 || hash === rest.length - 1) {
    throw new ClientError(`reference "${text}" names no key (add #<key>)`);
  }
  const key = decode(rest.slice(hash + 1), text);
  const beforeKey = rest.slice(0, hash);
  const question = beforeKey.indexOf('?');
  const rawPath = question === -1 ? beforeKey : beforeKey.slice(0, question);
  const path = sanitizePath(decode(rawPath, text));
  if (path === '' || path.split('/').some((segment) => segment === '' || segment === '..')) {
    throw new ClientError(`reference "${text}" has an empty or invalid path`);
  }
  if (question === -1) return { path, key };
  const query = new URLSearchParams(beforeKey.slice(question + 1));
  let version: number | undefined;
  for (const [name, value] of query) {
    if (name !== 'version') {
      throw new ClientError(`reference "${text}" has an unknown parameter "${name}"`);
    }
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)) || Number(value) < 1) {
      throw new ClientError(`reference "${text}": version must be a whole number of at least 1`);
    }
    version = Number(value);
  }
  return version === undefined ? { path, key } : { path, key, version };
}

/** The canonical text of a reference (for messages and snapshot fingerprints). */
export function formatReference(ref: SecretReference): string {
  const version = ref.version === undefined ? '' : `?version=${ref.version}`;
  return `${REFERENCE_SCHEME}${ref.path}${version}#${encodeURIComponent(ref.key)}`;
}

function decode(part: string, text: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new ClientError(`reference "${text}" has an invalid percent escape`);
  }
}
