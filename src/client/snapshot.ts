// The encrypted fallback snapshot of `coffer run --fallback`: the last resolved variables,
// sealed with AES-256-GCM under a key the user supplies, written 0600 by atomic rename.
//
// Layout: "CFSNAP1\n" (8 bytes, also the AAD) | 12-byte IV | ciphertext | 16-byte GCM tag.
// The plaintext is JSON {createdAt (epoch ms), fingerprint, vars, secretNames}.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from './atomic-file.js';
import { ClientError } from './errors.js';
import { isRecord } from './kv-path.js';

/** The environment variable holding the snapshot key: base64 of exactly 32 bytes. */
export const FALLBACK_KEY_ENV = 'COFFER_FALLBACK_KEY';

const MAGIC = Buffer.from('CFSNAP1\n', 'ascii');
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
/** A snapshot larger than this is not one of ours. */
const MAX_SNAPSHOT_BYTES = 16 * 1024 * 1024;

export interface Snapshot {
  /** When the variables were resolved, epoch ms. */
  readonly createdAt: number;
  /** sourcesFingerprint() of what was resolved: a snapshot serves only the same request. */
  readonly fingerprint: string;
  readonly vars: Readonly<Record<string, string>>;
  readonly secretNames: readonly string[];
}

/**
 * Decodes the key from its base64 text.
 * SECURITY: messages say what is wrong with the key, never any part of it.
 */
export function parseFallbackKey(text: string | undefined): Buffer {
  if (text === undefined || text.trim() === '') {
    throw new ClientError(
      `${FALLBACK_KEY_ENV} is not set; --fallback needs a snapshot key (base64 of 32 random bytes, e.g. "openssl rand -base64 32")`,
    );
  }
  const trimmed = text.trim();
  const key = Buffer.from(trimmed, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || key.length !== KEY_BYTES) {
    throw new ClientError(`${FALLBACK_KEY_ENV} must be base64 of exactly ${KEY_BYTES} bytes`);
  }
  return key;
}

export function sealSnapshot(snapshot: Snapshot, key: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(MAGIC);
  const plain = Buffer.from(JSON.stringify(snapshot), 'utf8');
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  plain.fill(0);
  return Buffer.concat([MAGIC, iv, body, cipher.getAuthTag()]);
}

/** SECURITY: a wrong key and a modified file read the same: "cannot be decrypted". */
export function openSnapshot(sealed: Buffer, key: Buffer, where: string): Snapshot {
  if (
    sealed.length < MAGIC.length + IV_BYTES + TAG_BYTES ||
    !sealed.subarray(0, MAGIC.length).equals(MAGIC)
  ) {
    throw new ClientError(`${where} is not a Coffer snapshot`);
  }
  const iv = sealed.subarray(MAGIC.length, MAGIC.length + IV_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const body = sealed.subarray(MAGIC.length + IV_BYTES, sealed.length - TAG_BYTES);
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(MAGIC);
    decipher.setAuthTag(tag);
    plain = Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    throw new ClientError(
      `${where} cannot be decrypted (wrong ${FALLBACK_KEY_ENV} or a damaged file)`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(plain.toString('utf8'));
  } catch {
    value = undefined;
  } finally {
    plain.fill(0);
  }
  if (
    !isRecord(value) ||
    typeof value['createdAt'] !== 'number' ||
    typeof value['fingerprint'] !== 'string' ||
    !isRecord(value['vars']) ||
    !Object.values(value['vars']).every((v) => typeof v === 'string') ||
    !Array.isArray(value['secretNames'])
  ) {
    throw new ClientError(`${where} has an unexpected content`);
  }
  return {
    createdAt: value['createdAt'],
    fingerprint: value['fingerprint'],
    vars: value['vars'] as Record<string, string>,
    secretNames: value['secretNames'].filter((n): n is string => typeof n === 'string'),
  };
}

/** Writes the snapshot atomically with mode 0600. */
export async function writeSnapshot(path: string, key: Buffer, snapshot: Snapshot): Promise<void> {
  await writeFileAtomic(path, sealSnapshot(snapshot, key), 0o600);
}

export async function readSnapshot(path: string, key: Buffer): Promise<Snapshot> {
  let sealed: Buffer;
  try {
    sealed = await readFile(path);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new ClientError(
      `cannot read the snapshot ${path} (${typeof code === 'string' ? code : 'error'})`,
    );
  }
  if (sealed.length > MAX_SNAPSHOT_BYTES) throw new ClientError(`${path} is not a Coffer snapshot`);
  return openSnapshot(sealed, key, path);
}

/** "3s", "5m", "2h 4m", "3d 1h": how old a snapshot is, for the fallback notice. */
export function formatAge(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h ${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}
