// KV v2 `data/<key>`: read a version, write a new one (check-and-set), merge-patch the current
// one, soft-delete the current one.
import { CofferError } from '../../sdk/errors.js';
import type { EngineRequest, EngineResult } from '../../sdk/engine.js';
import { definePath, type PathSpec } from '../../sdk/path.js';
import type { FieldValues } from '../../sdk/fields.js';
import { mergePatchObject } from './merge-patch.js';
import { validateKey } from '../../sdk/versioned-store.js';
import {
  onlyFields,
  parseCasOption,
  secretExists,
  versionMetadataJson,
  type StoreFor,
} from './v2-common.js';

const FIELDS = {
  version: {
    type: 'int',
    description: 'On a read, the version to return; 0 or absent means the current version.',
  },
  data: {
    type: 'map',
    description: 'The contents of the new version (a write), or a JSON merge patch (a patch).',
  },
  options: {
    type: 'map',
    description:
      'Write options. "cas": the write succeeds only if the current version is this number ' +
      '(0: only if the key has no version yet).',
  },
} as const;

function noData(): CofferError {
  return new CofferError('invalid_request', 'no data provided', { field: 'data' });
}

export function pathData(storeFor: StoreFor): PathSpec {
  const spec = definePath({
    pattern: 'data/:path*',
    fields: FIELDS,
    operations: {
      async read(req, fields, params) {
        onlyFields(req.data, ['version']);
        const key = params.path ?? '';
        const which =
          fields.version !== undefined && fields.version > 0 ? fields.version : 'latest';
        const found = await storeFor(req).readVersion(key, which);
        if (found === undefined) throw new CofferError('not_found', 'secret not found');
        const metadata = versionMetadataJson(found.meta, found.version);
        if (found.value === undefined) {
          // Deleted, destroyed or disabled: Vault answers 404 with the metadata in the body.
          return { kind: 'data', absent: true, data: { data: null, metadata } };
        }
        return { kind: 'data', data: { data: found.value, metadata } };
      },
      create: write,
      update: write,
      async patch(req, fields, params) {
        onlyFields(req.data, ['data', 'options']);
        const key = params.path ?? '';
        validateKey(key);
        const patch = fields.data;
        if (patch === undefined) throw noData();
        const expectedCurrentVersion = parseCasOption(fields.options);
        const result = await storeFor(req).writeDerivedVersion(
          key,
          (current) => mergePatchObject(current, patch),
          expectedCurrentVersion === undefined ? {} : { expectedCurrentVersion },
        );
        switch (result.outcome) {
          case 'missing':
            throw new CofferError('not_found', 'secret not found');
          case 'unreadable':
            return {
              kind: 'data',
              absent: true,
              data: versionMetadataJson(result.meta, result.version),
            };
          case 'written':
            return { kind: 'data', data: versionMetadataJson(result.meta, result.version) };
        }
      },
      async delete(req, _fields, params) {
        onlyFields(req.data, []);
        await storeFor(req).softDelete(params.path ?? '', 'latest');
        return { kind: 'empty' };
      },
    },
    exists: secretExists(storeFor),
    help:
      'Reads, writes, patches and deletes versions of the secret at this path. Every write ' +
      'creates a new version; a read returns the current version unless "version" is given; ' +
      'a delete marks the current version deleted, which "undelete" reverses.',
  });

  async function write(
    req: EngineRequest,
    fields: FieldValues<typeof FIELDS>,
    params: Readonly<Record<string, string>>,
  ): Promise<EngineResult> {
    onlyFields(req.data, ['data', 'options']);
    const key = params.path ?? '';
    validateKey(key);
    if (fields.data === undefined) throw noData();
    const expectedCurrentVersion = parseCasOption(fields.options);
    const written = await storeFor(req).writeVersion(
      key,
      fields.data,
      expectedCurrentVersion === undefined ? {} : { expectedCurrentVersion },
    );
    return { kind: 'data', data: versionMetadataJson(written.meta, written.version) };
  }

  return spec;
}
