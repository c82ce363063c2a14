// The KV secret engine (type "kv"), assembled from its paths: version 1 (unversioned) or
// version 2 (versioned, over the shared versioned-secret model), chosen by the mount's
// `options.version`.
import { CofferError } from '../../sdk/errors.js';
import type { EngineFactory, MountInfo, SecretEngine } from '../../sdk/engine.js';
import { createPathEngine } from '../../sdk/path.js';
import { pathConfig } from './path-config.js';
import { pathData } from './path-data.js';
import { pathVersionActions } from './path-delete.js';
import { pathKv1 } from './path-kv1.js';
import { pathMetadata } from './path-metadata.js';
import { pathSubkeys } from './path-subkeys.js';
import type { StoreFor } from './v2-common.js';
import { KeyLocks, VersionedStore } from '../../sdk/versioned-store.js';

export type KvVersion = '1' | '2';

const OPTION_KEYS: readonly string[] = ['version'];

/** Validates KV mount options: only `version`, '1' or '2'; missing means '1'. */
export function normaliseKvOptions(
  options: Readonly<Record<string, string>>,
): Record<string, string> & { version: KvVersion } {
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.includes(key)) {
      throw new CofferError('invalid_request', `options.${key}: unknown option for kv`, {
        field: `options.${key}`,
      });
    }
  }
  const version = options.version ?? '1';
  if (version !== '1' && version !== '2') {
    throw new CofferError('invalid_request', 'options.version: must be "1" or "2"', {
      field: 'options.version',
    });
  }
  return { version };
}

/** KV v1: one catch-all path over `entry/<key>`. */
export function createKv1Engine(): SecretEngine {
  return createPathEngine([pathKv1()]);
}

/**
 * KV v2. The engine owns the mount's KeyLocks, so concurrent writes to one key through this
 * engine are serialised (check-and-set cannot be won twice).
 */
export function createKv2Engine(): SecretEngine {
  const locks = new KeyLocks();
  const storeFor: StoreFor = (req) => new VersionedStore(req.storage, { locks, now: req.now });
  const engine = createPathEngine([
    pathConfig(storeFor),
    pathData(storeFor),
    pathMetadata(storeFor),
    ...pathVersionActions(storeFor),
    pathSubkeys(storeFor),
  ]);
  return { ...engine, secretPathOf: kv2SecretPath };
}

/** KV v2: a delete, undelete, destroy or metadata change is a change to `data/<key>`. */
export function kv2SecretPath(relativePath: string): string {
  const match = /^(data|delete|undelete|destroy|metadata|subkeys)\/(.*)$/.exec(relativePath);
  return match === null ? relativePath : `data/${match[2]!}`;
}

export const kvEngineFactory: EngineFactory = {
  type: 'kv',
  description: 'Key/value secret storage: unversioned (version 1) or versioned (version 2).',
  normaliseOptions: normaliseKvOptions,
  create(mount: MountInfo): SecretEngine {
    return normaliseKvOptions(mount.options).version === '2'
      ? createKv2Engine()
      : createKv1Engine();
  },
};
