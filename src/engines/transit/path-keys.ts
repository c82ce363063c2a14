// Transit `keys/`: create, read, list, delete a named key; `keys/:name/config` (minimum
// versions, deletion and export switches) and `keys/:name/rotate`.
import { CofferError, invalidField } from '../../sdk/errors.js';
import type { EngineRequest } from '../../sdk/engine.js';
import type { JsonObject } from '../../sdk/json.js';
import { definePath, type PathSpec } from '../../sdk/path.js';
import { pathNameList } from '../../sdk/record-paths.js';
import { keyName } from './common.js';
import {
  isKeyType,
  loadKey,
  newVersion,
  publicKeyOf,
  requireKey,
  saveKey,
  supportsDerivation,
  supportsEncryption,
  supportsSigning,
  type KeyType,
  type TransitKey,
} from './key.js';
import { KEY_PREFIX, keyRecordKey } from './keys.js';

const MIN_AUTO_ROTATE_SECONDS = 3600;

/** Vault's read shape. SECURITY: public keys only, never private or symmetric material. */
export function renderKey(key: TransitKey): JsonObject {
  const keys: JsonObject = {};
  for (const [v, material] of Object.entries(key.versions)) {
    keys[v] = supportsSigning(key.type)
      ? {
          name: key.type.startsWith('rsa-') ? key.type : key.type.replace('ecdsa-', ''),
          public_key: publicKeyOf(key, material),
          creation_time: new Date(material.creationTime * 1000).toISOString(),
        }
      : material.creationTime;
  }
  return {
    name: key.name,
    type: key.type,
    derived: key.derived,
    ...(key.derived
      ? {
          kdf: 'hkdf_sha256',
          convergent_encryption: key.convergent,
          ...(key.convergent ? { convergent_encryption_version: 3 } : {}),
        }
      : {}),
    deletion_allowed: key.deletionAllowed,
    exportable: key.exportable,
    allow_plaintext_backup: key.allowPlaintextBackup,
    min_available_version: 0,
    min_decryption_version: key.minDecryptionVersion,
    min_encryption_version: key.minEncryptionVersion,
    latest_version: key.latestVersion,
    supports_encryption: supportsEncryption(key.type),
    supports_decryption: supportsEncryption(key.type),
    supports_signing: supportsSigning(key.type),
    supports_derivation: supportsDerivation(key.type),
    auto_rotate_period: key.autoRotatePeriodSeconds,
    imported_key: false,
    ...(key.keySize === undefined ? {} : { key_size: key.keySize }),
    keys,
  };
}

export interface NewKeyOptions {
  readonly type?: string | undefined;
  readonly derived?: boolean | undefined;
  readonly convergent?: boolean | undefined;
  readonly exportable?: boolean | undefined;
  readonly allowPlaintextBackup?: boolean | undefined;
  readonly autoRotatePeriodSeconds?: number | undefined;
  readonly keySize?: number | undefined;
}

/** Creates a key (version 1); also used by encrypt's upsert. */
export async function createKey(
  req: EngineRequest,
  name: string,
  o: NewKeyOptions,
): Promise<TransitKey> {
  const typeText = o.type ?? 'aes256-gcm96';
  if (!isKeyType(typeText)) throw invalidField('type', `unknown key type "${typeText}"`);
  const type: KeyType = typeText;
  const derived = o.derived ?? false;
  const convergent = o.convergent ?? false;
  if (derived && !supportsDerivation(type)) {
    throw invalidField('derived', `key derivation is not supported for ${type} keys`);
  }
  if (convergent && !derived) {
    throw invalidField(
      'convergent_encryption',
      'convergent encryption requires derivation to be enabled',
    );
  }
  const period = o.autoRotatePeriodSeconds ?? 0;
  if (period !== 0 && period < MIN_AUTO_ROTATE_SECONDS) {
    throw invalidField('auto_rotate_period', 'must be 0 or at least one hour');
  }
  if (o.keySize !== undefined && (type !== 'hmac' || o.keySize < 32 || o.keySize > 512)) {
    throw invalidField('key_size', 'is for hmac keys only, 32 to 512 bytes');
  }
  const nowSeconds = Math.floor(req.now() / 1000);
  const key: TransitKey = {
    name,
    type,
    derived,
    convergent,
    exportable: o.exportable ?? false,
    allowPlaintextBackup: o.allowPlaintextBackup ?? false,
    deletionAllowed: false,
    minDecryptionVersion: 1,
    minEncryptionVersion: 0,
    latestVersion: 1,
    autoRotatePeriodSeconds: period,
    ...(type === 'hmac' ? { keySize: o.keySize ?? 32 } : {}),
    versions: { '1': newVersion(type, nowSeconds, o.keySize) },
  };
  await saveKey(req.storage, key);
  return key;
}

export function pathKeys(): PathSpec[] {
  const list = pathNameList({
    pattern: 'keys',
    prefix: KEY_PREFIX,
    noun: 'keys',
    help: 'Lists the named keys.',
  });

  const key = definePath({
    pattern: 'keys/:name',
    fields: {
      type: { type: 'string', description: 'Key type; default aes256-gcm96.' },
      derived: { type: 'bool', description: 'Derive a key per context (HKDF-SHA256).' },
      convergent_encryption: {
        type: 'bool',
        description: 'Equal plaintexts under one context give equal ciphertexts (needs derived).',
      },
      exportable: { type: 'bool', description: 'Allow export (cannot be undone).' },
      allow_plaintext_backup: { type: 'bool', description: 'Allow backup (cannot be undone).' },
      auto_rotate_period: { type: 'duration', description: 'Stored; 0 or at least 1h.' },
      key_size: { type: 'int', description: 'hmac keys: bytes, 32 to 512.' },
      context: { type: 'string', description: 'Accepted on reads for compatibility.' },
    },
    exists: async (req, params) => (await loadKey(req.storage, keyName(params.name))) !== undefined,
    operations: {
      async read(req, _f, params) {
        const found = await loadKey(req.storage, keyName(params.name));
        if (found === undefined) throw new CofferError('not_found', 'key not found');
        return { kind: 'data', data: renderKey(found) };
      },
      async update(req, f, params) {
        const name = keyName(params.name);
        const existing = await loadKey(req.storage, name);
        if (existing !== undefined) return { kind: 'data', data: renderKey(existing) };
        const created = await createKey(req, name, {
          type: f.type,
          derived: f.derived,
          convergent: f.convergent_encryption,
          exportable: f.exportable,
          allowPlaintextBackup: f.allow_plaintext_backup,
          autoRotatePeriodSeconds: f.auto_rotate_period,
          keySize: f.key_size,
        });
        return { kind: 'data', data: renderKey(created) };
      },
      async delete(req, _f, params) {
        const name = keyName(params.name);
        const found = await loadKey(req.storage, name);
        if (found === undefined) return { kind: 'empty' };
        // SECURITY: deleting a key destroys every ciphertext under it; Vault's switch guards it.
        if (!found.deletionAllowed) {
          throw new CofferError('invalid_request', 'deletion is not allowed for this key');
        }
        await req.storage.delete(keyRecordKey(name));
        return { kind: 'empty' };
      },
    },
    help: 'Creates (POST), reads (GET) or deletes (DELETE, needs deletion_allowed) a named key.',
  });

  const config = definePath({
    pattern: 'keys/:name/config',
    fields: {
      min_decryption_version: {
        type: 'int',
        description: 'Oldest version that may decrypt, sign-verify or HMAC-verify.',
      },
      min_encryption_version: {
        type: 'int',
        description: 'Oldest version encrypt may use; 0 = latest.',
      },
      deletion_allowed: { type: 'bool', description: 'Whether DELETE keys/:name is allowed.' },
      exportable: { type: 'bool', description: 'Allow export; cannot be unset.' },
      allow_plaintext_backup: { type: 'bool', description: 'Allow backup; cannot be unset.' },
      auto_rotate_period: { type: 'duration', description: 'Stored; 0 or at least 1h.' },
    },
    operations: {
      async update(req, f, params) {
        const current = await requireKey(req.storage, keyName(params.name));
        const minDec = f.min_decryption_version ?? current.minDecryptionVersion;
        const minEnc = f.min_encryption_version ?? current.minEncryptionVersion;
        if (minDec < 0) throw invalidField('min_decryption_version', 'cannot be negative');
        const effectiveDec = minDec === 0 ? 1 : minDec;
        if (effectiveDec > current.latestVersion) {
          throw invalidField('min_decryption_version', 'cannot be larger than the latest version');
        }
        if (minEnc < 0 || minEnc > current.latestVersion) {
          throw invalidField('min_encryption_version', 'must be 0 or at most the latest version');
        }
        if (minEnc !== 0 && minEnc < effectiveDec) {
          throw invalidField(
            'min_encryption_version',
            'must be 0 or at least min_decryption_version',
          );
        }
        if (f.exportable === false && current.exportable) {
          throw invalidField('exportable', 'cannot be disabled once enabled');
        }
        if (f.allow_plaintext_backup === false && current.allowPlaintextBackup) {
          throw invalidField('allow_plaintext_backup', 'cannot be disabled once enabled');
        }
        const period = f.auto_rotate_period ?? current.autoRotatePeriodSeconds;
        if (period !== 0 && period < MIN_AUTO_ROTATE_SECONDS) {
          throw invalidField('auto_rotate_period', 'must be 0 or at least one hour');
        }
        const updated: TransitKey = {
          ...current,
          minDecryptionVersion: effectiveDec,
          minEncryptionVersion: minEnc,
          deletionAllowed: f.deletion_allowed ?? current.deletionAllowed,
          exportable: f.exportable ?? current.exportable,
          allowPlaintextBackup: f.allow_plaintext_backup ?? current.allowPlaintextBackup,
          autoRotatePeriodSeconds: period,
        };
        await saveKey(req.storage, updated);
        return { kind: 'data', data: renderKey(updated) };
      },
    },
    help: 'Changes a key: minimum versions, deletion and export switches.',
  });

  const rotate = definePath({
    pattern: 'keys/:name/rotate',
    fields: {},
    operations: {
      async update(req, _f, params) {
        const current = await requireKey(req.storage, keyName(params.name));
        const version = current.latestVersion + 1;
        const updated: TransitKey = {
          ...current,
          latestVersion: version,
          versions: {
            ...current.versions,
            [String(version)]: newVersion(
              current.type,
              Math.floor(req.now() / 1000),
              current.keySize,
            ),
          },
        };
        await saveKey(req.storage, updated);
        return { kind: 'data', data: renderKey(updated) };
      },
    },
    help: 'Adds a new key version; later encryptions use it, older ciphertexts still decrypt.',
  });

  return [list, config, rotate, key];
}
