// Tests for the HCL v1 parser: Vault policy and config shapes, the JSON form, lexical rules,
// exact error positions, secrecy of error messages and the abuse limits.
import { describe, it, expect } from 'vitest';
import { CofferError } from '../sdk/errors.js';
import { HCL_DEFAULT_MAX_BYTES, hclToJson, isHclBody, isHclList, parseHcl } from './hcl.js';
import type { HclBody, HclParseOptions, HclValue } from './hcl.js';

/** The tree without positions, for comparing the HCL and JSON forms. */
function shape(body: HclBody): unknown[] {
  return body.items.map((item) => ({
    key: item.key,
    labels: item.labels,
    value: shapeValue(item.value),
  }));
}

function shapeValue(value: HclValue): unknown {
  if (isHclBody(value)) return { items: shape(value) };
  if (isHclList(value)) return value.map(shapeValue);
  return value;
}

function parseError(text: string, options?: HclParseOptions): CofferError {
  try {
    parseHcl(text, options);
  } catch (err) {
    if (err instanceof CofferError) return err;
    throw err;
  }
  throw new Error('expected a parse error');
}

/** The value of the first item: most lexical tests have one assignment. */
function valueOf(text: string): HclValue {
  const item = parseHcl(text).items[0];
  if (item === undefined) throw new Error('no item');
  return item.value;
}

const POLICY_HCL = `# Read access to the application's secrets
path "secret/data/*" {
  capabilities = ["create", "read", "update", "list"]
}

path "secret/data/restricted" {
  capabilities = ["create"]
  allowed_parameters = {
    "key" = ["a", "b"]
    "other" = []
  }
  min_wrapping_ttl = "1s"
  max_wrapping_ttl = "90s"
}

path "sys/*" { capabilities = ["deny"] }
`;

const POLICY_JSON = `{
  "path": {
    "secret/data/*": { "capabilities": ["create", "read", "update", "list"] },
    "secret/data/restricted": {
      "capabilities": ["create"],
      "allowed_parameters": { "key": ["a", "b"], "other": [] },
      "min_wrapping_ttl": "1s",
      "max_wrapping_ttl": "90s"
    },
    "sys/*": { "capabilities": ["deny"] }
  }
}`;

const POLICY_SHAPE = [
  {
    key: 'path',
    labels: ['secret/data/*'],
    value: {
      items: [{ key: 'capabilities', labels: [], value: ['create', 'read', 'update', 'list'] }],
    },
  },
  {
    key: 'path',
    labels: ['secret/data/restricted'],
    value: {
      items: [
        { key: 'capabilities', labels: [], value: ['create'] },
        {
          key: 'allowed_parameters',
          labels: [],
          value: {
            items: [
              { key: 'key', labels: [], value: ['a', 'b'] },
              { key: 'other', labels: [], value: [] },
            ],
          },
        },
        { key: 'min_wrapping_ttl', labels: [], value: '1s' },
        { key: 'max_wrapping_ttl', labels: [], value: '90s' },
      ],
    },
  },
  {
    key: 'path',
    labels: ['sys/*'],
    value: { items: [{ key: 'capabilities', labels: [], value: ['deny'] }] },
  },
];

describe('parseHcl: Vault policies', () => {
  it('parses path blocks with capability lists and nested allowed_parameters', () => {
    expect(shape(parseHcl(POLICY_HCL))).toEqual(POLICY_SHAPE);
  });

  it('records the position of every key', () => {
    const body = parseHcl(POLICY_HCL);
    const [first, second] = body.items;
    expect([first?.line, first?.column]).toEqual([2, 1]);
    expect([second?.line, second?.column]).toEqual([6, 1]);
    const inner = second?.value;
    if (inner === undefined || !isHclBody(inner)) throw new Error('block expected');
    expect(inner.items.map((i) => [i.key, i.line, i.column])).toEqual([
      ['capabilities', 7, 3],
      ['allowed_parameters', 8, 3],
      ['min_wrapping_ttl', 12, 3],
      ['max_wrapping_ttl', 13, 3],
    ]);
  });

  it('gives the same tree for the JSON form', () => {
    expect(shape(parseHcl(POLICY_JSON))).toEqual(POLICY_SHAPE);
    expect(hclToJson(parseHcl(POLICY_JSON))).toEqual(hclToJson(parseHcl(POLICY_HCL)));
  });

  it('flattens a JSON list of objects into repeated blocks, as HCL v1 does', () => {
    const json = `{"path": [{"secret/data/*": {"capabilities": ["create", "read", "update", "list"]}},
      {"secret/data/restricted": {"capabilities": ["create"],
        "allowed_parameters": {"key": ["a", "b"], "other": []},
        "min_wrapping_ttl": "1s", "max_wrapping_ttl": "90s"}},
      {"sys/*": {"capabilities": ["deny"]}}]}`;
    expect(shape(parseHcl(json))).toEqual(POLICY_SHAPE);
  });

  it('accepts the block form of allowed_parameters and several attributes on one line', () => {
    const body = parseHcl(
      'path "a" { capabilities = ["read"] comment = "c" allowed_parameters { "foo" = [] } }',
    );
    expect(shape(body)).toEqual([
      {
        key: 'path',
        labels: ['a'],
        value: {
          items: [
            { key: 'capabilities', labels: [], value: ['read'] },
            { key: 'comment', labels: [], value: 'c' },
            {
              key: 'allowed_parameters',
              labels: [],
              value: { items: [{ key: 'foo', labels: [], value: [] }] },
            },
          ],
        },
      },
    ]);
  });

  it('keeps repeated blocks and keys in source order', () => {
    const body = parseHcl('path "a" {}\npath "a" { capabilities = ["read"] }\nname = "x"');
    expect(body.items.map((i) => [i.key, i.labels])).toEqual([
      ['path', ['a']],
      ['path', ['a']],
      ['name', []],
    ]);
  });
});

describe('parseHcl: lexical rules', () => {
  it('skips #, // and /* */ comments everywhere, but not inside strings', () => {
    const text = [
      '# hash comment',
      '// slash comment',
      '/* block',
      '   spanning lines */ a = 1 /* inline */ b = 2 # trailing',
      'c = [1, /* in a list */ 2] // end',
      'd = "x # y // z /* w */"',
      '/* last */',
    ].join('\n');
    expect(hclToJson(parseHcl(text))).toEqual({ a: 1, b: 2, c: [1, 2], d: 'x # y // z /* w */' });
  });

  it('accepts a file that is only comments, and an empty file', () => {
    expect(parseHcl('# nothing here\n// nor here')).toEqual({ items: [] });
    expect(parseHcl('')).toEqual({ items: [] });
    expect(parseHcl('  \n\t ')).toEqual({ items: [] });
  });

  it('decodes string escapes', () => {
    expect(valueOf(String.raw`s = "q\"b\\s\n\t\u00e9\U0001F600\x41\101\a\v\f\r\b"`)).toBe(
      'q"b\\s\n\té😀AA\x07\v\f\r\b',
    );
  });

  it('keeps ${...} interpolations verbatim, quotes and all', () => {
    expect(valueOf('s = "a ${lookup(var.m, "k")} \\n"')).toBe('a ${lookup(var.m, "k")} \n');
  });

  it('parses numbers: integers, negatives, floats, exponents, hex and octal', () => {
    const body = parseHcl(
      'a = 1 b = -2 c = 1.5 d = -0.25e2 e = 0x1F f = 0755 g = 1e3 h = 0 i = 0.5',
    );
    expect(hclToJson(body)).toEqual({
      a: 1,
      b: -2,
      c: 1.5,
      d: -25,
      e: 31,
      f: 493,
      g: 1000,
      h: 0,
      i: 0.5,
    });
  });

  it('parses booleans, identifiers with dots and dashes, and quoted keys', () => {
    const body = parseHcl(
      'enabled = true\ndisabled = false\nfoo.bar-baz_1 = 1\n"key with spaces" = 2',
    );
    expect(hclToJson(body)).toEqual({
      enabled: true,
      disabled: false,
      'foo.bar-baz_1': 1,
      'key with spaces': 2,
    });
  });

  it('takes bare identifiers as block labels', () => {
    const body = parseHcl('storage sqlite { path = "/x" }');
    expect(body.items[0]?.labels).toEqual(['sqlite']);
  });

  it('parses lists with trailing commas, nesting and objects', () => {
    expect(valueOf('l = [\n  "a",\n  ["b", 2,],\n  { k = true },\n]')).toEqual([
      'a',
      ['b', 2],
      { items: [{ key: 'k', labels: [], value: true, line: 4, column: 5 }] },
    ]);
    expect(valueOf('l = []')).toEqual([]);
  });

  it('separates object literal items by commas or newlines', () => {
    const body = parseHcl('o = { a = 1, b = "x",\n c = [] \n d { e = 2 } }');
    expect(hclToJson(body)).toEqual({ o: { a: 1, b: 'x', c: [], d: { e: 2 } } });
  });

  it('reads heredocs, keeping the final line break', () => {
    const text = 'policy = <<EOF\npath "a" {\n  capabilities = ["read"]\n}\nEOF\nafter = 1\n';
    const body = parseHcl(text);
    expect(hclToJson(body)).toEqual({
      policy: 'path "a" {\n  capabilities = ["read"]\n}\n',
      after: 1,
    });
    expect(body.items[1]?.line).toBe(6);
  });

  it('unindents <<- heredocs by the closing line indentation', () => {
    const text = 'x = <<-EOT\n    line one\n      line two\n\n    line three\n    EOT\n';
    expect(valueOf(text)).toBe('line one\n  line two\n\nline three\n');
    // A line with less indentation than the closing anchor leaves the text as it is.
    expect(valueOf('x = <<-EOT\n    a\n  b\n    EOT')).toBe('    a\n  b\n');
  });

  it('handles empty heredocs, CRLF line ends, an anchor at end of input and heredocs in lists', () => {
    expect(valueOf('x = <<EOF\nEOF\n')).toBe('');
    expect(valueOf('x = <<EOF\r\nab\r\nEOF\r\n')).toBe('ab\r\n');
    expect(valueOf('x = <<EOF\nab\nEOF')).toBe('ab\n');
    expect(valueOf('x = [<<EOF\na\nEOF\n, "b"]')).toEqual(['a\n', 'b']);
    // Text that merely starts with the anchor does not close the heredoc.
    expect(valueOf('x = <<EOF\nEOFX\n  EOF\n')).toBe('EOFX\n');
  });

  it('skips a UTF-8 byte order mark', () => {
    const item = parseHcl('\uFEFFa = 1').items[0];
    expect([item?.key, item?.line, item?.column]).toEqual(['a', 1, 1]);
  });
});

describe('parseHcl: JSON form', () => {
  it('keeps duplicate and integer-like keys in source order', () => {
    const body = parseHcl('{"a": 1, "a": 2, "2": {"x": "y"}, "1": {"x": "z"}}');
    expect(body.items.map((i) => [i.key, i.labels])).toEqual([
      ['a', []],
      ['a', []],
      ['2', []],
      ['1', []],
    ]);
  });

  it('decodes JSON escapes and surrogate pairs', () => {
    expect(valueOf(String.raw`{"s": "\u00e9\ud83d\ude00\n\/\"\\"}`)).toBe('é😀\n/"\\');
  });

  it('records positions of JSON keys', () => {
    const item = parseHcl('{\n  "a": 1.5,\n  "b": -2e1\n}').items[1];
    expect([item?.key, item?.value, item?.line, item?.column]).toEqual(['b', -20, 3, 3]);
  });

  it('flattens only objects whose members are all objects', () => {
    // storage "inmem" {} and storage "sqlite" { path = ... } both come out as labelled blocks.
    const body = parseHcl('{"storage": {"inmem": {}}, "listener": {"tcp": {"address": "a:1"}}}');
    expect(shape(body)).toEqual([
      { key: 'storage', labels: ['inmem'], value: { items: [] } },
      {
        key: 'listener',
        labels: ['tcp'],
        value: { items: [{ key: 'address', labels: [], value: 'a:1' }] },
      },
    ]);
  });

  it('folds to the same JSON as HCL even where flattening goes deep', () => {
    const json = '{"path": {"a": {"allowed_parameters": {"k": ["x"]}}}}';
    const hcl = 'path "a" { allowed_parameters = { k = ["x"] } }';
    expect(hclToJson(parseHcl(json))).toEqual(hclToJson(parseHcl(hcl)));
  });

  it.each([
    ['{"a": 1,}', '1:9: expected a string key'],
    ['{"a": null}', '1:7: null is not supported'],
    ['{"a": 01}', '1:7: invalid number'],
    ['{"a": 1} x', '1:10: unexpected word'],
    ['{"a": 1} {}', "1:10: expected end of input after the JSON object, got '{'"],
    ['{"a" 1}', "1:6: expected ':' after the key, got a number"],
    ['{"a": 1 "b": 2}', "1:9: expected ',' or '}' after an object member, got a string"],
    ['{"a": [1 2]}', "1:10: expected ',' or ']' after an array element, got a number"],
    ['{"a": 1 // no comments\n}', '1:9: unexpected character'],
    ['{"a": "x\ny"}', '1:9: control character in string'],
    ['{"a": "\\ud800"}', '1:8: unpaired surrogate'],
    ['{"a": "\\q"}', '1:8: invalid escape sequence'],
    [
      '{"a": {"b": 1}',
      "1:15: expected '}' to close the block or object opened at 1:1, got end of input",
    ],
    ['{"a": tru}', '1:7: unexpected word'],
    ['{a: 1}', '1:2: unexpected word'],
    ['{"a" = 1}', '1:6: unexpected character'],
  ])('rejects %j at the right position', (text, message) => {
    const err = parseError(text);
    expect(err.code).toBe('invalid_request');
    expect(err.message.startsWith(message)).toBe(true);
  });
});

describe('parseHcl: errors carry exact positions', () => {
  it.each([
    // missing '='
    ['path "a" {\n  capabilities ["read"]\n}', "2:16: expected '=' or '{' after the key, got '['"],
    ['a 1', "1:3: expected '=' or '{' after the key, got a number"],
    ['a', "1:2: expected '=' or '{' after the key, got end of input"],
    ['a "b" = 1', "1:7: expected a label or '{' after the block labels, got '='"],
    // unterminated strings
    ['a = 1\nb = "abc', '2:5: unterminated string'],
    ['a = "abc\nb = 1', '1:5: unterminated string (a quoted string cannot span lines'],
    ['a = "${x"', '1:5: unterminated string'],
    // unbalanced braces and brackets
    [
      'path "a" {\n  capabilities = ["read"]\n',
      "3:1: expected '}' to close the block or object opened at 1:10, got end of input",
    ],
    ['a = 1\n}\n', "2:1: unexpected '}' (no block is open)"],
    ['a = [1, 2', "1:10: expected ']' to close the list opened at 1:5, got end of input"],
    ['a = [1 2]', "1:8: expected ',' or ']' after a list element, got a number"],
    ['a = [,]', '1:6: expected a value'],
    // bad tokens
    ['a = 1\nb = @', '2:5: unexpected character'],
    ['a = 1 / 2', '1:7: unexpected character'],
    ['a = <EOF', '1:5: unexpected character'],
    ['1 = 2', '1:1: expected a key (an identifier or a string), got a number'],
    ['true = 2', '1:1: expected a key (an identifier or a string), got a boolean'],
    [
      'a = b',
      '1:5: expected a value (a string, number, boolean, list or object), got an identifier',
    ],
    ['a = }', "1:5: expected a value (a string, number, boolean, list or object), got '}'"],
    ['a: 1', '1:2: unexpected character'],
    ['a = 1 /* never closed', '1:7: unterminated block comment'],
    // numbers
    ['t = 10s', '1:5: invalid number (quote durations'],
    ['n = 9007199254740993', '1:5: integer is too large'],
    ['o = 089', '1:5: invalid octal number'],
    ['f = 1.', '1:5: invalid number'],
    ['f = 1e400', '1:5: number is out of range'],
    ['h = 0x', '1:5: invalid number'],
    // escapes
    ['s = "ab\\qc"', '1:8: invalid escape sequence'],
    ['s = "\\uD800"', '1:6: invalid Unicode escape'],
    ['s = "\\u12"', '1:6: invalid escape sequence'],
    ['s = "\\777"', '1:6: invalid escape sequence'],
    // heredocs
    ['x = <<EOF\nabc\n', '1:5: unterminated heredoc'],
    ['x = <<EOF junk\nabc\nEOF\n', '1:5: heredoc anchor must be followed by a line break'],
    ['x = <<\nabc\n', '1:5: heredoc needs an anchor'],
  ])('%j', (text, message) => {
    const err = parseError(text);
    expect(err).toBeInstanceOf(CofferError);
    expect(err.code).toBe('invalid_request');
    expect(err.message.startsWith(message), err.message).toBe(true);
  });

  it('counts columns in code points, and a tab as one column', () => {
    expect(parseError('a = "😀😀" b = @').message).toMatch(/^1:14: unexpected character/);
    expect(parseError('\ta = @').message).toMatch(/^1:6: /);
  });

  it('never echoes string contents or bare words in messages', () => {
    const secret = 'hunter2-s3cr3t';
    for (const text of [
      `password = ${secret}`,
      `password = "${secret}`,
      `password = "${secret}\\q"`,
      `password = ${secret}}`,
      `{"password": ${secret}}`,
      `{"password": "${secret}`,
      `password = <<EOF\n${secret}\n`,
      `"${secret}" [`,
    ]) {
      const err = parseError(text);
      expect(err.message).not.toContain(secret);
      expect(err.message).not.toContain('hunter');
    }
  });
});

describe('parseHcl: limits', () => {
  const nestedObjects = (n: number): string => `a = ${'{ b = '.repeat(n)}1${' }'.repeat(n)}`;
  const nestedLists = (n: number): string => `a = ${'['.repeat(n)}${']'.repeat(n)}`;
  const nestedJson = (n: number): string => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;

  it('accepts nesting up to 64 levels', () => {
    expect(() => parseHcl(nestedObjects(64))).not.toThrow();
    expect(() => parseHcl(nestedLists(64))).not.toThrow();
    expect(() => parseHcl(nestedJson(64))).not.toThrow();
    expect(() => parseHcl('a { b { c = [[1]] } }', { maxDepth: 4 })).not.toThrow();
  });

  it('rejects the 65th level at the opening token', () => {
    // 'a = ' is 4 characters and every '{ b = ' is 6, so the 65th '{' is at column 389.
    expect(parseError(nestedObjects(65)).message).toBe('1:389: nesting is deeper than 64 levels');
    expect(parseError(nestedLists(65)).message).toBe('1:69: nesting is deeper than 64 levels');
    expect(parseError(nestedJson(65)).message).toBe('1:321: nesting is deeper than 64 levels');
    expect(parseError('a { b { c = [[1]] } }', { maxDepth: 3 }).message).toBe(
      '1:14: nesting is deeper than 3 levels',
    );
  });

  it('fails cleanly, not with a stack overflow, on hostile nesting', () => {
    for (const text of [
      `a = ${'['.repeat(200_000)}`,
      `a ${'{ b '.repeat(200_000)}`,
      '{"a":'.repeat(100_000),
    ]) {
      const err = parseError(text);
      expect(err.message).toMatch(/nesting is deeper than 64 levels/);
    }
  });

  it('rejects input larger than the byte limit, counting UTF-8 bytes', () => {
    const big = `a = "${'x'.repeat(HCL_DEFAULT_MAX_BYTES)}"`;
    expect(parseError(big).message).toBe(`input is larger than ${HCL_DEFAULT_MAX_BYTES} bytes`);
    // 10 UTF-16 units but 14 UTF-8 bytes.
    expect(parseError('a = "éééé"', { maxBytes: 10 }).message).toBe(
      'input is larger than 10 bytes',
    );
    expect(parseHcl('a = "éééé"', { maxBytes: 14 }).items).toHaveLength(1);
  });
});

describe('hclToJson', () => {
  it('folds blocks into nested objects keyed by label', () => {
    expect(hclToJson(parseHcl(POLICY_HCL))).toEqual({
      path: {
        'secret/data/*': { capabilities: ['create', 'read', 'update', 'list'] },
        'secret/data/restricted': {
          capabilities: ['create'],
          allowed_parameters: { key: ['a', 'b'], other: [] },
          min_wrapping_ttl: '1s',
          max_wrapping_ttl: '90s',
        },
        'sys/*': { capabilities: ['deny'] },
      },
    });
  });

  it('merges repeated blocks and objects', () => {
    const body = parseHcl(
      'listener "tcp" { a = 1 }\nlistener "tcp" { b = { c = 2 } }\nlistener "tcp" { b { d = 3 } }',
    );
    expect(hclToJson(body)).toEqual({ listener: { tcp: { a: 1, b: { c: 2, d: 3 } } } });
  });

  it('rejects a key set twice with values that cannot merge, at the second', () => {
    expect(() => hclToJson(parseHcl('a = 1\na = 2'))).toThrow(/^2:1: a: set more than once/);
    expect(() => hclToJson(parseHcl('x "y" { a = 1 }\nx "y" { a = [1] }'))).toThrow(/^2:1: /);
    expect(() => hclToJson(parseHcl('x = 1\nx "y" {}'))).toThrow(/^2:1: /);
  });

  it('keeps a __proto__ key as data and never touches prototypes', () => {
    const out = hclToJson(parseHcl('"__proto__" = { polluted = true }\nx "__proto__" { y = 1 }'));
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.stringify(out)).toBe('{"__proto__":{"polluted":true},"x":{"__proto__":{"y":1}}}');
  });
});
