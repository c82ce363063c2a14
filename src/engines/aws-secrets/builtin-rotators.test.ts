// The built-in rotators' pure parts: a database secret's JSON is checked member by member
// (the error names the member, never a value), usernames alternate with `_clone`, and the
// driver settings point at the secret's database. The rotations themselves run against real
// databases in test/e2e/aws-builtin-rotators.test.ts.
import { describe, expect, it } from 'vitest';
import { isCofferError } from '../../sdk/errors.js';
import {
  adminTarget,
  alternateUsername,
  BUILTIN_ROTATORS,
  parseDbSecret,
  requireAlternate,
  settingsFor,
} from './builtin-rotators.js';

const CANARY = 'canary-Pa55word-7f3a';
const good = { engine: 'postgres', host: 'db.internal', username: 'app', password: CANARY };

function refusal(text: string, engine: 'postgresql' | 'mysql' | 'redis' = 'postgresql') {
  try {
    parseDbSecret(engine, text, 'AWSCURRENT');
  } catch (err) {
    if (!isCofferError(err)) throw err;
    return { code: err.code, message: err.message };
  }
  throw new Error('accepted');
}

describe('built-in rotators', () => {
  it('has the six rotators the docs name', () => {
    expect(Object.keys(BUILTIN_ROTATORS).sort()).toEqual([
      'mysql-alternating-users',
      'mysql-single-user',
      'postgresql-alternating-users',
      'postgresql-single-user',
      'redis-alternating-users',
      'redis-single-user',
    ]);
  });

  it('reads AWS database secrets with defaults', () => {
    const s = parseDbSecret('postgresql', JSON.stringify(good), 'AWSCURRENT');
    expect(s).toMatchObject({ host: 'db.internal', port: 5432, username: 'app', ssl: false });
    expect(parseDbSecret('mysql', JSON.stringify({ ...good, engine: 'mariadb' }), 'x').port).toBe(
      3306,
    );
    expect(
      parseDbSecret('redis', JSON.stringify({ ...good, engine: 'redis', port: '6380' }), 'x').port,
    ).toBe(6380);
  });

  it('refuses a bad secret naming the member, never echoing a value', () => {
    const cases: [string, string][] = [
      [CANARY, 'SecretString'],
      [JSON.stringify([CANARY]), 'SecretString'],
      [JSON.stringify({ ...good, engine: 'mysql' }), 'engine'],
      [JSON.stringify({ ...good, host: '' }), 'host'],
      [JSON.stringify({ ...good, port: 70_000 }), 'port'],
      [JSON.stringify({ ...good, username: `x"; DROP ROLE ${CANARY}` }), 'username'],
      [JSON.stringify({ ...good, username: 'a'.repeat(58) }), 'username'],
      [JSON.stringify({ ...good, password: 42 }), 'password'],
      [JSON.stringify({ ...good, masterarn: 7 }), 'masterarn'],
    ];
    for (const [text, member] of cases) {
      const { code, message } = refusal(text);
      expect(code).toBe('invalid_request');
      expect(message).toContain(`"${member}"`);
      expect(message).not.toContain(CANARY);
    }
  });

  it('alternates between a user and its clone', () => {
    expect(alternateUsername('app')).toBe('app_clone');
    expect(alternateUsername('app_clone')).toBe('app');
  });

  it('points the driver at the secret database with the login given', () => {
    const s = parseDbSecret(
      'postgresql',
      JSON.stringify({ ...good, host: '::1', dbname: 'my db' }),
      'x',
    );
    const settings = settingsFor('postgresql', s, { username: 'admin', password: 'pw' });
    expect(settings).toMatchObject({
      kind: 'postgres',
      connectionUrl: 'postgresql://{{username}}:{{password}}@[::1]:5432/my%20db',
      root: { username: 'admin', password: 'pw' },
    });
  });

  it("sends the admin's credentials only to the admin secret's own host, and only for a secret of it", () => {
    const admin = parseDbSecret(
      'postgresql',
      JSON.stringify({ ...good, username: 'admin', password: 'admin-pw' }),
      'masterarn AWSCURRENT',
      false,
    );
    const app = parseDbSecret('postgresql', JSON.stringify(good), 'AWSPENDING');
    expect(adminTarget(admin, app)).toBe(admin);
    const elsewhere = parseDbSecret(
      'postgresql',
      JSON.stringify({ ...good, host: 'attacker.example' }),
      'AWSPENDING',
    );
    expect(() => adminTarget(admin, elsewhere)).toThrow(/not the host of the admin secret/);
    const hostless = parseDbSecret(
      'postgresql',
      JSON.stringify({ username: 'admin', password: 'admin-pw' }),
      'masterarn AWSCURRENT',
      false,
    );
    expect(() => adminTarget(hostless, app)).toThrow(/host/);
    expect(() => adminTarget(hostless, elsewhere)).toThrow(/host/);
  });

  it("lets the admin set only the current user's alternate, on the current host", () => {
    const secret = (over: object) =>
      parseDbSecret('postgresql', JSON.stringify({ ...good, ...over }), 'AWSPENDING');
    const now = secret({});
    expect(() => {
      requireAlternate(now, secret({ username: 'app_clone' }));
    }).not.toThrow();
    expect(() => {
      requireAlternate(secret({ username: 'app_clone' }), secret({ username: 'app' }));
    }).not.toThrow();
    expect(() => {
      requireAlternate(now, secret({ username: 'app_clone', host: 'DB.internal' }));
    }).not.toThrow();
    for (const [over, field] of [
      [{ username: 'victim' }, 'username'],
      [{ username: 'app' }, 'username'],
      [{ username: 'app_clone_clone' }, 'username'],
      [{ username: 'app_clone', host: 'other.internal' }, 'host'],
    ] as const) {
      let caught: unknown;
      try {
        requireAlternate(now, secret(over));
      } catch (err) {
        caught = err;
      }
      expect(isCofferError(caught) && caught.code).toBe('invalid_request');
      expect(isCofferError(caught) && caught.field).toBe(field);
    }
  });
});
