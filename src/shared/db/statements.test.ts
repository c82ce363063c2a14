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

/** The error a call throws (it must throw). */
function refusal(action: () => unknown): { code?: unknown; message: string; field?: unknown } {
  try {
    action();
  } catch (err) {
    return err as { code?: unknown; message: string; field?: unknown };
  }
  throw new Error('expected a refusal');
}

describe('renderStatement neutralises injection attempts, for each driver and quoting', () => {
  // Each template is followed by a second statement on the next line; a value that broke out
  // of its quoting would change how the rendered text splits, or what the second statement is.
  const tail = `\n; SELECT 'tail'`;
  const render = (sql: string, dialect: 'postgres' | 'mysql', values: object): string[] =>
    splitSql(renderStatement(`${sql}${tail}`, dialect, values), dialect);

  it('PostgreSQL: a bare {{name}} or {{username}} is one quoted identifier', () => {
    const name = `x" SUPERUSER; DROP ROLE admin; --`;
    for (const placeholder of ['{{name}}', '{{username}}']) {
      expect(render(`CREATE ROLE ${placeholder} LOGIN`, 'postgres', { username: name })).toEqual([
        `CREATE ROLE "x"" SUPERUSER; DROP ROLE admin; --" LOGIN`,
        `SELECT 'tail'`,
      ]);
    }
  });

  it('PostgreSQL: a bare {{password}} or {{expiration}} is one literal, E-quoted with backslashes', () => {
    const password = `p' SUPERUSER; DROP ROLE admin; --`;
    expect(render(`CREATE ROLE a PASSWORD {{password}}`, 'postgres', { password })).toEqual([
      `CREATE ROLE a PASSWORD 'p'' SUPERUSER; DROP ROLE admin; --'`,
      `SELECT 'tail'`,
    ]);
    // libpq's escapeLiteral: with a backslash, an E'' string in which it is doubled.
    const expiration = `2030\\'; DROP ROLE admin; --`;
    expect(render(`ALTER ROLE a VALID UNTIL {{expiration}}`, 'postgres', { expiration })).toEqual([
      `ALTER ROLE a VALID UNTIL  E'2030\\\\''; DROP ROLE admin; --'`,
      `SELECT 'tail'`,
    ]);
  });

  it("PostgreSQL: inside '...' quotes are doubled and backslashes kept (standard strings)", () => {
    const password = `p\\'; DROP ROLE admin; --`;
    expect(render(`CREATE ROLE a PASSWORD '{{password}}'`, 'postgres', { password })).toEqual([
      `CREATE ROLE a PASSWORD 'p\\''; DROP ROLE admin; --'`,
      `SELECT 'tail'`,
    ]);
  });

  it("PostgreSQL: inside E'...' or e'...' backslashes are doubled too", () => {
    const password = `p\\'; DROP ROLE admin; --`;
    for (const e of ['E', 'e']) {
      expect(render(`CREATE ROLE a PASSWORD ${e}'{{password}}'`, 'postgres', { password })).toEqual(
        [`CREATE ROLE a PASSWORD ${e}'p\\\\''; DROP ROLE admin; --'`, `SELECT 'tail'`],
      );
    }
  });

  it('PostgreSQL: inside "..." double quotes are doubled; backslashes mean nothing there', () => {
    const name = `x\\"; DROP ROLE admin; --`;
    expect(render(`CREATE ROLE "{{name}}"`, 'postgres', { username: name })).toEqual([
      `CREATE ROLE "x\\""; DROP ROLE admin; --"`,
      `SELECT 'tail'`,
    ]);
  });

  it('PostgreSQL: in a comment a value is a whole literal, and cannot end a block comment', () => {
    expect(
      render(`SELECT 1 -- {{name}} {{password}}`, 'postgres', { username: 'n', password: 'p' }),
    ).toEqual([`SELECT 1 -- "n" 'p'`, `SELECT 'tail'`]);
    expect(render(`SELECT 1 /* {{name}} */`, 'postgres', { username: `n'` })).toEqual([
      `SELECT 1 /* "n'" */`,
      `SELECT 'tail'`,
    ]);
    for (const username of ['x */ DROP ROLE admin; /* y', 'x /* y']) {
      const err = refusal(() =>
        renderStatement(`SELECT 1 /* {{name}} */`, 'postgres', { username }),
      );
      expect([err.code, err.message]).toEqual([
        'invalid_request',
        '{{name}}: its value cannot be placed inside a block comment',
      ]);
    }
  });

  it('PostgreSQL: a dollar-quoted body takes values without a $, which could end it', () => {
    expect(
      render(`DO $$ BEGIN EXECUTE 'CREATE ROLE ' || {{name}}; END $$`, 'postgres', {
        username: `x'; --`,
      }),
    ).toEqual([`DO $$ BEGIN EXECUTE 'CREATE ROLE ' || "x'; --"; END $$`, `SELECT 'tail'`]);
    for (const [sql, key] of [
      [`DO $$ BEGIN PERFORM {{password}}; END $$`, 'password'],
      [`DO $body$ BEGIN PERFORM '{{expiration}}'; END $body$`, 'expiration'],
    ] as const) {
      const err = refusal(() =>
        renderStatement(sql, 'postgres', { password: 'a$$b', expiration: 'a$body$b' }),
      );
      expect([err.code, err.message]).toEqual([
        'invalid_request',
        `{{${key}}}: its value cannot be placed inside a dollar-quoted body`,
      ]);
    }
    // Outside a dollar quote a $ is an ordinary character, and outside a block comment so are
    // /* and */.
    expect(renderStatement(`SELECT '{{password}}'`, 'postgres', { password: 'a*/b/*c' })).toBe(
      `SELECT 'a*/b/*c'`,
    );
    expect(renderStatement(`SELECT '{{password}}'`, 'postgres', { password: 'a$$b' })).toBe(
      `SELECT 'a$$b'`,
    );
  });

  it('MySQL: inside \'...\' or "..." quotes and backslashes are backslash-escaped', () => {
    const name = `x\\'; DROP USER root; --`;
    expect(render(`CREATE USER '{{name}}'@'%'`, 'mysql', { username: name })).toEqual([
      `CREATE USER 'x\\\\\\'; DROP USER root; --'@'%'`,
      `SELECT 'tail'`,
    ]);
    const password = `p\\"; DROP USER root; --`;
    expect(render(`SET PASSWORD = "{{password}}"`, 'mysql', { password })).toEqual([
      `SET PASSWORD = "p\\\\\\"; DROP USER root; --"`,
      `SELECT 'tail'`,
    ]);
  });

  it('MySQL: inside `...` backticks are doubled; a bare value is one quoted literal', () => {
    expect(
      render('GRANT ALL ON `{{name}}`.* TO x', 'mysql', { username: 'a`; DROP USER root; --' }),
    ).toEqual(['GRANT ALL ON `a``; DROP USER root; --`.* TO x', `SELECT 'tail'`]);
    expect(
      render(`ALTER USER {{name}} IDENTIFIED BY {{password}}`, 'mysql', {
        username: `u'; --`,
        password: `p\\'; --`,
      }),
    ).toEqual([`ALTER USER 'u\\'; --' IDENTIFIED BY 'p\\\\\\'; --'`, `SELECT 'tail'`]);
  });

  it('MySQL: in a comment a value is a whole literal (/*! ... */ runs), and cannot end it', () => {
    expect(render(`SELECT 1 # {{name}}`, 'mysql', { username: `u'` })).toEqual([
      `SELECT 1 # 'u\\''`,
      `SELECT 'tail'`,
    ]);
    expect(render(`SELECT 1 /*!80000 , {{password}} */`, 'mysql', { password: `p'` })).toEqual([
      `SELECT 1 /*!80000 , 'p\\'' */`,
      `SELECT 'tail'`,
    ]);
    const err = refusal(() =>
      renderStatement(`SELECT 1 /* {{password}} */`, 'mysql', { password: 'x*/; DROP USER root' }),
    );
    expect(err.message).toBe('{{password}}: its value cannot be placed inside a block comment');
  });

  it('MySQL: -- begins a comment only before a space or control character, as MySQL reads it', () => {
    const username = 'x UNION SELECT authentication_string FROM mysql.user';
    expect(render(`SELECT 1--'{{name}}'`, 'mysql', { username })).toEqual([
      `SELECT 1--'${username}'`,
      `SELECT 'tail'`,
    ]);
    // In a comment the value is a whole literal of its own; in code it fills the quotes.
    for (const after of [' ', '\t', '\u007f']) {
      expect(renderStatement(`SELECT 1--${after}'{{name}}'`, 'mysql', { username: 'u' })).toBe(
        `SELECT 1--${after}''u''`,
      );
    }
    expect(renderStatement(`SELECT 1--x'{{name}}'`, 'mysql', { username: 'u' })).toBe(
      `SELECT 1--x'u'`,
    );
    // PostgreSQL: -- always begins a comment.
    expect(renderStatement(`SELECT 1--'{{name}}'`, 'postgres', { username: 'u' })).toBe(
      `SELECT 1--'"u"'`,
    );
  });

  it('refuses control characters (they could end a comment), and nothing printable', () => {
    for (const c of ['\u0000', '\t', '\n', '\r', '\u001a', '\u001f', '\u007f']) {
      for (const dialect of ['postgres', 'mysql'] as const) {
        const err = refusal(() =>
          renderStatement(`SELECT 1 -- {{password}}`, dialect, { password: `a${c}b` }),
        );
        expect([err.code, err.message], JSON.stringify(c)).toEqual([
          'invalid_request',
          '{{password}}: its value has control characters',
        ]);
      }
    }
    const printable = ' ~é€\u00a0𝄞';
    expect(renderStatement(`SELECT '{{name}}'`, 'mysql', { username: printable })).toBe(
      `SELECT '${printable}'`,
    );
  });

  it('fills each placeholder from its own value, and leaves the text around it as it was', () => {
    const values = { username: 'u', password: 'p', expiration: 'e' };
    expect(
      renderStatement(
        `{{name}}{{username}}{{password}}{{expiration}}{{other}} {{ name }} {name}`,
        'postgres',
        values,
      ),
    ).toBe(`"u""u"'p''e'{{other}} {{ name }} {name}`);
    expect(renderStatement(`{{username}} {{expiration}}`, 'mysql', { password: 'p' })).toBe(
      `{{username}} {{expiration}}`,
    );
    // Nothing else is touched: escapes, text the scanner stops in (a trailing backslash), and
    // words that mean something to JavaScript.
    for (const sql of [
      `SELECT 'a\\'b', E'c\\'d', "e\\"f" -- {{x}}`,
      `SELECT 'a\\`,
      `SELECT "a\\`,
      `SELECT /* a * / b`,
      `SELECT $$ a $`,
      `SELECT undefined, NaN`,
    ]) {
      for (const dialect of ['postgres', 'mysql'] as const) {
        expect(renderStatement(sql, dialect, values)).toBe(sql);
      }
    }
  });
});

describe('splitSql: where each driver ends a statement', () => {
  const cases: [string, 'postgres' | 'mysql', string[]][] = [
    // Operators that only look like the start of a comment.
    [`SELECT 1-2; SELECT 3`, 'postgres', ['SELECT 1-2', 'SELECT 3']],
    [`SELECT 1/2; SELECT 3`, 'mysql', ['SELECT 1/2', 'SELECT 3']],
    [`SELECT 1 # 2; SELECT 3`, 'postgres', ['SELECT 1 # 2', 'SELECT 3']],
    // Comments end where their kind ends.
    [`SELECT 1 -- a;\nSELECT 2; SELECT 3`, 'postgres', [`SELECT 1 -- a;\nSELECT 2`, 'SELECT 3']],
    [`SELECT /* a * b ; */ 1; SELECT 2`, 'postgres', ['SELECT /* a * b ; */ 1', 'SELECT 2']],
    [`SELECT /*/ ; */ 1; SELECT 2`, 'mysql', ['SELECT /*/ ; */ 1', 'SELECT 2']],
    // Backticks and $$ quote only in their own dialect.
    ['SELECT `a;b`', 'postgres', ['SELECT `a', 'b`']],
    [`SELECT $$a;b$$`, 'mysql', ['SELECT $$a', 'b$$']],
    // Backslashes escape in MySQL strings and PostgreSQL E'' strings only.
    [`CREATE ROLE "a\\"; SELECT 1`, 'postgres', [`CREATE ROLE "a\\"`, 'SELECT 1']],
    [`SELECT 'a\\'; SELECT 1`, 'postgres', [`SELECT 'a\\'`, 'SELECT 1']],
    [`SELECT E'a\\'; SELECT 1'`, 'postgres', [`SELECT E'a\\'; SELECT 1'`]],
    [`SELECT "a\\"; SELECT 1"`, 'mysql', [`SELECT "a\\"; SELECT 1"`]],
    // A dollar quote ends only at its own tag.
    [`DO $f$ a $$ ; $g$ b; $f$; SELECT 1`, 'postgres', [`DO $f$ a $$ ; $g$ b; $f$`, 'SELECT 1']],
    [`DO $_T1$ a; $_T1$; SELECT 1`, 'postgres', [`DO $_T1$ a; $_T1$`, 'SELECT 1']],
    // $1 is a parameter, not a tag.
    [`SELECT $1, $2; SELECT 3`, 'postgres', ['SELECT $1, $2', 'SELECT 3']],
    [`SELECT $1, $a$ ; $a$; SELECT 2`, 'postgres', ['SELECT $1, $a$ ; $a$', 'SELECT 2']],
  ];
  it.each(cases)('%j (%s)', (sql, dialect, parts) => {
    expect(splitSql(sql, dialect)).toEqual(parts);
  });
});

describe('expandSql: base64 and JSON entries', () => {
  const sqlOf = (entry: string): string[] => expandSql([entry], 'postgres', 'f').map((s) => s.sql);
  const b64 = (text: string): string => Buffer.from(text).toString('base64');

  it('decodes base64 of any padding, as short as four characters', () => {
    expect(sqlOf('YWJj')).toEqual(['abc']);
    expect(sqlOf(b64('SELECT 1'))).toEqual(['SELECT 1']); // one '='
    expect(sqlOf(b64('SELECT 12'))).toEqual(['SELECT 12']); // none
    expect(sqlOf(b64('SELECT'))).toEqual(['SELECT']); // none, 8 characters
    expect(sqlOf(b64('SELECT 123'))).toEqual(['SELECT 123']); // '=='
    expect(sqlOf(`  ${b64('SELECT 1')}  `)).toEqual(['SELECT 1']);
    expect(sqlOf(b64('SELECT 1;\n\tSELECT 2\r'))).toEqual(['SELECT 1', 'SELECT 2']);
    expect(sqlOf(b64('\n["SELECT 1", "SELECT 2"]'))).toEqual(['SELECT 1', 'SELECT 2']);
  });

  it('keeps an entry as typed when it is not base64 of printable UTF-8 text', () => {
    for (const entry of [
      'YWJ', // too short
      'YWJj!', // base64 then something else
      '!YWJj',
      'YW Jj',
      'YWJjZ',
      'YWJjZ=',
      'YWJjZ==',
      'YWJjZA=A',
      'wyhBQkNE', // not UTF-8
      'ICAgIA==', // only spaces
      ...['\b', '\u000b', '\f', '\u000e', '\u001f', '\u007f', '\u0000'].map((c) =>
        b64(`SELECT ${c}`),
      ),
    ]) {
      expect(sqlOf(entry), entry).toEqual([entry]);
    }
  });

  it('reads a JSON list of strings only; anything else is SQL text', () => {
    expect(sqlOf('["SELECT 1", "SELECT 2"]')).toEqual(['SELECT 1', 'SELECT 2']);
    expect(sqlOf('["SELECT 1", 2]')).toEqual(['["SELECT 1", 2]']);
    expect(sqlOf('[SELECT 1; SELECT 2')).toEqual(['[SELECT 1', 'SELECT 2']);
    expect(sqlOf('{"a": "SELECT 1"}')).toEqual(['{"a": "SELECT 1"}']);
    expect(sqlOf(b64('["SELECT 1", "SELECT 2"]'))).toEqual(['SELECT 1', 'SELECT 2']);
  });
});

describe('parseRedisRules: refusals', () => {
  const field = 'creation_statements';
  it('names the field and the rule', () => {
    let err = refusal(() => parseRedisRules(['["~*"]', '["+get"]'], field));
    expect([err.code, err.field, err.message]).toEqual([
      'invalid_request',
      field,
      'creation_statements: for redis-database-plugin must be one JSON list of ACL rules',
    ]);
    err = refusal(() => parseRedisRules(['+@read'], field));
    expect([err.field, err.message]).toEqual([
      'creation_statements[0]',
      'creation_statements[0]: must be a JSON list of Redis ACL rules, e.g. ["~*", "+@read"]',
    ]);
    for (const rule of ['', '  ', '~* +get', '+get\t-set']) {
      err = refusal(() => parseRedisRules([JSON.stringify(['~*', rule])], field));
      expect([err.field, err.message], rule).toEqual([
        'creation_statements[0]',
        'creation_statements[0]: ACL rule 2 is empty or has spaces',
      ]);
    }
    for (const rule of ['nopass', 'NoPass', 'resetpass', 'RESET', '>pw', '<pw', '#ab12', '!ab12']) {
      err = refusal(() => parseRedisRules([JSON.stringify(['~*', ` ${rule} `])], field));
      expect(err.message, rule).toBe(
        'creation_statements[0]: ACL rule 2 sets passwords, which Coffer manages',
      );
    }
  });

  it('accepts selectors, rules that only name passwords in passing, base64, and trims', () => {
    expect(
      parseRedisRules(
        ['[" ~app:* ", "(~log:* +get)", "resetkeys", "resetchannels", "~>x", "+@read"]'],
        field,
      ),
    ).toEqual(['~app:*', '(~log:* +get)', 'resetkeys', 'resetchannels', '~>x', '+@read']);
    const encoded = Buffer.from('["~*","+get"]').toString('base64');
    expect(parseRedisRules([` ${encoded} `], field)).toEqual(['~*', '+get']);
    const rules = parseRedisRules([], field);
    rules.push('+@all');
    expect(parseRedisRules([], field)).toEqual(['~*', '+@read']);
  });
});
