// KV v1 (Vault's unversioned "passthrough" store): `<key>` read, write, delete and folder list.
//
// Storage layout (relative to the mount's view; an irreversible format):
//   entry/<key>   JSON object: the body last written to <key>, stored as-is.
import { parseDurationSeconds } from '../../sdk/duration.js';
import { CofferError, invalidField } from '../../sdk/errors.js';
import { isPlainObject, type JsonObject, type JsonValue } from '../../sdk/json.js';
import { definePath, type PathSpec } from '../../sdk/path.js';
import { getJson, putJson } from '../../sdk/storage.js';
import { listFolder, validateKey } from '../../sdk/versioned-store.js';

/** Storage prefix owned by this module. */
export const KV1_ENTRY_PREFIX = 'entry/';

function entryKey(key: string): string {
  return `${KV1_ENTRY_PREFIX}${key}`;
}

function isJsonValue(value: unknown, depth = 0): value is JsonValue {
  if (depth > 512) return false;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every((item) => isJsonValue(item, depth + 1));
  if (!isPlainObject(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  return Object.values(value).every((v) => isJsonValue(v, depth + 1));
}

/** The request body as a JSON object; anything that is not plain JSON is refused. */
function bodyAsJson(data: Readonly<Record<string, unknown>>): JsonObject {
  const out: [string, JsonValue][] = [];
  for (const [name, value] of Object.entries(data)) {
    if (!isJsonValue(value)) throw invalidField(name, 'must be a JSON value');
    out.push([name, value]);
  }
  return Object.fromEntries(out);
}

/**
 * The lease duration a read advertises: the entry's own `ttl` (or legacy `lease`) when it
 * parses as a duration, else the mount's default. Seconds.
 */
export function kv1LeaseSeconds(entry: JsonObject, defaultSeconds: number): number {
  const raw = Object.hasOwn(entry, 'ttl') ? entry.ttl : entry.lease;
  if (raw === undefined) return defaultSeconds;
  try {
    return parseDurationSeconds(raw, 'ttl');
  } catch {
    return defaultSeconds;
  }
}

export function pathKv1(): PathSpec {
  return definePath({
    pattern: ':path*',
    fields: {},
    arbitraryFields: true,
    operations: {
      async read(req, _fields, params) {
        const key = params.path ?? '';
        if (key === '') throw new CofferError('not_found', 'secret not found');
        validateKey(key);
        const entry = await getJson<JsonObject>(req.storage, entryKey(key));
        if (entry === undefined) throw new CofferError('not_found', 'secret not found');
        return {
          kind: 'data',
          data: entry,
          leaseDurationSeconds: kv1LeaseSeconds(entry, req.mount.config.defaultLeaseTtlSeconds),
        };
      },
      async create(req, _fields, params) {
        const key = params.path ?? '';
        validateKey(key);
        await putJson(req.storage, entryKey(key), bodyAsJson(req.data));
        return { kind: 'empty' };
      },
      async update(req, _fields, params) {
        const key = params.path ?? '';
        validateKey(key);
        await putJson(req.storage, entryKey(key), bodyAsJson(req.data));
        return { kind: 'empty' };
      },
      async delete(req, _fields, params) {
        const key = params.path ?? '';
        validateKey(key);
        await req.storage.delete(entryKey(key));
        return { kind: 'empty' };
      },
      async list(req, _fields, params) {
        const folder = listFolder(params.path ?? '');
        const keys = await req.storage.list(entryKey(folder));
        if (keys.length === 0) throw new CofferError('not_found', 'no keys in this folder');
        return { kind: 'data', data: { keys } };
      },
    },
    async exists(req, params) {
      const key = params.path ?? '';
      try {
        validateKey(key);
      } catch {
        return false;
      }
      return (await req.storage.get(entryKey(key))) !== undefined;
    },
    help:
      'Reads, writes, deletes and lists unversioned secrets. A write stores the request body ' +
      'as-is and replaces the previous value. A "ttl" key in the data sets the lease ' +
      'duration that reads advertise (a hint for clients to re-read; nothing expires).',
  });
}
