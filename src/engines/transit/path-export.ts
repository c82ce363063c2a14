// Transit `export/:type/:name(/:version)`, `backup/:name` and `restore(/:name)`: key material
// leaves only for keys marked exportable (and, for backups, allow_plaintext_backup).
// SECURITY: these are the only paths that return key material; both switches are one-way.
import { CofferError, invalidField } from '../../sdk/errors.js';
import { isPlainObject, type JsonObject } from '../../sdk/json.js';
import { definePath, type PathSpec } from '../../sdk/path.js';
import { keyName, withOptionalSegment } from './common.js';
import {
  exportMaterial,
  isKeyType,
  loadKey,
  requireKey,
  saveKey,
  type ExportType,
  type TransitKey,
} from './key.js';

const EXPORT_TYPES: readonly ExportType[] = [
  'encryption-key',
  'signing-key',
  'hmac-key',
  'public-key',
];
const BACKUP_FORMAT = 'coffer-transit-backup-v1';

function isStoredKey(value: unknown): value is TransitKey {
  return (
    isPlainObject(value) &&
    typeof value.name === 'string' &&
    typeof value.type === 'string' &&
    isKeyType(value.type) &&
    typeof value.latestVersion === 'number' &&
    isPlainObject(value.versions)
  );
}

export function pathExport(): PathSpec[] {
  const exportPath = definePath({
    pattern: 'export/:type/:name',
    fields: {},
    operations: {
      async read(req, _f, params) {
        const type = params.type as ExportType;
        if (!EXPORT_TYPES.includes(type)) throw invalidField('type', 'invalid export type');
        const key = await requireKey(req.storage, keyName(params.name));
        if (!key.exportable && type !== 'public-key') {
          throw new CofferError('invalid_request', 'private key material is not exportable');
        }
        const wanted = params.version ?? '';
        const versions =
          wanted === ''
            ? Object.keys(key.versions)
            : [wanted === 'latest' ? String(key.latestVersion) : wanted];
        const keys: JsonObject = {};
        for (const v of versions) {
          const material = key.versions[v];
          if (material === undefined) throw invalidField('version', 'invalid key version');
          keys[v] = exportMaterial(key, material, type);
        }
        return { kind: 'data', data: { name: key.name, type: key.type, keys } };
      },
    },
    help: 'Exports key material of an exportable key (public keys of any signing key).',
  });

  const backup = definePath({
    pattern: 'backup/:name',
    fields: {},
    operations: {
      async read(req, _f, params) {
        const key = await requireKey(req.storage, keyName(params.name));
        if (!key.exportable)
          throw new CofferError('invalid_request', 'exporting is disallowed on the policy');
        if (!key.allowPlaintextBackup) {
          throw new CofferError('invalid_request', 'plaintext backup is disallowed on the policy');
        }
        const text = JSON.stringify({
          format: BACKUP_FORMAT,
          key,
          time: new Date(req.now()).toISOString(),
        });
        return { kind: 'data', data: { backup: Buffer.from(text).toString('base64') } };
      },
    },
    help: 'The whole key, every version, as one base64 value (needs exportable and allow_plaintext_backup).',
  });

  const restore = definePath({
    pattern: 'restore',
    fields: {
      backup: { type: 'string', description: 'A value from backup/:name.', required: true },
      force: { type: 'bool', description: 'Replace a key of the same name.' },
      name: { type: 'string', description: 'The name to restore as (default: the backed-up one).' },
    },
    operations: {
      async update(req, f, params) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(Buffer.from(f.backup ?? '', 'base64').toString('utf8'));
        } catch {
          throw invalidField('backup', 'is not a transit backup');
        }
        if (!isPlainObject(parsed) || parsed.format !== BACKUP_FORMAT || !isStoredKey(parsed.key)) {
          throw invalidField('backup', 'is not a transit backup');
        }
        const raw =
          params.name !== undefined && params.name !== ''
            ? params.name
            : (f.name ?? parsed.key.name);
        const name = keyName(raw);
        if (!f.force && (await loadKey(req.storage, name)) !== undefined) {
          throw new CofferError('invalid_request', `key "${name}" already exists`);
        }
        await saveKey(req.storage, { ...parsed.key, name });
        return { kind: 'empty' };
      },
    },
    help: 'Restores a backup, under its own name or the one in the path.',
  });

  return [
    ...withOptionalSegment(exportPath, ':version'),
    backup,
    ...withOptionalSegment(restore, ':name'),
  ];
}
