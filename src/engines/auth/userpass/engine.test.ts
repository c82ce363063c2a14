// The userpass factory: its category and unauthenticated paths, mount options, and one login
// end to end with the real argon2 hasher.
import { describe, expect, it } from 'vitest';
import { memoryStorage, testMount, testRequest } from '../../../sdk/testing.js';
import { createUserpassEngine, userpassAuthFactory, userpassSettings } from './engine.js';
import { storedText } from './testing.js';

describe('userpass engine', () => {
  it('is an auth method whose login paths need no token', () => {
    expect(userpassAuthFactory).toMatchObject({ type: 'userpass', category: 'auth' });
    const engine = userpassAuthFactory.create(testMount({ type: 'userpass', options: {} }));
    expect(engine.unauthenticatedPaths).toEqual(['login/*']);
  });

  it('takes Vault lockout defaults and the rate-limit defaults from empty options', () => {
    expect(userpassSettings({})).toEqual({
      lockout: { threshold: 5, durationSeconds: 900, counterResetSeconds: 900 },
      rateLimit: { burst: 20, perSecond: 5 },
    });
  });

  it('reads lockout and rate-limit options, and refuses unknown or malformed ones', () => {
    expect(
      userpassSettings({
        lockout_threshold: '3',
        lockout_duration: '1h',
        lockout_counter_reset: '90s',
        login_rate_burst: '4',
        login_rate_per_second: '0.5',
      }),
    ).toEqual({
      lockout: { threshold: 3, durationSeconds: 3600, counterResetSeconds: 90 },
      rateLimit: { burst: 4, perSecond: 0.5 },
    });
    expect(userpassSettings({ lockout_threshold: '0' }).lockout.threshold).toBe(0);
    expect(userpassSettings({ login_rate_per_second: '0' }).rateLimit.perSecond).toBe(0);
    const bad: Record<string, string>[] = [
      { version: '2' },
      { lockout_threshold: '-1' },
      { lockout_threshold: 'five' },
      { lockout_duration: 'soon' },
      { lockout_duration: '0s' },
      { login_rate_burst: '0' },
      { login_rate_per_second: '-2' },
    ];
    for (const options of bad) {
      expect(() => userpassAuthFactory.normaliseOptions!(options)).toThrow(
        expect.objectContaining({ code: 'invalid_request' }) as Error,
      );
    }
    expect(userpassAuthFactory.normaliseOptions!({ lockout_threshold: '7' })).toEqual({
      lockout_threshold: '7',
    });
  });

  it('logs in end to end with the real argon2id hasher', async () => {
    const engine = createUserpassEngine();
    const storage = memoryStorage();
    const mount = testMount({ path: 'auth/userpass/', type: 'userpass', options: {} });
    const call = (path: string, data: Record<string, unknown>) =>
      engine.handle(
        testRequest('update', path, data, storage, { mount, remoteAddress: '127.0.0.1' }),
      );
    await call('users/Alice', { password: 'PW-CANARY-real', token_policies: 'dev' });
    expect(storedText(storage)).toContain('$argon2id$v=19$m=19456,t=2,p=1$');
    expect(storedText(storage)).not.toContain('PW-CANARY');
    const ok = await call('login/ alice', { password: 'PW-CANARY-real' });
    expect(ok).toMatchObject({
      kind: 'login',
      login: { policies: ['dev'], metadata: { username: 'alice' } },
    });
    await expect(call('login/alice', { password: 'wrong' })).rejects.toMatchObject({
      code: 'invalid_request',
      message: 'invalid username or password',
    });
    await expect(call('login/nobody', { password: 'wrong' })).rejects.toMatchObject({
      code: 'invalid_request',
      message: 'invalid username or password',
    });
  });
});

describe('userpass lockout_threshold option', () => {
  it('is a whole number of digits, surrounding spaces allowed; anything else is refused', () => {
    expect(userpassSettings({ lockout_threshold: ' 12 ' }).lockout.threshold).toBe(12);
    expect(userpassSettings({ lockout_threshold: '0' }).lockout.threshold).toBe(0);
    for (const bad of ['1.5', 'x5', '5x', '-1', '']) {
      expect(() => userpassSettings({ lockout_threshold: bad }), bad).toThrow(
        'options.lockout_threshold: must be a non-negative integer',
      );
    }
  });
});

describe('userpass mount options: refusals name the option', () => {
  it('an unknown option and malformed durations each name their option', () => {
    expect(() => userpassSettings({ lockout_window: '1' })).toThrow(
      'options.lockout_window: unknown option for userpass',
    );
    expect(() => userpassSettings({ lockout_duration: 'soon' })).toThrow(
      /^options\.lockout_duration: /,
    );
    expect(() => userpassSettings({ lockout_counter_reset: 'soon' })).toThrow(
      /^options\.lockout_counter_reset: /,
    );
  });
});
