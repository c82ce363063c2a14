// Pieces shared by the KV v2 paths: the per-request store, Vault's renderings of times and of
// version metadata, and the checks that keep each operation to its own fields.
import { invalidField } from '../../sdk/errors.js';
import type { EngineRequest } from '../../sdk/engine.js';
import { parseInt64 } from '../../sdk/fields.js';
import { rfc3339Nano } from '../../sdk/text.js';
import type { JsonObject } from '../../sdk/json.js';
import {
  validateKey,
  type SecretMeta,
  type VersionRecord,
  type VersionedStore,
} from '../../sdk/versioned-store.js';

/** Builds the store for one request (its storage view and clock, the mount's shared locks). */
export type StoreFor = (req: EngineRequest) => VersionedStore;

/**
 * Epoch ms as Go's RFC3339Nano prints it (fraction without trailing zeros), or "" for
 * undefined, which is how Vault renders an unset time.
 */
export function formatTime(ms: number | undefined): string {
  return ms === undefined ? '' : rfc3339Nano(ms);
}

/** Vault stores custom_metadata as a protobuf map, so an empty one reads back as null. */
export function customMetadataJson(meta: SecretMeta): JsonObject | null {
  return Object.keys(meta.customMetadata).length === 0 ? null : { ...meta.customMetadata };
}

/** The per-version block of data reads, writes, patches and subkeys. */
export function versionMetadataJson(meta: SecretMeta, version: VersionRecord): JsonObject {
  return {
    created_time: formatTime(version.createdAt),
    custom_metadata: customMetadataJson(meta),
    deletion_time: formatTime(version.deletedAt),
    destroyed: version.state === 'destroyed',
    version: version.number,
  };
}

/**
 * Refuses fields the path knows but this operation does not use (a `version` on a write, a
 * `data` on a read): fail closed rather than silently ignore.
 */
export function onlyFields(
  data: Readonly<Record<string, unknown>>,
  allowed: readonly string[],
): void {
  for (const key of Object.keys(data)) {
    if (!allowed.includes(key)) throw invalidField(key, 'not accepted by this operation');
  }
}

/**
 * The `cas` of a data write's `options` (weakly decoded like Vault), or undefined. Unknown
 * options are refused.
 */
export function parseCasOption(options: JsonObject | undefined): number | undefined {
  if (options === undefined) return undefined;
  for (const key of Object.keys(options)) {
    if (key !== 'cas') throw invalidField(`options.${key}`, 'unknown option');
  }
  const raw = options.cas;
  if (raw === undefined || raw === null) return undefined;
  return parseInt64(raw, 'options.cas');
}

/** A non-negative integer query parameter such as `version` or `depth`; 0 when absent. */
export function nonNegative(value: number | undefined, field: string): number {
  if (value === undefined) return 0;
  if (value < 0) throw invalidField(field, 'must not be negative');
  return value;
}

/**
 * The existence check of data/ and metadata/: a key with metadata exists. A malformed key
 * does not exist here; the handler then rejects it with its own message.
 */
export function secretExists(storeFor: StoreFor) {
  return async (req: EngineRequest, params: Readonly<Record<string, string>>): Promise<boolean> => {
    const key = params.path ?? '';
    try {
      validateKey(key);
    } catch {
      return false;
    }
    return storeFor(req).exists(key);
  };
}
