// KV v2 `delete/<key>`, `undelete/<key>` and `destroy/<key>`: soft-delete, restore or
// permanently remove the listed versions of a key.
import { CofferError } from '../../sdk/errors.js';
import type { EngineRequest, EngineResult } from '../../sdk/engine.js';
import type { FieldValues } from '../../sdk/fields.js';
import { definePath, type PathSpec } from '../../sdk/path.js';
import { validateKey, type VersionedStore } from '../../sdk/versioned-store.js';
import { onlyFields, type StoreFor } from './v2-common.js';

const FIELDS = {
  versions: {
    type: 'int-list',
    description: 'The version numbers to act on.',
  },
} as const;

type VersionAction = 'delete' | 'undelete' | 'destroy';

const HELP: Record<VersionAction, string> = {
  delete:
    'Marks the listed versions of the key deleted: reads of them answer 404 with their ' +
    'metadata until they are undeleted. Missing or destroyed versions are skipped.',
  undelete:
    'Restores the listed soft-deleted versions of the key (and cancels scheduled ' +
    'deletions). Destroyed versions cannot be restored.',
  destroy:
    'Permanently removes the data of the listed versions of the key. Their metadata stays, ' +
    'marked destroyed.',
};

async function apply(
  store: VersionedStore,
  action: VersionAction,
  key: string,
  versions: readonly number[],
): Promise<void> {
  switch (action) {
    case 'delete':
      await store.softDelete(key, versions);
      return;
    case 'undelete':
      await store.undelete(key, versions);
      return;
    case 'destroy':
      await store.destroy(key, versions);
      return;
  }
}

function versionPath(storeFor: StoreFor, action: VersionAction): PathSpec {
  async function handle(
    req: EngineRequest,
    fields: FieldValues<typeof FIELDS>,
    params: Readonly<Record<string, string>>,
  ): Promise<EngineResult> {
    onlyFields(req.data, ['versions']);
    const key = params.path ?? '';
    validateKey(key);
    const versions = fields.versions ?? [];
    if (versions.length === 0) {
      throw new CofferError('invalid_request', 'no version number provided', {
        field: 'versions',
      });
    }
    // A missing key is not an error (Vault answers 204).
    await apply(storeFor(req), action, key, versions);
    return { kind: 'empty' };
  }

  return definePath({
    pattern: `${action}/:path*`,
    fields: FIELDS,
    operations: { create: handle, update: handle },
    help: HELP[action],
  });
}

/** The three version-state paths, in routing order. */
export function pathVersionActions(storeFor: StoreFor): PathSpec[] {
  return [
    versionPath(storeFor, 'delete'),
    versionPath(storeFor, 'undelete'),
    versionPath(storeFor, 'destroy'),
  ];
}
