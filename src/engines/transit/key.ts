// A transit key (Vault's "policy"): its versions of key material, its settings, and every
// cryptographic operation on it, all through node:crypto. Owns the stored form.
// SECURITY: key material lives only in the stored record (under the barrier) and in memory
// for one request; it is never in an error message, a log line or a rendered read.
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  hkdfSync,
  privateDecrypt,
  privateEncrypt,
  publicDecrypt,
  publicEncrypt,
  randomBytes,
  sign as cryptoSign,
  verify as cryptoVerify,
  constants,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import { CofferError, invalidField } from '../../sdk/errors.js';
import { getJson, putJson, type Storage } from '../../sdk/storage.js';
import { keyRecordKey } from './keys.js';

export const KEY_TYPES = [
  'aes128-gcm96',
  'aes256-gcm96',
  'chacha20-poly1305',
  'ed25519',
  'ecdsa-p256',
  'ecdsa-p384',
  'rsa-2048',
  'rsa-3072',
  'rsa-4096',
  'hmac',
] as const;
export type KeyType = (typeof KEY_TYPES)[number];

export function isKeyType(value: string): value is KeyType {
  return (KEY_TYPES as readonly string[]).includes(value);
}

/** One version of the key material. Binary values are standard base64. */
export interface KeyVersion {
  /** Symmetric key (AEAD types and hmac). */
  readonly key?: string;
  /** PKCS#8 PEM of the private key (asymmetric types). */
  readonly privatePem?: string;
  /** Every version also has an HMAC key, used by `hmac/` (for type hmac it is the key). */
  readonly hmacKey: string;
  /** Epoch seconds. */
  readonly creationTime: number;
}

/** The stored form (one JSON entry per key name). */
export interface TransitKey {
  readonly name: string;
  readonly type: KeyType;
  readonly derived: boolean;
  readonly convergent: boolean;
  readonly exportable: boolean;
  readonly allowPlaintextBackup: boolean;
  readonly deletionAllowed: boolean;
  readonly minDecryptionVersion: number;
  /** 0 = the latest. */
  readonly minEncryptionVersion: number;
  readonly latestVersion: number;
  readonly autoRotatePeriodSeconds: number;
  /** Bytes, for type hmac. */
  readonly keySize?: number;
  readonly versions: Readonly<Record<string, KeyVersion>>;
}

const AEAD: Readonly<Partial<Record<KeyType, { cipher: string; keyBytes: number }>>> = {
  'aes128-gcm96': { cipher: 'aes-128-gcm', keyBytes: 16 },
  'aes256-gcm96': { cipher: 'aes-256-gcm', keyBytes: 32 },
  'chacha20-poly1305': { cipher: 'chacha20-poly1305', keyBytes: 32 },
};

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export function supportsEncryption(type: KeyType): boolean {
  return AEAD[type] !== undefined || type.startsWith('rsa-');
}

export function supportsSigning(type: KeyType): boolean {
  return type === 'ed25519' || type.startsWith('ecdsa-') || type.startsWith('rsa-');
}

export function supportsDerivation(type: KeyType): boolean {
  return AEAD[type] !== undefined;
}

function b64(buf: Uint8Array): string {
  return Buffer.from(buf).toString('base64');
}

function fromB64(text: string | undefined): Buffer {
  return Buffer.from(text ?? '', 'base64');
}

/** New key material for one version. */
export function newVersion(type: KeyType, nowSeconds: number, keySize?: number): KeyVersion {
  const hmacKey = randomBytes(32);
  const aead = AEAD[type];
  if (aead !== undefined) {
    return {
      key: b64(randomBytes(aead.keyBytes)),
      hmacKey: b64(hmacKey),
      creationTime: nowSeconds,
    };
  }
  if (type === 'hmac') {
    const key = randomBytes(keySize ?? 32);
    return { key: b64(key), hmacKey: b64(key), creationTime: nowSeconds };
  }
  const pair =
    type === 'ed25519'
      ? generateKeyPairSync('ed25519')
      : type.startsWith('ecdsa-')
        ? generateKeyPairSync('ec', { namedCurve: type === 'ecdsa-p256' ? 'P-256' : 'P-384' })
        : generateKeyPairSync('rsa', { modulusLength: Number(type.slice(4)) });
  const privatePem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return { privatePem, hmacKey: b64(hmacKey), creationTime: nowSeconds };
}

export async function loadKey(storage: Storage, name: string): Promise<TransitKey | undefined> {
  return getJson<TransitKey>(storage, keyRecordKey(name));
}

export async function requireKey(storage: Storage, name: string): Promise<TransitKey> {
  const key = await loadKey(storage, name);
  if (key === undefined) throw new CofferError('invalid_request', 'encryption key not found');
  return key;
}

export async function saveKey(storage: Storage, key: TransitKey): Promise<void> {
  await putJson(storage, keyRecordKey(key.name), key);
}

// ---- versions ------------------------------------------------------------------------------

const PREFIX = /^vault:v(\d{1,9}):/;
const TOO_OLD = 'ciphertext or signature version is disallowed by policy (too old)';

/** Splits `vault:v<N>:<rest>`; `field` names the input in errors. */
export function splitVersioned(text: string, field: string): { version: number; body: string } {
  const m = PREFIX.exec(text);
  if (m === null) throw invalidField(field, 'invalid ciphertext: no prefix');
  return { version: Number(m[1]), body: text.slice(m[0].length) };
}

/** The version material to decrypt or verify with, refusing versions below the minimum. */
export function versionForReading(key: TransitKey, version: number): KeyVersion {
  if (version > key.latestVersion || version <= 0) {
    throw new CofferError('invalid_request', 'invalid key version');
  }
  if (version < key.minDecryptionVersion) throw new CofferError('invalid_request', TOO_OLD);
  const found = key.versions[String(version)];
  if (found === undefined) throw new CofferError('invalid_request', 'invalid key version');
  return found;
}

/** The version to encrypt or sign with: `requested` (0 = latest), within the policy. */
export function versionForWriting(key: TransitKey, requested: number): number {
  const version = requested === 0 ? key.latestVersion : requested;
  if (version > key.latestVersion || version <= 0) {
    throw invalidField('key_version', 'invalid key version');
  }
  if (key.minEncryptionVersion > 0 && version < key.minEncryptionVersion) {
    throw invalidField('key_version', 'requested version for encryption is less than the minimum');
  }
  return version;
}

// ---- encryption ----------------------------------------------------------------------------

export interface EncryptOptions {
  readonly context?: Buffer | undefined;
  readonly nonce?: Buffer | undefined;
  readonly associatedData?: Buffer | undefined;
}

/**
 * The AEAD key and the nonce rule for one version: derived keys take HKDF-SHA256(key,
 * info=context); convergent keys (Vault's convergent version 3) derive 32 more bytes whose
 * HMAC of the plaintext gives the nonce, so equal plaintexts under one context encrypt alike.
 */
function aeadKey(
  key: TransitKey,
  material: KeyVersion,
  context: Buffer | undefined,
): { encKey: Buffer; nonceKey?: Buffer } {
  const aead = AEAD[key.type]!;
  const raw = fromB64(material.key);
  if (!key.derived) {
    if (context !== undefined && context.length > 0) {
      throw invalidField('context', 'key derivation is not enabled for this key');
    }
    return { encKey: raw };
  }
  if (context === undefined || context.length === 0) {
    throw invalidField(
      'context',
      "missing 'context' for key derivation; the key was created using a derived key",
    );
  }
  const length = aead.keyBytes + (key.convergent ? 32 : 0);
  const out = Buffer.from(hkdfSync('sha256', raw, Buffer.alloc(0), context, length));
  return key.convergent
    ? { encKey: out.subarray(0, aead.keyBytes), nonceKey: out.subarray(aead.keyBytes) }
    : { encKey: out };
}

/** Encrypts with one version; returns `vault:v<N>:` + base64(nonce ‖ ciphertext ‖ tag). */
export function encrypt(
  key: TransitKey,
  version: number,
  plaintext: Buffer,
  options: EncryptOptions,
): string {
  const material = key.versions[String(version)]!;
  if (key.type.startsWith('rsa-')) {
    const ct = publicEncrypt(
      {
        key: createPublicKey(material.privatePem!),
        oaepHash: 'sha256',
        padding: constants.RSA_PKCS1_OAEP_PADDING,
      },
      plaintext,
    );
    return `vault:v${version}:${b64(ct)}`;
  }
  const aead = AEAD[key.type];
  if (aead === undefined) {
    throw new CofferError('invalid_request', `key type ${key.type} does not support encryption`);
  }
  if (options.nonce !== undefined && options.nonce.length > 0) {
    throw invalidField('nonce', 'nonce provided when not allowed');
  }
  const { encKey, nonceKey } = aeadKey(key, material, options.context);
  const nonce =
    nonceKey === undefined
      ? randomBytes(NONCE_BYTES)
      : createHmac('sha256', nonceKey).update(plaintext).digest().subarray(0, NONCE_BYTES);
  const cipher = createCipheriv(aead.cipher as 'aes-256-gcm', encKey, nonce, {
    authTagLength: TAG_BYTES,
  });
  if (options.associatedData !== undefined) {
    cipher.setAAD(options.associatedData, { plaintextLength: plaintext.length });
  }
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return `vault:v${version}:${b64(Buffer.concat([nonce, body, cipher.getAuthTag()]))}`;
}

/** Decrypts a `vault:v<N>:` ciphertext; a wrong key, context or tampering is a 400. */
export function decrypt(
  key: TransitKey,
  ciphertext: string,
  options: EncryptOptions,
): { plaintext: Buffer; version: number } {
  const { version, body } = splitVersioned(ciphertext, 'ciphertext');
  const material = versionForReading(key, version);
  const raw = Buffer.from(body, 'base64');
  if (key.type.startsWith('rsa-')) {
    try {
      const plaintext = privateDecrypt(
        {
          key: createPrivateKey(material.privatePem!),
          oaepHash: 'sha256',
          padding: constants.RSA_PKCS1_OAEP_PADDING,
        },
        raw,
      );
      return { plaintext, version };
    } catch {
      throw new CofferError('invalid_request', 'cipher: message authentication failed');
    }
  }
  const aead = AEAD[key.type];
  if (aead === undefined) {
    throw new CofferError('invalid_request', `key type ${key.type} does not support decryption`);
  }
  if (raw.length < NONCE_BYTES + TAG_BYTES) {
    throw invalidField('ciphertext', 'invalid ciphertext: too short');
  }
  const { encKey } = aeadKey(key, material, options.context);
  try {
    const decipher = createDecipheriv(
      aead.cipher as 'aes-256-gcm',
      encKey,
      raw.subarray(0, NONCE_BYTES),
      {
        authTagLength: TAG_BYTES,
      },
    );
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    const inner = raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES);
    if (options.associatedData !== undefined) {
      decipher.setAAD(options.associatedData, { plaintextLength: inner.length });
    }
    return { plaintext: Buffer.concat([decipher.update(inner), decipher.final()]), version };
  } catch {
    throw new CofferError('invalid_request', 'cipher: message authentication failed');
  }
}

// ---- hashing, HMAC, signatures -------------------------------------------------------------

const HASHES: Readonly<Record<string, string>> = {
  sha1: 'sha1',
  'sha2-224': 'sha224',
  'sha2-256': 'sha256',
  'sha2-384': 'sha384',
  'sha2-512': 'sha512',
  'sha3-224': 'sha3-224',
  'sha3-256': 'sha3-256',
  'sha3-384': 'sha3-384',
  'sha3-512': 'sha3-512',
};

/** Vault's hash names to node:crypto's; `field` names the input in errors. */
export function nodeHash(name: string, field: string): string {
  const found = HASHES[name];
  if (found === undefined) throw invalidField(field, `unsupported hash algorithm "${name}"`);
  return found;
}

export function hmacWith(
  key: TransitKey,
  version: number,
  algorithm: string,
  input: Buffer,
): string {
  const material = key.versions[String(version)]!;
  const mac = createHmac(nodeHash(algorithm, 'algorithm'), fromB64(material.hmacKey))
    .update(input)
    .digest();
  return `vault:v${version}:${b64(mac)}`;
}

export function verifyHmac(
  key: TransitKey,
  algorithm: string,
  input: Buffer,
  hmac: string,
): boolean {
  const { version } = splitVersioned(hmac, 'hmac');
  versionForReading(key, version);
  const expected = Buffer.from(hmacWith(key, version, algorithm, input));
  const given = Buffer.from(hmac);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

export interface SignOptions {
  /** Vault's name (sha2-256…), or 'none' with prehashed pkcs1v15. */
  readonly hashAlgorithm: string;
  readonly prehashed: boolean;
  readonly signatureAlgorithm: 'pss' | 'pkcs1v15';
  readonly marshaling: 'asn1' | 'jws';
}

/** DER DigestInfo prefixes, for signing an input that is already a digest (PKCS#1 v1.5). */
const DIGEST_INFO: Readonly<Record<string, string>> = {
  sha1: '3021300906052b0e03021a05000414',
  sha224: '302d300d06096086480165030402040500041c',
  sha256: '3031300d060960864801650304020105000420',
  sha384: '3041300d060960864801650304020205000430',
  sha512: '3051300d060960864801650304020305000440',
};

function privateKeyOf(material: KeyVersion): KeyObject {
  return createPrivateKey(material.privatePem!);
}

function signatureParams(key: TransitKey, o: SignOptions, keyObject: KeyObject) {
  if (key.type.startsWith('rsa-')) {
    return o.signatureAlgorithm === 'pss'
      ? { key: keyObject, padding: constants.RSA_PKCS1_PSS_PADDING }
      : { key: keyObject, padding: constants.RSA_PKCS1_PADDING };
  }
  return {
    key: keyObject,
    dsaEncoding: o.marshaling === 'jws' ? ('ieee-p1363' as const) : ('der' as const),
  };
}

export function signWith(key: TransitKey, version: number, input: Buffer, o: SignOptions): string {
  if (!supportsSigning(key.type)) {
    throw new CofferError('invalid_request', `key type ${key.type} does not support signing`);
  }
  const material = key.versions[String(version)]!;
  const priv = privateKeyOf(material);
  let sig: Buffer;
  if (key.type === 'ed25519') {
    sig = cryptoSign(null, input, priv);
  } else if (o.prehashed) {
    if (!key.type.startsWith('rsa-') || o.signatureAlgorithm !== 'pkcs1v15') {
      throw invalidField(
        'prehashed',
        'is supported for RSA keys with signature_algorithm=pkcs1v15',
      );
    }
    const prefix =
      o.hashAlgorithm === 'none'
        ? ''
        : (DIGEST_INFO[nodeHash(o.hashAlgorithm, 'hash_algorithm')] ?? '');
    sig = privateEncryptPkcs1(priv, Buffer.concat([Buffer.from(prefix, 'hex'), input]));
  } else {
    const params = signatureParams(key, o, priv);
    sig = cryptoSign(nodeHash(o.hashAlgorithm, 'hash_algorithm'), input, {
      ...params,
      ...(key.type.startsWith('rsa-') && o.signatureAlgorithm === 'pss'
        ? { saltLength: constants.RSA_PSS_SALTLEN_MAX_SIGN }
        : {}),
    });
  }
  const encoded =
    key.type.startsWith('ecdsa-') && o.marshaling === 'jws' ? sig.toString('base64url') : b64(sig);
  return `vault:v${version}:${encoded}`;
}

/** node:crypto's privateEncrypt with PKCS#1 v1.5 padding is RSASSA-PKCS1-v1_5 of DigestInfo. */
function privateEncryptPkcs1(priv: KeyObject, data: Buffer): Buffer {
  return privateEncrypt({ key: priv, padding: constants.RSA_PKCS1_PADDING }, data);
}

export function verifyWith(
  key: TransitKey,
  input: Buffer,
  signature: string,
  o: SignOptions,
): boolean {
  if (!supportsSigning(key.type)) {
    throw new CofferError('invalid_request', `key type ${key.type} does not support verification`);
  }
  const { version, body } = splitVersioned(signature, 'signature');
  const material = versionForReading(key, version);
  const pub = createPublicKey(privateKeyOf(material));
  const sig =
    key.type.startsWith('ecdsa-') && o.marshaling === 'jws'
      ? Buffer.from(body, 'base64url')
      : Buffer.from(body, 'base64');
  try {
    if (key.type === 'ed25519') return cryptoVerify(null, input, pub, sig);
    if (o.prehashed) {
      if (!key.type.startsWith('rsa-') || o.signatureAlgorithm !== 'pkcs1v15') {
        throw invalidField(
          'prehashed',
          'is supported for RSA keys with signature_algorithm=pkcs1v15',
        );
      }
      const prefix =
        o.hashAlgorithm === 'none'
          ? ''
          : (DIGEST_INFO[nodeHash(o.hashAlgorithm, 'hash_algorithm')] ?? '');
      const expected = Buffer.concat([Buffer.from(prefix, 'hex'), input]);
      const recovered = publicDecrypt({ key: pub, padding: constants.RSA_PKCS1_PADDING }, sig);
      return recovered.length === expected.length && timingSafeEqual(recovered, expected);
    }
    const params = signatureParams(key, o, pub);
    return cryptoVerify(
      nodeHash(o.hashAlgorithm, 'hash_algorithm'),
      input,
      {
        ...params,
        ...(key.type.startsWith('rsa-') && o.signatureAlgorithm === 'pss'
          ? { saltLength: constants.RSA_PSS_SALTLEN_AUTO }
          : {}),
      },
      sig,
    );
  } catch (err) {
    if (err instanceof CofferError) throw err;
    return false;
  }
}

// ---- rendering and export ------------------------------------------------------------------

/** A version's public key as Vault renders it: PEM, or base64 for ed25519. */
export function publicKeyOf(key: TransitKey, material: KeyVersion): string {
  const pub = createPublicKey(privateKeyOf(material));
  if (key.type === 'ed25519') {
    const jwk = pub.export({ format: 'jwk' });
    return Buffer.from(jwk.x ?? '', 'base64url').toString('base64');
  }
  return pub.export({ type: 'spki', format: 'pem' }).toString();
}

export type ExportType = 'encryption-key' | 'signing-key' | 'hmac-key' | 'public-key';

/** One version's material in Vault's export form. SECURITY: callers check `exportable`. */
export function exportMaterial(key: TransitKey, material: KeyVersion, type: ExportType): string {
  switch (type) {
    case 'hmac-key':
      return material.hmacKey;
    case 'encryption-key':
      if (!supportsEncryption(key.type)) {
        throw new CofferError('invalid_request', 'encryption not supported for the key');
      }
      return material.key ?? material.privatePem!;
    case 'signing-key':
      if (!supportsSigning(key.type)) {
        throw new CofferError('invalid_request', 'signing not supported for the key');
      }
      if (key.type === 'ed25519') {
        const jwk = privateKeyOf(material).export({ format: 'jwk' });
        return Buffer.concat([
          Buffer.from(jwk.d ?? '', 'base64url'),
          Buffer.from(jwk.x ?? '', 'base64url'),
        ]).toString('base64');
      }
      return material.privatePem!;
    case 'public-key':
      if (!supportsSigning(key.type)) {
        throw new CofferError('invalid_request', 'public key not available for the key');
      }
      return publicKeyOf(key, material);
  }
}
