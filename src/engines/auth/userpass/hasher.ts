// Password hashing for userpass: argon2id at the OWASP minimum, through @node-rs/argon2's async
// API (it hashes on a libuv worker thread, so the event loop keeps serving). Injectable, so
// tests can count how often the KDF runs.
import { randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import { CofferError } from '../../../sdk/errors.js';

/**
 * argon2id, m = 19456 KiB (19 MiB), t = 2 passes, p = 1 lane, 32-byte output, 16-byte random
 * salt: the OWASP Password Storage Cheat Sheet's minimum. The parameters are kept in each
 * PHC string, so raising them later still verifies older hashes. The algorithm is the
 * library's default, argon2id (its Algorithm enum is a const enum with no runtime value);
 * hasher.test.ts checks every hash says "$argon2id$".
 */
export const ARGON2_PARAMS = {
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
  outputLen: 32,
} as const;

export interface PasswordHasher {
  /** A PHC string ("$argon2id$v=19$m=19456,t=2,p=1$salt$hash"). */
  hash(password: string): Promise<string>;
  /** Whether `password` matches `stored`; runs the full KDF whatever the answer. */
  verify(stored: string, password: string): Promise<boolean>;
  /**
   * A hash of a random password nobody knows, with the same parameters: verified against on a
   * login for an unknown user so that it costs the same as a known one.
   */
  dummyHash(): Promise<string>;
}

/** The production hasher. */
export function argon2Hasher(): PasswordHasher {
  let dummy: Promise<string> | undefined;
  const self: PasswordHasher = {
    hash: (password) => hash(password, ARGON2_PARAMS),
    async verify(stored, password) {
      try {
        return await verify(stored, password);
      } catch (cause) {
        throw new CofferError('integrity_failure', 'stored password hash is malformed', {
          cause,
        });
      }
    },
    dummyHash() {
      dummy ??= self.hash(randomBytes(32).toString('base64url')).catch((err: unknown) => {
        dummy = undefined; // try again next time rather than fail every miss
        throw err;
      });
      return dummy;
    },
  };
  return self;
}
