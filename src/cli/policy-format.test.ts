import { describe, expect, it } from 'vitest';
import { parseHcl } from '../shared/hcl.js';
import { checkPolicyText, formatPolicy, PolicyTextError } from './policy-format.js';

const MESSY = [
  '# team policy',
  'name="team"',
  '   path "secret/data/team/*"   {capabilities=["read","list"]',
  '  required_parameters = ["a"]',
  '}',
  'path "sys/*" { capabilities = ["deny"] }',
  'path "secret/+/db" {',
  '  capabilities = [',
  '    "create",',
  '    "update",',
  '  ]',
  '  allowed_parameters { "*" = [] "ttl" = ["1h", "2h"] }',
  '  min_wrapping_ttl = 60',
  '}',
  '',
].join('\n');

const CANONICAL = [
  'name = "team"',
  '',
  'path "secret/data/team/*" {',
  '  capabilities        = ["read", "list"]',
  '  required_parameters = ["a"]',
  '}',
  '',
  'path "sys/*" {',
  '  capabilities = ["deny"]',
  '}',
  '',
  'path "secret/+/db" {',
  '  capabilities = ["create", "update"]',
  '  allowed_parameters = {',
  '    "*" = []',
  '    ttl = ["1h", "2h"]',
  '  }',
  '  min_wrapping_ttl = 60',
  '}',
  '',
].join('\n');

describe('formatPolicy', () => {
  it('rewrites messy HCL in the canonical layout, dropping comments', () => {
    expect(formatPolicy(MESSY)).toBe(CANONICAL);
  });

  it('is idempotent', () => {
    expect(formatPolicy(CANONICAL)).toBe(CANONICAL);
  });

  it('prints the JSON form as HCL with the same meaning', () => {
    const json = JSON.stringify({
      path: {
        'secret/*': { capabilities: ['read', 'list'] },
        'auth/token/create': { capabilities: ['update'], allowed_parameters: { ttl: [] } },
      },
    });
    const out = formatPolicy(json);
    expect(out).toBe(
      [
        'path "secret/*" {',
        '  capabilities = ["read", "list"]',
        '}',
        '',
        'path "auth/token/create" {',
        '  capabilities = ["update"]',
        '  allowed_parameters = {',
        '    ttl = []',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('escapes strings and keeps odd keys quoted, and the output parses back the same', () => {
    const text =
      'path "a\\"b\\\\c\\td" {\n  comment = "x\\u0001y"\n  "true" = 1.5\n  list = [{a = 1}, ["x"]]\n}\n';
    const out = formatPolicy(text);
    expect(out).toContain('path "a\\"b\\\\c\\td" {');
    expect(out).toContain('comment = "x\\u0001y"');
    expect(out).toContain('  "true"  = 1.5');
    expect(out).toContain('  list = [\n    {\n      a = 1\n    },\n    ["x"],\n  ]');
    const strip = (t: string) =>
      JSON.stringify(parseHcl(t), (key, value: unknown) =>
        key === 'line' || key === 'column' ? undefined : value,
      );
    expect(strip(out)).toBe(strip(text));
  });

  it('writes multi-line strings as heredocs', () => {
    const out = formatPolicy(
      'path "x" {\n  comment = "one\\ntwo\\n"\n  capabilities = ["read"]\n}',
    );
    expect(out).toBe(
      'path "x" {\n  comment = <<EOT\none\ntwo\nEOT\n  capabilities = ["read"]\n}\n',
    );
    expect(formatPolicy(out)).toBe(out);
  });

  it('prints empty blocks on one line', () => {
    expect(formatPolicy('path "x" {}')).toBe('path "x" {}\n');
  });
});

describe('checkPolicyText', () => {
  it('reports syntax errors with line and column', () => {
    expect(() => checkPolicyText('path "x" {\n  capabilities = ["read"\n}')).toThrow(/^3:1: /);
    expect(() => checkPolicyText('path "x" {\n  capabilities = ["read"\n}')).toThrow(
      PolicyTextError,
    );
  });

  it('refuses an empty policy and unknown top-level keys', () => {
    expect(() => checkPolicyText('  \n')).toThrow('the policy is empty');
    expect(() => checkPolicyText('path "a" {}\npaths "b" {}')).toThrow(
      /^2:1: unknown top-level key/,
    );
    expect(() => checkPolicyText('path = "x"')).toThrow(/^1:1: path must be a block/);
    expect(() => checkPolicyText('name = ["x"]')).toThrow(/^1:1: name must be a string/);
  });

  it('never quotes the text in its errors', () => {
    const error = (() => {
      try {
        checkPolicyText('path "x" { capabilities = hunter2secret }');
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(PolicyTextError);
    expect(error?.message).not.toContain('hunter2secret');
  });
});
