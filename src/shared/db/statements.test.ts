// Statements: splitting, placeholder escaping by SQL context, entry expansion (base64, JSON),
// Redis ACL rule lists, and the {{expiration}} format.
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_REDIS_RULES,
  expandSql,
  formatExpiration,
  parseRedisRules,
  renderStatement,
  splitSql,
} from './statements.js';

describe('splitSql', () => {
  it('splits on semicolons outside quotes and comments, dropping empty statements', () => {
    expect(splitSql(`CREATE ROLE "a;b"; GRANT SELECT ON t TO "a;b";;  `, 'postgres')).toEqual([
      'CREATE ROLE "a;b"',
      'GRANT SELECT ON t TO "a;b"',
    ]);
    expect(splitSql(`SELECT 'x;y' -- c;d\n; SELECT /* ; */ 2`, 'postgres')).toEqual([
      `SELECT 'x;y' -- c;d`,
      'SELECT /* ; */ 2',
    ]);
  });

  it('keeps PostgreSQL dollar-quoted bodies whole', () => {
    const body = `DO $$ BEGIN EXECUTE 'x'; PERFORM 1; END $$; SELECT 1`;
    expect(splitSql(body, 'postgres')).toEqual([
      `DO $$ BEGIN EXECUTE 'x'; PERFORM 1; END $$`,
      'SELECT 1',
    ]);
    expect(splitSql(`DO $f$ a; b $f$`, 'postgres')).toEqual([`DO $f$ a; b $f$`]);
  });

  it('honours MySQL backticks, backslash escapes and # comments', () => {
    expect(splitSql("GRANT ALL ON `a;b`.* TO 'x\\';y'@'%'; # c;\nSELECT 1", 'mysql')).toEqual([
      "GRANT ALL ON `a;b`.* TO 'x\\';y'@'%'",
      '# c;\nSELECT 1',
    ]);
  });
});

describe('renderStatement', () => {
  const values = {
    username: 'v-a"b\'c',
    password: 'p\'w"d',
    expiration: '2026-01-01 00:00:00+0000',
  };

  it('escapes PostgreSQL placeholders for the quotes around them', () => {
    expect(
      renderStatement(`CREATE ROLE "{{name}}" PASSWORD '{{password}}'`, 'postgres', values),
    ).toBe(`CREATE ROLE "v-a""b'c" PASSWORD 'p''w"d'`);
    // Bare placeholders become whole identifiers and literals.
    expect(
      renderStatement(`ALTER ROLE {{username}} VALID UNTIL {{expiration}}`, 'postgres', values),
    ).toBe(`ALTER ROLE "v-a""b'c" VALID UNTIL '2026-01-01 00:00:00+0000'`);
    expect(renderStatement(`SELECT E'{{password}}'`, 'postgres', { password: "a\\'b" })).toBe(
      `SELECT E'a\\\\''b'`,
    );
  });

  it('escapes MySQL placeholders with backslashes inside quotes and doubles backticks', () => {
    expect(
      renderStatement(`CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'`, 'mysql', values),
    ).toBe(`CREATE USER 'v-a\\"b\\'c'@'%' IDENTIFIED BY 'p\\'w\\"d'`);
    expect(
      renderStatement('GRANT ALL ON `{{name}}`.* TO {{name}}', 'mysql', { username: 'a`b' }),
    ).toBe("GRANT ALL ON `a``b`.* TO 'a`b'");
  });

  it('cannot be broken out of: a quote in a value never ends the quoted string', () => {
    const evil = { username: `x'; DROP TABLE t; --` };
    const pgSql = renderStatement(`DROP ROLE IF EXISTS '{{name}}'`, 'postgres', evil);
    expect(splitSql(pgSql, 'postgres')).toHaveLength(1);
    const mySql = renderStatement(`DROP USER '{{name}}'@'%'`, 'mysql', evil);
    expect(splitSql(mySql, 'mysql')).toHaveLength(1);
  });

  it('leaves placeholders without a value, and refuses control characters', () => {
    expect(
      renderStatement(`DROP ROLE "{{name}}" -- {{password}}`, 'postgres', { username: 'a' }),
    ).toBe(`DROP ROLE "a" -- {{password}}`);
    expect(() => renderStatement(`-- {{name}}`, 'postgres', { username: 'a\nDROP' })).toThrow(
      expect.objectContaining({ code: 'invalid_request' }),
    );
    expect(() => renderStatement(`DO $$ {{name}} $$`, 'postgres', { username: 'a$$b' })).toThrow(
      expect.objectContaining({ code: 'invalid_request' }),
    );
  });
});

describe('expandSql', () => {
  it('labels entries, and statements within an entry', () => {
    expect(
      expandSql(['CREATE ROLE a; GRANT x TO a', 'SELECT 1'], 'postgres', 'creation_statements'),
    ).toEqual([
      { label: 'creation_statements[0] statement 1', sql: 'CREATE ROLE a' },
      { label: 'creation_statements[0] statement 2', sql: 'GRANT x TO a' },
      { label: 'creation_statements[1]', sql: 'SELECT 1' },
    ]);
  });

  it('accepts a base64 entry and a JSON list entry, as Vault does', () => {
    const b64 = Buffer.from('CREATE ROLE a; SELECT 2').toString('base64');
    expect(expandSql([b64], 'postgres', 'f').map((s) => s.sql)).toEqual([
      'CREATE ROLE a',
      'SELECT 2',
    ]);
    expect(
      expandSql(['["SELECT 1", "SELECT 2; SELECT 3"]'], 'mysql', 'f').map((s) => s.sql),
    ).toEqual(['SELECT 1', 'SELECT 2', 'SELECT 3']);
    // Plain words that happen to be valid base64 stay as they are.
    expect(expandSql(['DROP'], 'postgres', 'f').map((s) => s.sql)).toEqual(['DROP']);
  });
});

describe('parseRedisRules', () => {
  it("defaults to Vault's read-only rules and reads one JSON list", () => {
    expect(parseRedisRules([], 'creation_statements')).toEqual([...DEFAULT_REDIS_RULES]);
    expect(parseRedisRules(['["~app:*", "+get", "+@read"]'], 'creation_statements')).toEqual([
      '~app:*',
      '+get',
      '+@read',
    ]);
  });

  it('refuses anything else, and rules that would touch passwords', () => {
    const refuse = (entries: string[]): void => {
      expect(() => parseRedisRules(entries, 'creation_statements')).toThrow(
        expect.objectContaining({ code: 'invalid_request' }),
      );
    };
    refuse(['+@read']);
    refuse(['["~*"]', '["+get"]']);
    refuse(['["~*", "nopass"]']);
    refuse(['["~*", ">secret"]']);
    refuse(['["~*", "resetpass"]']);
    refuse(['["~* +get"]']);
  });
});

it('formats {{expiration}} like Vault (Go layout "2006-01-02 15:04:05-0700")', () => {
  expect(formatExpiration(Date.UTC(2026, 4, 6, 7, 8, 9, 500))).toBe('2026-05-06 07:08:09+0000');
});
