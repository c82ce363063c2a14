import { describe, expect, it } from 'vitest';
import { childEnvironment, EnvClashError, isProtectedVariable } from './child-env.js';

describe('childEnvironment', () => {
  const inherited = {
    PATH: '/usr/bin',
    HOME: '/home/app',
    COFFER_TOKEN: 'hvs.root-canary',
    VAULT_TOKEN: 'hvs.vault-canary',
    COFFER_ADDR: 'http://127.0.0.1:8200',
    LANG: 'C',
  };

  it("removes Coffer's own credentials unless passToken", () => {
    const env = childEnvironment({ inherited, vars: { DB_PASSWORD: 'pw' }, pathKeys: {} });
    expect(env['COFFER_TOKEN']).toBeUndefined();
    expect(env['VAULT_TOKEN']).toBeUndefined();
    expect(env).toMatchObject({
      PATH: '/usr/bin',
      DB_PASSWORD: 'pw',
      COFFER_ADDR: inherited.COFFER_ADDR,
    });
    const passed = childEnvironment({ inherited, vars: {}, pathKeys: {}, passToken: true });
    expect(passed['COFFER_TOKEN']).toBe('hvs.root-canary');
    expect(passed['VAULT_TOKEN']).toBe('hvs.vault-canary');
  });

  it('refuses a path key that sets a protected variable, even with overrideEnv', () => {
    for (const [name, key] of [
      ['PATH', 'secret/app#path'],
      ['LD_PRELOAD', 'secret/app#ld_preload'],
      ['NODE_OPTIONS', 'secret/app#nodeOptions'],
      ['DYLD_INSERT_LIBRARIES', 'secret/app#dyld-insert-libraries'],
      ['VAULT_ADDR', 'secret/app#vault_addr'],
    ] as const) {
      expect(() =>
        childEnvironment({
          inherited: {},
          vars: { [name]: 'x' },
          pathKeys: { [name]: key },
          overrideEnv: true,
        }),
      ).toThrow(
        new EnvClashError(
          `the secret key ${key} would set ${name}, a protected variable; name it explicitly (-map ${name}=coffer://${key}) if that is meant`,
        ),
      );
    }
  });

  it('lets an explicitly named variable set a protected one', () => {
    const env = childEnvironment({ inherited, vars: { PATH: '/opt/bin' }, pathKeys: {} });
    expect(env['PATH']).toBe('/opt/bin');
  });

  it('refuses a path key replacing an inherited variable unless overrideEnv, naming both', () => {
    const options = { inherited, vars: { LANG: 'de' }, pathKeys: { LANG: 'secret/app#lang' } };
    expect(() => childEnvironment(options)).toThrow(
      'the secret key secret/app#lang would replace the inherited variable LANG; use -override-env to allow it, or -map to name it explicitly',
    );
    expect(childEnvironment({ ...options, overrideEnv: true })['LANG']).toBe('de');
  });

  it('knows the protected names and prefixes', () => {
    for (const name of [
      'PATH',
      'HOME',
      'SHELL',
      'USER',
      'PYTHONPATH',
      'LD_LIBRARY_PATH',
      'COFFER_TOKEN',
    ]) {
      expect(isProtectedVariable(name)).toBe(true);
    }
    for (const name of ['DB_PASSWORD', 'API_KEY', 'PATH_PREFIX', 'MY_HOME']) {
      expect(isProtectedVariable(name)).toBe(false);
    }
  });
});
