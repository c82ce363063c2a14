// Transit data operations with encryption keys: `encrypt/:name` (with Vault's upsert of a
// missing key on create), `decrypt/:name`, `rewrap/:name`, `datakey/:kind/:name`.
import { randomBytes } from 'node:crypto';
import { CofferError, invalidField } from '../../sdk/errors.js';
import type { EngineRequest } from '../../sdk/engine.js';
import type { FieldSpecs } from '../../sdk/fields.js';
import { definePath, type PathSpec } from '../../sdk/path.js';
import { base64Field, keyName, runBatch } from './common.js';
import {
  decrypt,
  encrypt,
  loadKey,
  requireKey,
  versionForWriting,
  type TransitKey,
} from './key.js';
import { createKey } from './path-keys.js';

const CONTEXT = { type: 'string', description: 'Base64 context for derived keys.' } as const;
const NONCE = {
  type: 'string',
  description: 'Not allowed (convergent version 3 derives it).',
} as const;
const AAD = { type: 'string', description: 'Base64 associated data (AEAD keys).' } as const;
const VERSION = { type: 'int', description: 'Key version to use; 0 = latest.' } as const;

const ENCRYPT_ITEM = {
  plaintext: { type: 'string', description: 'Base64 plaintext.' },
  context: CONTEXT,
  nonce: NONCE,
  key_version: VERSION,
  associated_data: AAD,
} as const satisfies FieldSpecs;

const DECRYPT_ITEM = {
  ciphertext: { type: 'string', description: 'A vault:v<N>: ciphertext.' },
  context: CONTEXT,
  nonce: NONCE,
  associated_data: AAD,
} as const satisfies FieldSpecs;

const BATCH = {
  type: 'any',
  description: 'A list of items; results come in batch_results.',
} as const;
const REFERENCE = { type: 'string', description: 'Echoed back in the result.' } as const;

function str(item: Record<string, unknown>, key: string): string | undefined {
  const v = item[key];
  return typeof v === 'string' ? v : undefined;
}

function encryptOne(key: TransitKey, item: Record<string, unknown>) {
  const plaintext = base64Field(str(item, 'plaintext'), 'plaintext');
  if (plaintext === undefined) throw invalidField('plaintext', 'is required');
  const version = versionForWriting(
    key,
    typeof item.key_version === 'number' ? item.key_version : 0,
  );
  const ciphertext = encrypt(key, version, plaintext, {
    context: base64Field(str(item, 'context'), 'context'),
    nonce: base64Field(str(item, 'nonce'), 'nonce'),
    associatedData: base64Field(str(item, 'associated_data'), 'associated_data'),
  });
  return { ciphertext, key_version: version };
}

function decryptOne(key: TransitKey, item: Record<string, unknown>) {
  const ciphertext = str(item, 'ciphertext');
  if (ciphertext === undefined || ciphertext === '')
    throw invalidField('ciphertext', 'is required');
  return decrypt(key, ciphertext, {
    context: base64Field(str(item, 'context'), 'context'),
    associatedData: base64Field(str(item, 'associated_data'), 'associated_data'),
  });
}

async function keyForEncrypt(
  req: EngineRequest,
  name: string,
  f: {
    type?: string | undefined;
    convergent_encryption?: boolean | undefined;
    context?: string | undefined;
    batch_input?: unknown;
  },
): Promise<TransitKey> {
  const found = await loadKey(req.storage, name);
  if (found !== undefined) return found;
  // As Vault: with the create capability (the core asked for it, the key being absent) a
  // missing key is made; derived when a context comes along.
  if (req.operation !== 'create')
    throw new CofferError('invalid_request', 'encryption key not found');
  const batchHasContext =
    Array.isArray(f.batch_input) &&
    f.batch_input.some((i) => typeof i === 'object' && i !== null && 'context' in i);
  const derived = (f.context !== undefined && f.context !== '') || batchHasContext;
  return createKey(req, name, {
    type: f.type,
    derived,
    convergent: f.convergent_encryption,
  });
}

export function pathCrypto(): PathSpec[] {
  const encryptPath = definePath({
    pattern: 'encrypt/:name',
    fields: {
      ...ENCRYPT_ITEM,
      reference: REFERENCE,
      batch_input: BATCH,
      type: { type: 'string', description: 'Type of a key created by this request.' },
      convergent_encryption: { type: 'bool', description: 'For a key created by this request.' },
    },
    exists: async (req, params) => (await loadKey(req.storage, keyName(params.name))) !== undefined,
    operations: {
      async update(req, f, params) {
        const key = await keyForEncrypt(req, keyName(params.name), f);
        const data = await runBatch(f.batch_input, ENCRYPT_ITEM, { ...f }, (item) =>
          Promise.resolve(encryptOne(key, item)),
        );
        return { kind: 'data', data };
      },
    },
    help: 'Encrypts base64 plaintext with the named key; answers vault:v<N>:<base64>.',
  });

  const decryptPath = definePath({
    pattern: 'decrypt/:name',
    fields: { ...DECRYPT_ITEM, reference: REFERENCE, batch_input: BATCH },
    operations: {
      async update(req, f, params) {
        const key = await requireKey(req.storage, keyName(params.name));
        const data = await runBatch(f.batch_input, DECRYPT_ITEM, { ...f }, (item) => {
          const { plaintext } = decryptOne(key, item);
          return Promise.resolve({ plaintext: plaintext.toString('base64') });
        });
        return { kind: 'data', data };
      },
    },
    help: 'Decrypts a vault:v<N>: ciphertext; versions below min_decryption_version are refused.',
  });

  const rewrapPath = definePath({
    pattern: 'rewrap/:name',
    fields: { ...DECRYPT_ITEM, key_version: VERSION, reference: REFERENCE, batch_input: BATCH },
    operations: {
      async update(req, f, params) {
        const key = await requireKey(req.storage, keyName(params.name));
        const item = { ...DECRYPT_ITEM, key_version: VERSION };
        const data = await runBatch(f.batch_input, item, { ...f }, (one) => {
          const { plaintext } = decryptOne(key, one);
          return Promise.resolve(
            encryptOne(key, { ...one, plaintext: plaintext.toString('base64') }),
          );
        });
        return { kind: 'data', data };
      },
    },
    help: 'Decrypts and encrypts again with the latest (or key_version) version; the plaintext never leaves.',
  });

  const datakeyPath = definePath({
    pattern: 'datakey/:kind/:name',
    fields: {
      bits: { type: 'int', description: '128, 256 (default) or 512.' },
      context: CONTEXT,
      nonce: NONCE,
      key_version: VERSION,
    },
    operations: {
      async update(req, f, params) {
        const kind = params.kind;
        if (kind !== 'plaintext' && kind !== 'wrapped') {
          throw invalidField('type', 'must be "plaintext" or "wrapped"');
        }
        const bits = f.bits ?? 256;
        if (bits !== 128 && bits !== 256 && bits !== 512) {
          throw invalidField('bits', 'must be 128, 256 or 512');
        }
        const key = await requireKey(req.storage, keyName(params.name));
        const dataKey = randomBytes(bits / 8);
        const { ciphertext, key_version } = encryptOne(key, {
          plaintext: dataKey.toString('base64'),
          ...(f.context === undefined ? {} : { context: f.context }),
          ...(f.nonce === undefined ? {} : { nonce: f.nonce }),
          ...(f.key_version === undefined ? {} : { key_version: f.key_version }),
        });
        return {
          kind: 'data',
          data: {
            ciphertext,
            key_version,
            ...(kind === 'plaintext' ? { plaintext: dataKey.toString('base64') } : {}),
          },
        };
      },
    },
    help: 'A new random data key encrypted under the named key (and in plaintext, for "plaintext").',
  });

  return [encryptPath, decryptPath, rewrapPath, datakeyPath];
}
