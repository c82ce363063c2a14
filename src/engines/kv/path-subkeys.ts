// KV v2 `subkeys/<key>`: the structure of a version's data with every value replaced by null,
// so a caller can see which keys exist without reading any secret.
import { CofferError } from '../../sdk/errors.js';
import { isPlainObject, type JsonObject } from '../../sdk/json.js';
import { definePath, type PathSpec } from '../../sdk/path.js';
import { nonNegative, onlyFields, versionMetadataJson, type StoreFor } from './v2-common.js';

/** Vault's hard ceiling on nesting, whatever `depth` says. */
export const MAX_SUBKEYS_DEPTH = 100;

const FIELDS = {
  version: {
    type: 'int',
    description: 'The version to describe; 0 or absent means the current version.',
  },
  depth: {
    type: 'int',
    description:
      'The deepest level to show (top-level keys are level 1); deeper objects become null. ' +
      '0 means no limit.',
  },
} as const;

/**
 * Replaces every leaf with null. Non-empty objects above `depth` are walked; empty objects and
 * objects at `depth` become null. SECURITY: the result is built fresh, so no value is carried
 * over from the input.
 */
export function subkeys(data: JsonObject, depth: number): JsonObject {
  const limit = depth === 0 ? MAX_SUBKEYS_DEPTH : Math.min(depth, MAX_SUBKEYS_DEPTH);
  const walk = (node: JsonObject, level: number): JsonObject =>
    Object.fromEntries(
      Object.entries(node).map(([name, value]) => [
        name,
        isPlainObject(value) && Object.keys(value).length > 0 && level < limit
          ? walk(value, level + 1)
          : null,
      ]),
    );
  return walk(data, 1);
}

export function pathSubkeys(storeFor: StoreFor): PathSpec {
  return definePath({
    pattern: 'subkeys/:path*',
    fields: FIELDS,
    operations: {
      async read(req, fields, params) {
        onlyFields(req.data, ['version', 'depth']);
        const depth = nonNegative(fields.depth, 'depth');
        const which =
          fields.version !== undefined && fields.version > 0 ? fields.version : 'latest';
        const found = await storeFor(req).readVersion(params.path ?? '', which);
        if (found === undefined) throw new CofferError('not_found', 'secret not found');
        const metadata = versionMetadataJson(found.meta, found.version);
        if (found.value === undefined) {
          return { kind: 'data', absent: true, data: { subkeys: null, metadata } };
        }
        return { kind: 'data', data: { subkeys: subkeys(found.value, depth), metadata } };
      },
    },
    help:
      'Returns the keys of a version of the secret, nested as stored, with every value ' +
      'replaced by null. "version" selects the version; "depth" limits the nesting shown.',
  });
}
