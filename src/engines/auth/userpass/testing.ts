// Test fixtures for the userpass tests: the engine on an auth mount (see ../testing.ts) with a
// fast hasher that counts KDF runs, and logins by username. Not part of the build.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { LoginGrant } from '../../../sdk/engine.js';
import { memoryStorage, type EngineHarness } from '../../../sdk/testing.js';
import { authHarness, loginOf, UNLIMITED_LOGINS } from '../testing.js';
import { createUserpassEngine, type UserpassEngineOptions } from './engine.js';
import type { PasswordHasher } from './hasher.js';

export { expectCoffer, storedText, T0 } from '../testing.js';

/** A hasher that stands in for argon2 (SHA-256 with a fixed salt) and counts its runs. */
export interface CountingHasher extends PasswordHasher {
  /** KDF runs: verifications, including those against the dummy hash. */
  verifies: number;
  hashes: number;
}

export function countingHasher(): CountingHasher {
  const digest = (password: string): string =>
    createHash('sha256').update(`test-salt:${password}`).digest('hex');
  const h: CountingHasher = {
    verifies: 0,
    hashes: 0,
    hash(password) {
      h.hashes += 1;
      return Promise.resolve(`$test$${digest(password)}`);
    },
    verify(stored, password) {
      h.verifies += 1;
      const a = Buffer.from(stored);
      const b = Buffer.from(`$test$${digest(password)}`);
      return Promise.resolve(a.length === b.length && timingSafeEqual(a, b));
    },
    dummyHash: () => Promise.resolve(`$test$${digest('dummy-nobody-knows')}-`),
  };
  return h;
}

export interface Harness extends EngineHarness {
  readonly hasher: CountingHasher;
  login(username: string, password: string): Promise<LoginGrant>;
}

export function harness(
  options: UserpassEngineOptions = {},
  storage: ReturnType<typeof memoryStorage> = memoryStorage(),
): Harness {
  const hasher = countingHasher();
  const h = authHarness(
    createUserpassEngine({ hasher, rateLimit: UNLIMITED_LOGINS, ...options }),
    'userpass',
    storage,
  );
  const userpass: Pick<Harness, 'hasher' | 'login'> = {
    hasher,
    async login(username, password) {
      return loginOf(await h.call('update', `login/${username}`, { password }));
    },
  };
  return Object.assign(h, userpass);
}
