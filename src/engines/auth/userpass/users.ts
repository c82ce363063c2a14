// The users of a userpass mount: canonical names, the stored entry (password hash and token
// settings), and reading/writing it.
import { CofferError, invalidField } from '../../../sdk/errors.js';
import { isPlainObject } from '../../../sdk/json.js';
import { getJson, putJson, type Storage } from '../../../sdk/storage.js';
import { readTokenSettings, type TokenSettings } from '../token-fields.js';
import { userKey } from './keys.js';

/** Longest username accepted, in characters. */
export const MAX_USERNAME_LENGTH = 256;

/** Longest password accepted on write, in characters (argon2 takes any length; this bounds work). */
export const MAX_PASSWORD_LENGTH = 1024;

/** Vault's accepted names: word characters, '-' and '.', starting and ending with a word character. */
const USERNAME = /^[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?$/;

/**
 * The one form a username is stored and compared in: trimmed and lowercased, as Vault
 * lowercases. SECURITY: applied both when a user is written and on every login, so "Alice",
 * " alice" and "alice\t" are one principal, with one lockout counter (Vault CVE-2025-6004).
 */
export function canonicalUsername(raw: string): string {
  return raw.trim().toLowerCase();
}

/** Whether a canonical name may be a user (and so a storage key). */
export function isValidUsername(canonical: string): boolean {
  return canonical.length <= MAX_USERNAME_LENGTH && USERNAME.test(canonical);
}

/** The canonical name for a write; throws invalid_request if it cannot be a user. */
export function usernameForWrite(raw: string): string {
  const canonical = canonicalUsername(raw);
  if (!isValidUsername(canonical)) {
    throw invalidField(
      'username',
      'must be letters, digits, "_", "-" and "." (starting and ending with a letter, digit or "_"), ' +
        `at most ${MAX_USERNAME_LENGTH} characters`,
    );
  }
  return canonical;
}

export function checkPassword(password: string, field = 'password'): string {
  if (password === '') throw invalidField(field, 'must not be empty');
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw invalidField(field, `must be at most ${MAX_PASSWORD_LENGTH} characters`);
  }
  return password;
}

export interface UserEntry {
  /** PHC string; SECURITY: the password itself is never stored. */
  readonly passwordHash: string;
  readonly token: TokenSettings;
}

export async function readUser(
  storage: Storage,
  canonical: string,
): Promise<UserEntry | undefined> {
  const raw = await getJson<unknown>(storage, userKey(canonical));
  if (raw === undefined) return undefined;
  if (!isPlainObject(raw) || typeof raw.passwordHash !== 'string') {
    throw new CofferError('integrity_failure', 'stored user entry is malformed');
  }
  return { passwordHash: raw.passwordHash, token: readTokenSettings(raw.token) };
}

export async function writeUser(
  storage: Storage,
  canonical: string,
  entry: UserEntry,
): Promise<void> {
  await putJson(storage, userKey(canonical), entry);
}
