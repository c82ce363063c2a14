// Test fixtures the auth methods' tests share: an engine harness on an auth mount with a client
// address, a rate limit no test reaches, the login a result must be, a CofferError matcher and
// a dump of stored bytes. Not part of the build.
import { expect } from 'vitest';
import type { EngineResult, LoginGrant, SecretEngine } from '../../sdk/engine.js';
import { engineHarness, memoryStorage, testMount, type EngineHarness } from '../../sdk/testing.js';
import type { RateLimitConfig } from './rate-limit.js';

export { T0 } from '../../sdk/testing.js';

/** A login rate limit tests never hit (the limit itself has its own tests). */
export const UNLIMITED_LOGINS: RateLimitConfig = { burst: 1_000_000, perSecond: 1_000_000 };

/** `engine` mounted at auth/<type>/, called from 127.0.0.1 unless a test changes it. */
export function authHarness<E extends SecretEngine>(
  engine: E,
  type: string,
  storage: ReturnType<typeof memoryStorage> = memoryStorage(),
): EngineHarness<E> {
  return engineHarness(engine, {
    mount: testMount({ path: `auth/${type}/`, type, options: {} }),
    storage,
    remoteAddress: '127.0.0.1',
  });
}

/** The grant of a login result (fails the test for any other result). */
export function loginOf(result: EngineResult): LoginGrant {
  if (result.kind !== 'login') throw new Error(`expected a login result, got ${result.kind}`);
  return result.login;
}

/**
 * Asserts that `promise` rejects with a CofferError of `code` and, when given, a message equal
 * to a string or matching a RegExp.
 */
export async function expectCoffer(
  promise: Promise<unknown>,
  code: string,
  message?: string | RegExp,
): Promise<void> {
  await expect(promise).rejects.toMatchObject(
    message === undefined
      ? { name: 'CofferError', code }
      : {
          name: 'CofferError',
          code,
          message:
            typeof message === 'string'
              ? message
              : (expect.stringMatching(message) as unknown as string),
        },
  );
}

/** Every stored byte as one string, to search for secrets that must not be there. */
export function storedText(storage: ReturnType<typeof memoryStorage>): string {
  return [...storage.entries].map(([k, v]) => `${k}=${Buffer.from(v).toString('utf8')}`).join('\n');
}
