// KV v2 `metadata/<key>`: read a key's settings and version table, list folders, write or
// merge-patch settings (max_versions, cas_required, delete_version_after, custom_metadata),
// and delete a key with every version.
import { formatGoDuration } from '../../sdk/duration.js';
import { CofferError, invalidField } from '../../sdk/errors.js';
import type { EngineRequest, EngineResult } from '../../sdk/engine.js';
import type { FieldValues } from '../../sdk/fields.js';
import type { JsonObject } from '../../sdk/json.js';
import { definePath, type PathSpec } from '../../sdk/path.js';
import {
  listFolder,
  validateKey,
  type MetaPatch,
  type SecretMeta,
} from '../../sdk/versioned-store.js';
import {
  customMetadataJson,
  formatTime,
  onlyFields,
  secretExists,
  type StoreFor,
} from './v2-common.js';

/** Vault's limits on custom_metadata (bytes are UTF-8 bytes, as Go's len). */
export const CUSTOM_METADATA_LIMITS = Object.freeze({
  maxKeys: 64,
  maxKeyBytes: 128,
  maxValueBytes: 512,
});

const SETTINGS = ['max_versions', 'cas_required', 'delete_version_after', 'custom_metadata'];

const FIELDS = {
  max_versions: {
    type: 'int',
    description:
      'Versions to keep for this key; 0 uses the mount setting. The larger of the two applies.',
  },
  cas_required: {
    type: 'bool',
    description: 'If true, every write to this key must give the "cas" option.',
  },
  delete_version_after: {
    type: 'duration',
    description:
      'Time after which each new version reads as deleted; "0s" clears it. The mount ' +
      'setting wins when it is shorter.',
  },
  custom_metadata: {
    type: 'map',
    description:
      'User-supplied string pairs describing the key (at most 64; keys up to 128 bytes, values ' +
      'up to 512 bytes). In a patch, a null value removes that pair.',
  },
  after: { type: 'string', description: 'On a list, only return keys sorted after this one.' },
  limit: { type: 'int', description: 'On a list, return at most this many keys.' },
} as const;

type Fields = FieldValues<typeof FIELDS>;

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]*$/u;

function customMetadataError(why: string): CofferError {
  return new CofferError('invalid_request', `custom_metadata validation failed: ${why}`, {
    field: 'custom_metadata',
  });
}

/**
 * Checks custom_metadata against Vault's limits. SECURITY: messages give lengths, never the
 * keys or values themselves.
 */
export function validateCustomMetadata(pairs: Readonly<Record<string, string>>): void {
  const { maxKeys, maxKeyBytes, maxValueBytes } = CUSTOM_METADATA_LIMITS;
  const count = Object.keys(pairs).length;
  if (count > maxKeys) {
    throw customMetadataError(`payload must contain at most ${maxKeys} keys, provided ${count}`);
  }
  for (const [key, value] of Object.entries(pairs)) {
    const keyBytes = Buffer.byteLength(key, 'utf8');
    if (keyBytes === 0 || keyBytes > maxKeyBytes) {
      throw customMetadataError(
        `length of a key is ${keyBytes} but must be 0 < len(key) <= ${maxKeyBytes}`,
      );
    }
    const valueBytes = Buffer.byteLength(value, 'utf8');
    if (valueBytes === 0 || valueBytes > maxValueBytes) {
      throw customMetadataError(
        `length of a value is ${valueBytes} but must be 0 < len(value) <= ${maxValueBytes}`,
      );
    }
    if (!PRINTABLE.test(key)) throw customMetadataError('a key contains unprintable characters');
    if (!PRINTABLE.test(value)) {
      throw customMetadataError('a value contains unprintable characters');
    }
  }
}

/**
 * Decodes custom_metadata values to strings as Go's weak decoding does. In a patch, null
 * values are kept apart (they delete); in a write they decode to "" (and fail validation).
 */
function decodeCustomMetadata(
  raw: JsonObject,
  isPatch: boolean,
): { readonly set: Record<string, string>; readonly remove: string[] } {
  const set: [string, string][] = [];
  const remove: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    if (value === null) {
      if (isPatch) remove.push(key);
      else set.push([key, '']);
    } else if (typeof value === 'string') set.push([key, value]);
    else if (typeof value === 'number' || typeof value === 'boolean')
      set.push([key, String(value)]);
    else throw customMetadataError('values must be strings');
  }
  return { set: Object.fromEntries(set), remove };
}

function settingsGiven(fields: Fields): boolean {
  return (
    fields.max_versions !== undefined ||
    fields.cas_required !== undefined ||
    fields.delete_version_after !== undefined ||
    fields.custom_metadata !== undefined
  );
}

/** The patch for the plain settings (everything but custom_metadata). */
function settingsPatch(fields: Fields): MetaPatch {
  return {
    ...(fields.max_versions === undefined ? {} : { maxVersions: fields.max_versions }),
    ...(fields.cas_required === undefined ? {} : { casRequired: fields.cas_required }),
    ...(fields.delete_version_after === undefined
      ? {}
      : { deleteVersionAfterSeconds: fields.delete_version_after }),
  };
}

/** Vault warns (and keeps writing) when a key turns cas off under a mount that requires it. */
async function casWarning(
  storeFor: StoreFor,
  req: EngineRequest,
  fields: Fields,
): Promise<EngineResult> {
  if (fields.cas_required === false && (await storeFor(req).readConfig()).casRequired) {
    return {
      kind: 'empty',
      warnings: [
        '"cas_required" set to false, but is mandated by backend config. This value will be ignored.',
      ],
    };
  }
  return { kind: 'empty' };
}

/** Vault's metadata read shape. */
export function metadataJson(meta: SecretMeta): JsonObject {
  const versions: JsonObject = {};
  for (const v of Object.values(meta.versions)) {
    versions[String(v.number)] = {
      created_time: formatTime(v.createdAt),
      deletion_time: formatTime(v.deletedAt),
      destroyed: v.state === 'destroyed',
    };
  }
  return {
    cas_required: meta.casRequired,
    created_time: formatTime(meta.createdAt),
    current_version: meta.currentVersion,
    custom_metadata: customMetadataJson(meta),
    delete_version_after: formatGoDuration(meta.deleteVersionAfterSeconds),
    max_versions: meta.maxVersions,
    oldest_version: meta.oldestVersion,
    updated_time: formatTime(meta.updatedAt),
    versions,
  };
}

export function pathMetadata(storeFor: StoreFor): PathSpec {
  return definePath({
    pattern: 'metadata/:path*',
    fields: FIELDS,
    operations: {
      async read(req, _fields, params) {
        onlyFields(req.data, []);
        const meta = await storeFor(req).readMeta(params.path ?? '');
        if (meta === undefined) throw new CofferError('not_found', 'secret not found');
        return { kind: 'data', data: metadataJson(meta) };
      },
      async list(req, fields, params) {
        onlyFields(req.data, ['after', 'limit']);
        const folder = listFolder(params.path ?? '');
        if (fields.limit !== undefined && fields.limit < 0) {
          throw invalidField('limit', 'must not be negative');
        }
        let keys = await storeFor(req).listChildren(folder);
        const after = fields.after;
        if (after !== undefined && after !== '') keys = keys.filter((k) => k > after);
        if (fields.limit !== undefined && fields.limit > 0) keys = keys.slice(0, fields.limit);
        if (keys.length === 0) throw new CofferError('not_found', 'no keys in this folder');
        return { kind: 'data', data: { keys } };
      },
      create: write,
      update: write,
      async patch(req, fields, params) {
        onlyFields(req.data, SETTINGS);
        const key = params.path ?? '';
        validateKey(key);
        const custom =
          fields.custom_metadata === undefined
            ? undefined
            : decodeCustomMetadata(fields.custom_metadata, true);
        if (custom !== undefined) validateCustomMetadata(custom.set);
        const updated = await storeFor(req).updateMeta(
          key,
          (current): MetaPatch => {
            if (custom === undefined) return settingsPatch(fields);
            const merged = Object.fromEntries(
              Object.entries({ ...current.customMetadata, ...custom.set }).filter(
                ([k]) => !custom.remove.includes(k),
              ),
            );
            validateCustomMetadata(merged);
            return { ...settingsPatch(fields), customMetadata: merged };
          },
          { createIfMissing: false },
        );
        if (updated === undefined) throw new CofferError('not_found', 'secret not found');
        return casWarning(storeFor, req, fields);
      },
      async delete(req, _fields, params) {
        onlyFields(req.data, []);
        await storeFor(req).deleteAll(params.path ?? '');
        return { kind: 'empty' };
      },
    },
    exists: secretExists(storeFor),
    help:
      'Reads the settings and version history of a key, lists the keys of a folder, writes ' +
      'or patches the per-key settings, or permanently deletes a key with all its versions.',
  });

  async function write(
    req: EngineRequest,
    fields: Fields,
    params: Readonly<Record<string, string>>,
  ): Promise<EngineResult> {
    onlyFields(req.data, SETTINGS);
    const key = params.path ?? '';
    validateKey(key);
    // Vault: a write with no setting changes nothing (and creates nothing).
    if (!settingsGiven(fields)) return { kind: 'empty' };
    let patch = settingsPatch(fields);
    if (fields.custom_metadata !== undefined) {
      const custom = decodeCustomMetadata(fields.custom_metadata, false);
      validateCustomMetadata(custom.set);
      patch = { ...patch, customMetadata: custom.set };
    }
    await storeFor(req).updateMeta(key, patch, { createIfMissing: true });
    return casWarning(storeFor, req, fields);
  }
}
