import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { CofferError } from '../../sdk/errors.js';
import { MAX_POLICY_NAME_LENGTH, normalisePolicyName, parsePolicy } from './parse.js';
import type { PathRule, Policy } from './policy.js';

/** A rule as plain data, so HCL and JSON parses can be compared. */
function plain(rule: PathRule): Record<string, unknown> {
  return {
    pattern: rule.pattern,
    capabilities: [...rule.capabilities].sort(),
    allowed: rule.allowedParameters && Object.fromEntries(rule.allowedParameters),
    denied: rule.deniedParameters && Object.fromEntries(rule.deniedParameters),
    required: rule.requiredParameters,
    minWrap: rule.minWrappingTtlSeconds,
    maxWrap: rule.maxWrappingTtlSeconds,
  };
}

function rules(policy: Policy): Record<string, unknown>[] {
  return policy.rules.map(plain);
}

/** The message of the CofferError `fn` throws (fails the test if it does not throw one). */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CofferError);
    expect((error as CofferError).code).toBe('invalid_request');
    return (error as CofferError).message;
  }
  throw new Error('expected an error');
}

const HCL = `
# comment
name = "ignored"
path "secret/data/app/*" {
  capabilities = ["create", "read", "update", "patch", "delete", "list"]
}
path "/secret/metadata/+/config" {
  capabilities = ["read"] // trailing comment
  allowed_parameters {
    "Version" = []
    "kind" = ["a", "b*", 3, true]
  }
  denied_parameters = {
    "*" = []
  }
  required_parameters = ["Name"]
  min_wrapping_ttl = "1m"
  max_wrapping_ttl = 3600
  comment = "wrapping required"
}
`;

const JSON_FORM = JSON.stringify({
  name: 'ignored',
  path: {
    'secret/data/app/*': {
      capabilities: ['create', 'read', 'update', 'patch', 'delete', 'list'],
    },
    '/secret/metadata/+/config': {
      capabilities: ['read'],
      allowed_parameters: { Version: [], kind: ['a', 'b*', 3, true] },
      denied_parameters: { '*': [] },
      required_parameters: ['Name'],
      min_wrapping_ttl: '1m',
      max_wrapping_ttl: 3600,
      comment: 'wrapping required',
    },
  },
});

describe('parsePolicy', () => {
  it('reads HCL: patterns, capabilities, parameters, wrapping bounds, lines', () => {
    const policy = parsePolicy('App', HCL);
    expect(policy.name).toBe('app');
    expect(policy.raw).toBe(HCL);
    expect(rules(policy)).toEqual([
      {
        pattern: 'secret/data/app/*',
        capabilities: ['create', 'delete', 'list', 'patch', 'read', 'update'],
        allowed: undefined,
        denied: undefined,
        required: undefined,
        minWrap: undefined,
        maxWrap: undefined,
      },
      {
        pattern: 'secret/metadata/+/config',
        capabilities: ['read'],
        allowed: { version: [], kind: ['a', 'b*', 3, true] },
        denied: { '*': [] },
        required: ['name'],
        minWrap: 60,
        maxWrap: 3600,
      },
    ]);
    expect(policy.rules.map((rule) => rule.line)).toEqual([4, 7]);
  });

  it('gives the same rules for the HCL and the JSON form', () => {
    expect(rules(parsePolicy('a', JSON_FORM))).toEqual(rules(parsePolicy('a', HCL)));
  });

  it('folds back JSON blocks that HCL v1 flattens into labels', () => {
    // Every value of the block is an object, so HCL v1 reads these as extra labels.
    const json = JSON.stringify({
      path: { 'secret/*': { allowed_parameters: { a: [] }, denied_parameters: { b: ['x'] } } },
    });
    const merged = parsePolicy('p', json).rules.map(plain);
    expect(merged).toEqual([
      expect.objectContaining({ pattern: 'secret/*', allowed: { a: [] } }),
      expect.objectContaining({ pattern: 'secret/*', denied: { b: ['x'] } }),
    ]);
  });

  it('accepts the `path = { ... }` object form and a list of JSON path objects', () => {
    const object = parsePolicy('p', 'path = { "a/*" = { capabilities = ["read"] } }');
    expect(rules(object)).toEqual([expect.objectContaining({ pattern: 'a/*' })]);
    const list = parsePolicy(
      'p',
      JSON.stringify({
        path: [{ a: { capabilities: ['read'] } }, { b: { capabilities: ['list'] } }],
      }),
    );
    expect(list.rules.map((rule) => rule.pattern)).toEqual(['a', 'b']);
  });

  it('decodes base64 of HCL or JSON, keeping the decoded text as raw', () => {
    const encoded = Buffer.from(HCL).toString('base64');
    const policy = parsePolicy('a', encoded);
    expect(rules(policy)).toEqual(rules(parsePolicy('a', HCL)));
    expect(policy.raw).toBe(HCL);
    const wrapped = `${encoded.slice(0, 40)}\n${encoded.slice(40)}\n`;
    expect(rules(parsePolicy('a', wrapped))).toEqual(rules(policy));
    const json = Buffer.from(JSON_FORM).toString('base64');
    expect(rules(parsePolicy('a', json))).toEqual(rules(policy));
  });

  it('does not decode text that is not base64 of UTF-8 text', () => {
    // Valid base64 of bytes that are not UTF-8: parsed as HCL, which fails on its own terms.
    const binary = Buffer.from([0xc3, 0x28, 0x00]).toString('base64');
    expect(errorOf(() => parsePolicy('a', binary))).toMatch(/^1:\d+: expected/);
    // Base64 of a broken policy reports the decoded text's error.
    const broken = Buffer.from('path "a" {\n  capabilities = ["read"\n}').toString('base64');
    expect(errorOf(() => parsePolicy('a', broken))).toMatch(/^3:1: /);
  });

  describe('base64 bodies: only strict standard base64 of UTF-8 text is decoded', () => {
    const POLICY = 'path "a" { capabilities = ["read"] }'; // 36 bytes: base64 without padding
    const b64 = (text: string | Buffer) => Buffer.from(text).toString('base64');

    it('decodes with or without padding', () => {
      expect(b64(POLICY)).not.toContain('=');
      expect(parsePolicy('a', b64(POLICY)).raw).toBe(POLICY);
      expect(b64(`${POLICY}\n`)).toMatch(/==$/);
      expect(parsePolicy('a', b64(`${POLICY}\n`)).raw).toBe(`${POLICY}\n`);
      expect(b64(`${POLICY}\n\n`)).toMatch(/[^=]=$/);
      expect(parsePolicy('a', b64(`${POLICY}\n\n`)).raw).toBe(`${POLICY}\n\n`);
    });

    it('ignores line breaks anywhere and spaces or tabs around it', () => {
      const encoded = b64(POLICY);
      const text = ` \t${encoded.slice(0, 10)}\r\n${encoded.slice(10)}\n \t`;
      expect(parsePolicy('a', text).raw).toBe(POLICY);
    });

    it('does not decode base64 with its padding dropped, a space inside or other characters', () => {
      const padded = b64(`${POLICY}\n`);
      for (const text of [
        padded.replace(/=+$/, ''),
        `${padded.slice(0, 8)} ${padded.slice(8)}`,
        `!${padded}`,
        `${padded}!`,
      ]) {
        expect(
          errorOf(() => parsePolicy('a', text)),
          text,
        ).toMatch(/^1:\d+: /);
      }
    });

    it('does not decode bytes that are not UTF-8, even without control characters', () => {
      const invalid = Buffer.concat([Buffer.from(`${POLICY} # `), Buffer.from([0xff, 0xfe])]);
      expect(errorOf(() => parsePolicy('a', b64(invalid)))).toMatch(/^1:\d+: /);
    });

    it('drops a byte order mark in front of the decoded text', () => {
      const policy = parsePolicy('a', b64(`\uFEFF${POLICY}`));
      expect(policy.raw).toBe(POLICY);
      expect(policy.rules.map((rule) => rule.pattern)).toEqual(['a']);
    });

    it('keeps empty or blank text as given: no rules, nothing decoded', () => {
      for (const text of ['', '\n', ' \r\n\t']) {
        const policy = parsePolicy('a', text);
        expect(policy.rules).toEqual([]);
        expect(policy.raw).toBe(text);
      }
    });
  });

  it('maps the legacy policy words to capabilities as Vault does', () => {
    const caps = (word: string) =>
      [...parsePolicy('a', `path "x" { policy = "${word}" }`).rules[0]!.capabilities].sort();
    expect(caps('deny')).toEqual(['deny']);
    expect(caps('read')).toEqual(['list', 'read']);
    expect(caps('write')).toEqual(['create', 'delete', 'list', 'read', 'update']);
    expect(caps('sudo')).toEqual(['create', 'delete', 'list', 'read', 'sudo', 'update']);
    const both = parsePolicy('a', 'path "x" {\n policy = "read"\n capabilities = ["patch"]\n}');
    expect([...both.rules[0]!.capabilities].sort()).toEqual(['list', 'patch', 'read']);
  });

  it('lets deny wipe the rest of its block', () => {
    const policy = parsePolicy(
      'a',
      `path "x" {
        capabilities = ["read", "deny", "sudo"]
        allowed_parameters = { "a" = [] }
        max_wrapping_ttl = "1h"
      }`,
    );
    expect(rules(policy)).toEqual([
      {
        pattern: 'x',
        capabilities: ['deny'],
        allowed: undefined,
        denied: undefined,
        required: undefined,
        minWrap: undefined,
        maxWrap: undefined,
      },
    ]);
  });

  it('keeps repeated patterns as separate rules, each with its line (the ACL merges them)', () => {
    const policy = parsePolicy(
      'a',
      'path "x" { capabilities = ["read"] }\npath "x" { capabilities = ["list"] }',
    );
    expect(policy.rules.map((rule) => [rule.pattern, rule.line])).toEqual([
      ['x', 1],
      ['x', 2],
    ]);
  });

  it('accepts an empty policy and an empty block', () => {
    expect(parsePolicy('a', '').rules).toEqual([]);
    expect(parsePolicy('a', '# nothing\n').rules).toEqual([]);
    expect([...parsePolicy('a', 'path "x" {}').rules[0]!.capabilities]).toEqual([]);
  });

  describe('errors carry line:column', () => {
    const cases: [string, string, RegExp | string][] = [
      ['unknown top-level key', 'path "a" {}\nfoo = 1', '2:1: unknown key "foo"'],
      [
        'unknown block key',
        'path "a" {\n  capabilites = ["read"]\n}',
        '2:3: unknown key "capabilites"',
      ],
      ['Enterprise key', 'path "a" {\n  mfa_methods = ["x"]\n}', '2:3: unknown key "mfa_methods"'],
      [
        'unknown key in JSON',
        '{"path": {"a": {"capabilities": ["read"], "x": 1}}}',
        /^1:\d+: unknown key "x"$/,
      ],
      [
        'unknown capability',
        'path "a" {\n  capabilities = ["READ"]\n}',
        /^2:3: .*unknown capability "READ"/,
      ],
      [
        'subscribe',
        'path "a" {\n capabilities = ["subscribe"]\n}',
        /^2:2: .*"subscribe" is not supported/,
      ],
      ['scan', 'path "a" { capabilities = ["scan"] }', /^1:12: .*"scan" is not supported/],
      [
        'capabilities not a list',
        'path "a" { capabilities = "read" }',
        /^1:12: capabilities: must be a list/,
      ],
      [
        'capabilities twice',
        'path "a" {\ncapabilities = []\ncapabilities = []\n}',
        /^3:1: capabilities: set more than once/,
      ],
      ['bad legacy word', 'path "a" { policy = "all" }', /^1:12: policy: must be one of/],
      [
        '* in the middle',
        '\n\npath "a/*/b" {}',
        /^3:1: path "a\/\*\/b": "\*" is allowed only as the last/,
      ],
      ['+*', 'path "a/+*" {}', /^1:1: path "a\/\+\*": "\+\*" is forbidden/],
      ['+* inside a segment', 'path "a/b+*" {}', /"\+\*" is forbidden/],
      [
        'unbalanced template',
        'path "secret/{{identity.entity.id/*" {}',
        /^1:1: path .*unbalanced templating characters/,
      ],
      [
        'unknown template parameter',
        'path "secret/{{identity.entity.nickname}}/*" {}',
        /^1:1: path .*unknown template parameter "identity.entity.nickname"/,
      ],
      ['empty pattern', 'path "/" {}', /^1:1: path "\/": the pattern is empty/],
      ['path without a block', 'path = 1', '1:1: path: expected path "<pattern>" { ... }'],
      [
        'path member without a block',
        'path = { "a" = 1 }',
        '1:10: path "a": expected a block { ... }',
      ],
      [
        'parameter not a list',
        'path "a" {\n allowed_parameters = { "x" = "y" }\n}',
        /^2:25: allowed_parameters: "x" must be a list/,
      ],
      [
        'nested parameter value',
        'path "a" { denied_parameters = { "x" = [["y"]] } }',
        /^1:34: denied_parameters: "x" values must be/,
      ],
      [
        'parameter twice',
        'path "a" {\nallowed_parameters { "X" = [] }\nallowed_parameters { "x" = [] }\n}',
        /^3:22: allowed_parameters: "x" is set more than once/,
      ],
      [
        'bad duration',
        'path "a" {\n min_wrapping_ttl = "soon"\n}',
        /^2:2: min_wrapping_ttl: must be a duration/,
      ],
      [
        'max below min',
        'path "a" {\nmin_wrapping_ttl = "2h"\nmax_wrapping_ttl = "1h"\n}',
        /^3:1: max_wrapping_ttl: must not be less than min_wrapping_ttl/,
      ],
      ['syntax error', 'path "a" {\n  capabilities = ["read"\n}', /^3:1: /],
      ['name not a string', 'name = 3', /^1:1: name: must be a string/],
    ];
    for (const [what, text, expected] of cases) {
      it(what, () => {
        const message = errorOf(() => parsePolicy('p', text));
        if (typeof expected === 'string') expect(message).toBe(expected);
        else expect(message).toMatch(expected);
      });
    }
  });

  it('never echoes parameter values in errors', () => {
    const message = errorOf(() =>
      parsePolicy('p', 'path "a" { allowed_parameters = { "x" = [{ v = "s3cr3t-value" }] } }'),
    );
    expect(message).not.toContain('s3cr3t-value');
  });
});

describe('normalisePolicyName', () => {
  it('trims all surrounding whitespace and lower-cases', () => {
    expect(normalisePolicyName('Default')).toBe('default');
    expect(normalisePolicyName('  My-Policy\t')).toBe('my-policy');
    expect(normalisePolicyName('a b')).toBe('a b');
  });

  it('regression: ROOT, " root", "root\\t" and friends all become root', () => {
    for (const raw of [
      'ROOT',
      ' root',
      'root\t',
      '\troot\n',
      'Root\r\n',
      '\u00a0root\u2003',
      'rOoT ',
    ]) {
      expect(normalisePolicyName(raw)).toBe('root');
    }
  });

  it('rejects empty names, slashes, control and invisible characters, very long names', () => {
    for (const raw of [
      '',
      '   ',
      '\t\n',
      'a/b',
      '/root',
      'a\u0000b',
      'ro\u0007ot',
      'ro\u200bot',
      'root\u202e',
    ]) {
      expect(() => normalisePolicyName(raw), JSON.stringify(raw)).toThrow(CofferError);
    }
    expect(normalisePolicyName('a'.repeat(MAX_POLICY_NAME_LENGTH))).toHaveLength(
      MAX_POLICY_NAME_LENGTH,
    );
    expect(() => normalisePolicyName('a'.repeat(MAX_POLICY_NAME_LENGTH + 1))).toThrow(/at most/);
  });

  it('is applied by parsePolicy', () => {
    expect(parsePolicy(' ROOT\t', '').name).toBe('root');
    expect(() => parsePolicy('a/b', '')).toThrow(/name/);
  });
});

// Refusals and forms the first mutation run of parse.ts (bench/mutation.md) found unchecked.
describe('policy language: every refusal says where and what', () => {
  it('policy names: each refusal names the field and the reason', () => {
    expect(errorOf(() => normalisePolicyName('  '))).toBe('name: must not be empty');
    expect(errorOf(() => normalisePolicyName('a/b'))).toBe('name: must not contain "/"');
    expect(errorOf(() => normalisePolicyName('a\u200bb'))).toBe(
      'name: must not contain control or invisible characters',
    );
    expect(errorOf(() => normalisePolicyName('n'.repeat(MAX_POLICY_NAME_LENGTH + 1)))).toBe(
      `name: must be at most ${MAX_POLICY_NAME_LENGTH} characters`,
    );
  });

  it('the top-level name may be set once, as a string', () => {
    expect(rules(parsePolicy('p', 'name = "a"'))).toEqual([]);
    expect(errorOf(() => parsePolicy('p', 'name = "a"\nname = "b"'))).toBe(
      '2:1: name: set more than once',
    );
    expect(errorOf(() => parsePolicy('p', 'name "x" {\n}'))).toBe('1:1: name: must be a string');
    expect(errorOf(() => parsePolicy('p', 'name = 1'))).toBe('1:1: name: must be a string');
  });

  it('a label on any known block key is a misplaced block', () => {
    for (const key of [
      'capabilities',
      'policy',
      'allowed_parameters',
      'denied_parameters',
      'required_parameters',
      'min_wrapping_ttl',
      'max_wrapping_ttl',
      'comment',
    ]) {
      expect(
        errorOf(() => parsePolicy('p', `path "a" {\n  ${key} "x" {\n  }\n}`)),
        key,
      ).toBe(`2:3: ${key}: unexpected label "x"`);
    }
  });

  it('policy and comment must be strings; lists must hold strings; parameters must be a map', () => {
    expect(errorOf(() => parsePolicy('p', 'path "a" {\n policy = 1\n}'))).toBe(
      '2:2: policy: must be a string',
    );
    expect(errorOf(() => parsePolicy('p', 'path "a" {\n comment = 1\n}'))).toBe(
      '2:2: comment: must be a string',
    );
    expect(errorOf(() => parsePolicy('p', 'path "a" {\n capabilities = ["read", 1]\n}'))).toBe(
      '2:2: capabilities: must be a list of strings',
    );
    expect(errorOf(() => parsePolicy('p', 'path "a" {\n allowed_parameters = "x"\n}'))).toBe(
      '2:2: allowed_parameters: must be a map of parameter lists',
    );
    expect(errorOf(() => parsePolicy('p', 'path "a" {\n capabilities = ["recover"]\n}'))).toBe(
      '2:2: capabilities: capability "recover" is not supported',
    );
  });

  it('a pattern with a control character is refused; leading slashes are all dropped', () => {
    expect(
      errorOf(() => parsePolicy('p', '{"path": {"a\\u0001b": {"capabilities": ["read"]}}}')),
    ).toContain('control characters in the pattern');
    expect(rules(parsePolicy('p', 'path "//secret/x" {\n capabilities = ["read"]\n}'))).toEqual([
      expect.objectContaining({ pattern: 'secret/x' }),
    ]);
  });

  it('a long key is quoted cut short in the message', () => {
    const key = 'k'.repeat(100);
    expect(errorOf(() => parsePolicy('p', `${key} = 1`))).toBe(
      `1:1: unknown key "${'k'.repeat(77)}..."`,
    );
    const exactly80 = 'k'.repeat(80);
    expect(errorOf(() => parsePolicy('p', `${exactly80} = 1`))).toBe(
      `1:1: unknown key "${exactly80}"`,
    );
  });

  it('denied_parameters may be given in several blocks; equal wrapping bounds are allowed', () => {
    const [rule] = rules(
      parsePolicy(
        'p',
        'path "a" {\n capabilities = ["update"]\n denied_parameters = { "x" = [] }\n denied_parameters = { "y" = [] }\n min_wrapping_ttl = 60\n max_wrapping_ttl = 60\n}',
      ),
    );
    expect(rule).toMatchObject({ denied: { x: [], y: [] }, minWrap: 60, maxWrap: 60 });
  });
});
