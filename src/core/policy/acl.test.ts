import { describe, expect, it } from 'vitest';
import type { Operation } from '../../sdk/engine.js';
import { compileAcl, type Acl } from './acl.js';
import { ROOT_POLICY } from './builtin.js';
import { parsePolicy } from './parse.js';
import type { Capability, Policy } from './policy.js';

function acl(...texts: string[]): Acl {
  return compileAcl(texts.map((text, i) => parsePolicy(`p${i}`, text)));
}

/** A policy of one-line rules: `rules('a/*', ['read'], 'b', ['list'])`. */
function rules(...pairs: (string | Capability[])[]): string {
  const out: string[] = [];
  for (let i = 0; i < pairs.length; i += 2) {
    out.push(`path "${String(pairs[i])}" { capabilities = ${JSON.stringify(pairs[i + 1])} }`);
  }
  return out.join('\n');
}

function allowed(
  a: Acl,
  operation: Operation,
  path: string,
  data?: Record<string, unknown>,
): boolean {
  return a.allowOperation({ operation, path, ...(data === undefined ? {} : { data }) }).allowed;
}

describe('matching', () => {
  it('an exact rule matches only its own path', () => {
    const a = acl(rules('secret/foo', ['read']));
    expect(allowed(a, 'read', 'secret/foo')).toBe(true);
    expect(allowed(a, 'read', 'secret/foo/bar')).toBe(false);
    expect(allowed(a, 'read', 'secret/fo')).toBe(false);
    expect(allowed(a, 'update', 'secret/foo')).toBe(false);
  });

  it('a trailing * is a prefix rule, also inside a segment', () => {
    const a = acl(rules('secret/zip-*', ['read']));
    expect(allowed(a, 'read', 'secret/zip-zap/zong')).toBe(true);
    expect(allowed(a, 'read', 'secret/zip-')).toBe(true);
    expect(allowed(a, 'read', 'secret/zip')).toBe(false);
    const all = acl(rules('*', ['list']));
    expect(allowed(all, 'list', 'anything/at/all/')).toBe(true);
  });

  it('+ matches exactly one non-empty segment', () => {
    const a = acl(rules('secret/+/config', ['read']));
    expect(allowed(a, 'read', 'secret/app/config')).toBe(true);
    expect(allowed(a, 'read', 'secret/a/b/config')).toBe(false);
    expect(allowed(a, 'read', 'secret/config')).toBe(false);
    expect(allowed(a, 'read', 'secret//config')).toBe(false);
    expect(allowed(a, 'read', 'secret/app/config/x')).toBe(false);
    const leading = acl(rules('+/data/*', ['read']));
    expect(allowed(leading, 'read', 'kv/data/a/b')).toBe(true);
    expect(allowed(leading, 'read', 'kv/metadata/a')).toBe(false);
  });

  it('with + present a trailing * stays a glob', () => {
    const a = acl(rules('secret/+/ab*', ['read'], 'x/+/*', ['list']));
    expect(allowed(a, 'read', 'secret/k/abc/d')).toBe(true);
    expect(allowed(a, 'read', 'secret/k/ab')).toBe(true);
    expect(allowed(a, 'read', 'secret/k/a')).toBe(false);
    expect(allowed(a, 'list', 'x/y/')).toBe(true);
    expect(allowed(a, 'list', 'x/y')).toBe(false);
  });

  it('a + inside a segment is a literal', () => {
    const a = acl(rules('secret/a+b', ['read']));
    expect(allowed(a, 'read', 'secret/a+b')).toBe(true);
    expect(allowed(a, 'read', 'secret/axb')).toBe(false);
  });

  it('rules led by a literal segment and rules starting with a wildcard rank together', () => {
    const a = acl(rules('+/b/c', ['read'], 'a/*', ['list'], 'a*', ['delete'], '*', ['sudo']));
    expect(a.capabilities('a/b/c')).toEqual(['list']);
    expect(a.capabilities('x/b/c')).toEqual(['read']);
    expect(a.capabilities('ab/x')).toEqual(['delete']);
    expect(a.capabilities('zzz')).toEqual(['sudo']);
  });

  it('an exact rule beats every glob', () => {
    const a = acl(rules('secret/*', ['read', 'update'], 'secret/locked', ['read']));
    expect(allowed(a, 'update', 'secret/locked')).toBe(false);
    expect(allowed(a, 'update', 'secret/other')).toBe(true);
  });
});

describe('priority among non-exact rules (vault-api.md §4.3)', () => {
  /** The pattern whose rule decides for `path`, among rules that each grant a marker. */
  function winner(path: string, ...patterns: string[]): string {
    const policy: Policy = {
      name: 'p',
      raw: '',
      rules: patterns.map((pattern) => ({ pattern, capabilities: new Set(['read']), line: 1 })),
    };
    const explanation = compileAcl([policy]).explain(path, 'read');
    const used = explanation.matches.filter((m) => m.used).map((m) => m.pattern);
    expect(used).toHaveLength(1);
    return used[0]!;
  }

  it('secret/+/+/foo/* loses to secret/* (same first wildcard, both globs, more + segments)', () => {
    expect(winner('secret/a/b/foo/x', 'secret/+/+/foo/*', 'secret/*')).toBe('secret/*');
    expect(winner('secret/a/b/foo/x', 'secret/*', 'secret/+/+/foo/*')).toBe('secret/*');
    const a = acl(rules('secret/+/+/foo/*', ['read'], 'secret/*', ['list']));
    expect(a.capabilities('secret/a/b/foo/x')).toEqual(['list']);
    expect(allowed(a, 'read', 'secret/a/b/foo/x')).toBe(false);
  });

  it('1: the later first wildcard wins', () => {
    expect(winner('foo/ab', 'foo/a*', 'foo/+')).toBe('foo/a*');
    expect(winner('foo/bar/x/baz', 'foo/+/bar/baz', 'foo/bar/+/baz')).toBe('foo/bar/+/baz');
    expect(winner('secret/zip/x', 'secret/*', 'secret/zip/*')).toBe('secret/zip/*');
  });

  it('2: at the same position, a rule not ending in * wins', () => {
    expect(winner('foo/x/bar', 'foo/+/ba*', 'foo/+/bar')).toBe('foo/+/bar');
    expect(winner('foo/x', 'foo/*', 'foo/+')).toBe('foo/+');
  });

  it('3: fewer + segments win', () => {
    expect(winner('foo/bar/x/baz', 'foo/+/+/baz', 'foo/+/x/baz')).toBe('foo/+/x/baz');
  });

  it('4: the longer pattern wins', () => {
    expect(winner('foo/x/bar/bat', 'foo/+/bar/b*', 'foo/+/bar/ba*')).toBe('foo/+/bar/ba*');
    // Length decides before the bytes do: the longer pattern here is the smaller in bytes.
    expect(winner('a/1/x/yy/qz', 'a/+/+/yy/q*', 'a/+/x/+/q*')).toBe('a/+/+/yy/q*');
  });

  it('the first wildcard of a + pattern is its first + character, even a literal one', () => {
    // "ab/c+d/+" has its first wildcard at 4 (the literal + of "c+d"); the glob "ab/c+*" at 5.
    expect(winner('ab/c+d/e', 'ab/c+*', 'ab/c+d/+')).toBe('ab/c+*');
  });

  it('5: the lexicographically larger pattern wins', () => {
    expect(winner('a/b/c', '+/+/c', '+/b/+')).toBe('+/b/+');
    expect(winner('a/b/c', '+/b/+', '+/+/c')).toBe('+/b/+');
  });
});

describe('list paths', () => {
  it('a list also takes the exact rule for the path without its trailing /', () => {
    const a = acl(rules('secret/dir', ['list'], 'secret/*', ['read']));
    expect(allowed(a, 'list', 'secret/dir/')).toBe(true);
    expect(allowed(a, 'list', 'secret/dir')).toBe(true);
    // Other operations on "secret/dir/" fall through to the glob.
    expect(allowed(a, 'read', 'secret/dir/')).toBe(true);
    expect(allowed(a, 'list', 'secret/other/')).toBe(false);
    // The path as given comes first.
    const both = acl(rules('secret/dir', ['list'], 'secret/dir/', ['read']));
    expect(allowed(both, 'list', 'secret/dir/')).toBe(false);
  });

  it('capabilities() looks the path up as a list, as Vault does', () => {
    const a = acl(rules('secret/dir', ['list', 'read']));
    expect(a.capabilities('secret/dir/')).toEqual(['list', 'read']);
  });
});

describe('several policies', () => {
  it('identical patterns merge: capabilities union', () => {
    const a = acl(rules('secret/*', ['read']), rules('secret/*', ['list']));
    expect(a.capabilities('secret/x')).toEqual(['list', 'read']);
    expect(allowed(a, 'list', 'secret/x')).toBe(true);
  });

  it('deny wins across policies, over sudo too, whatever the order', () => {
    for (const order of [
      [rules('secret/*', ['read', 'sudo']), rules('secret/*', ['deny'])],
      [rules('secret/*', ['deny']), rules('secret/*', ['read', 'sudo'])],
    ]) {
      const a = acl(...order);
      expect(a.capabilities('secret/x')).toEqual(['deny']);
      const decision = a.allowOperation({ operation: 'read', path: 'secret/x' });
      expect(decision).toMatchObject({ allowed: false, sudo: false, capabilities: ['deny'] });
    }
  });

  it('a deny in a rule given as a Set with other capabilities wipes them', () => {
    const policy: Policy = {
      name: 'p',
      raw: '',
      rules: [{ pattern: 'a', capabilities: new Set<Capability>(['read', 'deny']), line: 1 }],
    };
    expect(compileAcl([policy]).capabilities('a')).toEqual(['deny']);
  });

  it('different patterns never merge: only the top one applies', () => {
    const a = acl(rules('secret/*', ['read']), rules('secret/a*', ['update']));
    expect(a.capabilities('secret/ab')).toEqual(['update']);
    expect(allowed(a, 'read', 'secret/ab')).toBe(false);
    // A deny on a losing pattern does not reach the path either.
    const lowerDeny = acl(rules('secret/*', ['deny']), rules('secret/a*', ['read']));
    expect(allowed(lowerDeny, 'read', 'secret/ab')).toBe(true);
    expect(allowed(lowerDeny, 'read', 'secret/b')).toBe(false);
  });

  it('repeated patterns inside one policy merge like identical patterns across policies', () => {
    const a = acl(`${rules('x', ['read'])}\n${rules('x', ['update'])}`);
    expect(a.capabilities('x')).toEqual(['read', 'update']);
  });
});

describe('empty allow-list and root', () => {
  it('no policies deny everything', () => {
    const a = compileAcl([]);
    expect(a.isRoot).toBe(false);
    expect(allowed(a, 'read', 'secret/x')).toBe(false);
    expect(a.capabilities('secret/x')).toEqual(['deny']);
    expect(a.allowOperation({ operation: 'read', path: '' }).reason).toBe(
      'no rule matches the path',
    );
  });

  it('a policy without rules, or a rule without capabilities, denies', () => {
    expect(allowed(acl(''), 'read', 'a')).toBe(false);
    const empty = acl('path "a" {}');
    expect(empty.capabilities('a')).toEqual(['deny']);
    for (const operation of ['read', 'list', 'create', 'update', 'patch', 'delete'] as const) {
      expect(allowed(empty, operation, 'a')).toBe(false);
    }
    // An empty rule still wins over a broader grant.
    const shadow = acl(rules('a/*', ['read'], 'a/b', []));
    expect(allowed(shadow, 'read', 'a/b')).toBe(false);
  });

  it('the root policy allows everything with sudo', () => {
    const a = compileAcl([ROOT_POLICY]);
    expect(a.isRoot).toBe(true);
    const decision = a.allowOperation({ operation: 'delete', path: 'sys/raw/x', data: { a: 1 } });
    expect(decision).toMatchObject({ allowed: true, isRoot: true, sudo: true });
    expect(a.capabilities('anything')).toEqual(['root']);
    expect(a.hasAccessUnder('secret/')).toBe(true);
    expect(a.explain('x', 'read')).toMatchObject({
      isRoot: true,
      allowed: true,
      capabilities: ['root'],
    });
  });

  it('root takes effect only by its exact name', () => {
    const lookalike: Policy = { name: 'ROOT', rules: [], raw: '' };
    expect(compileAcl([lookalike]).isRoot).toBe(false);
    expect(allowed(compileAcl([lookalike]), 'read', 'x')).toBe(false);
  });
});

describe('sudo and the decision', () => {
  it('reports whether the deciding rule grants sudo', () => {
    const a = acl(rules('sys/audit/*', ['update', 'sudo'], 'sys/mounts/*', ['update']));
    expect(a.allowOperation({ operation: 'update', path: 'sys/audit/file' }).sudo).toBe(true);
    expect(a.allowOperation({ operation: 'update', path: 'sys/mounts/kv' }).sudo).toBe(false);
  });

  it('allows without allocating: the same decision object each time', () => {
    const a = acl(rules('secret/*', ['read']));
    const first = a.allowOperation({ operation: 'read', path: 'secret/a' });
    const second = a.allowOperation({ operation: 'read', path: 'secret/b' });
    expect(second).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(first.capabilities).toEqual(['read']);
    expect(first.reason).toBe('allowed by rule "secret/*"');
  });

  it('capability lists are sorted', () => {
    const a = acl(rules('a', ['update', 'sudo', 'read', 'create', 'list', 'delete', 'patch']));
    expect(a.capabilities('a')).toEqual([
      'create',
      'delete',
      'list',
      'patch',
      'read',
      'sudo',
      'update',
    ]);
  });
});

describe('parameter constraints', () => {
  const policy = `
path "app/config" {
  capabilities = ["create", "update", "patch", "read"]
  allowed_parameters = {
    "Name" = []
    "size" = ["small", "large"]
    "tier" = ["prod-*", "*-test", "*mid*"]
    "count" = [1, 2]
  }
  denied_parameters = {
    "size" = ["large"]
  }
}
path "app/req" {
  capabilities = ["update"]
  required_parameters = ["Owner"]
}
path "app/any" {
  capabilities = ["update"]
  allowed_parameters = { "*" = [] }
  denied_parameters = { "secret" = [] }
}
path "app/nothing" {
  capabilities = ["update"]
  denied_parameters = { "*" = [] }
}`;
  const a = acl(policy);
  const update = (path: string, data: Record<string, unknown>) =>
    a.allowOperation({ operation: 'update', path, data });

  it('a non-empty allow-list admits only the listed keys, compared lower-cased', () => {
    expect(update('app/config', { name: 'x' }).allowed).toBe(true);
    expect(update('app/config', { NAME: 'x', Size: 'small' }).allowed).toBe(true);
    const extra = update('app/config', { name: 'x', other: 1 });
    expect(extra.allowed).toBe(false);
    expect(extra.reason).toBe('rule "app/config": parameter "other" is not allowed');
  });

  it('values must be listed; strings glob with a leading or trailing *', () => {
    expect(update('app/config', { size: 'medium' }).allowed).toBe(false);
    expect(update('app/config', { tier: 'prod-eu' }).allowed).toBe(true);
    expect(update('app/config', { tier: 'eu-test' }).allowed).toBe(true);
    expect(update('app/config', { tier: 'a-mid-b' }).allowed).toBe(true);
    expect(update('app/config', { tier: 'staging' }).allowed).toBe(false);
    expect(update('app/config', { count: 2 }).allowed).toBe(true);
    expect(update('app/config', { count: '2' }).allowed).toBe(false);
  });

  it('denied beats allowed', () => {
    expect(update('app/config', { size: 'large' }).allowed).toBe(false);
    expect(update('app/config', { size: 'large' }).reason).toContain('parameter "size" is denied');
  });

  it('"*" in allowed admits other keys; denied still applies', () => {
    expect(update('app/any', { whatever: 1, more: 'x' }).allowed).toBe(true);
    expect(update('app/any', { Secret: 'x' }).allowed).toBe(false);
  });

  it('"*" in denied denies any body, but not an empty one', () => {
    expect(update('app/nothing', { a: 1 }).allowed).toBe(false);
    expect(update('app/nothing', {}).allowed).toBe(true);
  });

  it('required parameters must be present (lower-cased), even in an empty body', () => {
    expect(update('app/req', { owner: 'me' }).allowed).toBe(true);
    expect(update('app/req', { OWNER: 'me' }).allowed).toBe(true);
    expect(update('app/req', {}).allowed).toBe(false);
    expect(update('app/req', {}).reason).toContain('required parameter "owner" is missing');
  });

  it('applies only to create, update and patch', () => {
    expect(
      a.allowOperation({ operation: 'read', path: 'app/config', data: { other: 1 } }).allowed,
    ).toBe(true);
    for (const operation of ['create', 'patch'] as const) {
      expect(a.allowOperation({ operation, path: 'app/config', data: { other: 1 } }).allowed).toBe(
        false,
      );
    }
  });

  it('never puts values in the reason', () => {
    const decision = update('app/config', { size: 'large-secret-value' });
    expect(decision.allowed).toBe(false);
    expect(decision.reason).not.toContain('large-secret-value');
  });

  it('merges parameter maps of identical patterns: values unioned, an empty list wins', () => {
    const merged = acl(
      'path "p" {\n capabilities = ["update"]\n allowed_parameters = { "a" = ["1"], "b" = ["x"], "c" = [] }\n}',
      'path "p" {\n capabilities = ["update"]\n allowed_parameters = { "a" = ["2"], "b" = [], "c" = ["y"] }\n}',
    );
    const ok = (data: Record<string, unknown>) =>
      merged.allowOperation({ operation: 'update', path: 'p', data }).allowed;
    expect(ok({ a: '1' })).toBe(true);
    expect(ok({ a: '2' })).toBe(true);
    expect(ok({ a: '3' })).toBe(false);
    expect(ok({ b: 'anything' })).toBe(true);
    expect(ok({ c: 'anything' })).toBe(true);
    expect(ok({ d: 'x' })).toBe(false);
  });

  it('a deny merged into a pattern drops its parameter maps', () => {
    const merged = acl(
      'path "p" {\n capabilities = ["update"]\n allowed_parameters = { "a" = [] }\n}',
      rules('p', ['deny']),
    );
    expect(merged.allowOperation({ operation: 'update', path: 'p', data: { a: 1 } }).allowed).toBe(
      false,
    );
  });
});

describe('wrapping TTL bounds', () => {
  it('a rule with bounds requires wrapping within them', () => {
    const a = acl(
      'path "w" {\n capabilities = ["read"]\n min_wrapping_ttl = "1m"\n max_wrapping_ttl = "1h"\n}',
    );
    const read = (wrapTtlSeconds?: number) =>
      a.allowOperation({
        operation: 'read',
        path: 'w',
        ...(wrapTtlSeconds === undefined ? {} : { wrapTtlSeconds }),
      }).allowed;
    expect(read()).toBe(false);
    expect(read(30)).toBe(false);
    expect(read(60)).toBe(true);
    expect(read(3600)).toBe(true);
    expect(read(3601)).toBe(false);
  });

  it('identical patterns take the smaller non-zero bound; crossed bounds deny', () => {
    const a = acl(
      'path "w" {\n capabilities = ["read"]\n max_wrapping_ttl = "1h"\n}',
      'path "w" {\n capabilities = ["read"]\n max_wrapping_ttl = "10m"\n}',
    );
    expect(a.allowOperation({ operation: 'read', path: 'w', wrapTtlSeconds: 900 }).allowed).toBe(
      false,
    );
    expect(a.allowOperation({ operation: 'read', path: 'w', wrapTtlSeconds: 600 }).allowed).toBe(
      true,
    );
    const crossed = acl(
      'path "w" {\n capabilities = ["read"]\n min_wrapping_ttl = "2h"\n}',
      'path "w" {\n capabilities = ["read"]\n max_wrapping_ttl = "1h"\n}',
    );
    expect(
      crossed.allowOperation({ operation: 'read', path: 'w', wrapTtlSeconds: 5400 }).allowed,
    ).toBe(false);
  });
});

describe('explain', () => {
  it('lists every matching rule of every policy and marks the deciding one', () => {
    const a = compileAcl([
      parsePolicy(
        'app',
        'path "secret/*" {\n  capabilities = ["read"]\n}\npath "secret/+/x" {\n  capabilities = ["list"]\n}',
      ),
      parsePolicy(
        'ops',
        '\npath "secret/*" {\n  capabilities = ["update"]\n}\npath "other" {\n  capabilities = ["read"]\n}',
      ),
    ]);
    const explanation = a.explain('secret/a/x', 'read');
    expect(explanation).toMatchObject({
      path: 'secret/a/x',
      operation: 'read',
      allowed: false,
      capabilities: ['list'],
      isRoot: false,
      reason: 'rule "secret/+/x": does not grant read',
    });
    expect(explanation.matches).toEqual([
      {
        policy: 'app',
        pattern: 'secret/+/x',
        line: 4,
        capabilities: ['list'],
        kind: 'glob',
        used: true,
      },
      {
        policy: 'app',
        pattern: 'secret/*',
        line: 1,
        capabilities: ['read'],
        kind: 'glob',
        used: false,
      },
      {
        policy: 'ops',
        pattern: 'secret/*',
        line: 2,
        capabilities: ['update'],
        kind: 'glob',
        used: false,
      },
    ]);
  });

  it('without an operation, reports capabilities and the exact rule as a list would', () => {
    const a = acl(rules('secret/dir', ['list'], 'secret/*', ['read']));
    const explanation = a.explain('secret/dir/');
    expect(explanation.allowed).toBeUndefined();
    expect(explanation.capabilities).toEqual(['list']);
    expect(explanation.matches.map((m) => [m.pattern, m.kind, m.used])).toEqual([
      ['secret/dir', 'exact', true],
      ['secret/*', 'glob', false],
    ]);
    expect(acl('').explain('nowhere')).toMatchObject({
      capabilities: ['deny'],
      matches: [],
      reason: 'no rule matches the path',
    });
  });
});

describe('hasAccessUnder (the KV-version probe)', () => {
  it('is true when some rule grants something inside the mount', () => {
    expect(acl(rules('secret/data/app', ['read'])).hasAccessUnder('secret/')).toBe(true);
    expect(acl(rules('secret/data/*', ['read'])).hasAccessUnder('secret/')).toBe(true);
    expect(acl(rules('+/data/*', ['read'])).hasAccessUnder('secret/')).toBe(true);
    expect(acl(rules('sec*', ['list'])).hasAccessUnder('secret/')).toBe(true);
    expect(acl(rules('a/+/c', ['read'])).hasAccessUnder('a/b/')).toBe(true);
  });

  it('is false for other mounts, deny rules and rules without capabilities', () => {
    expect(acl(rules('kv/data/*', ['read'])).hasAccessUnder('secret/')).toBe(false);
    expect(acl(rules('secret/data/*', ['deny'])).hasAccessUnder('secret/')).toBe(false);
    expect(acl(rules('secret/data/*', [])).hasAccessUnder('secret/')).toBe(false);
    expect(acl(rules('a/x/*', ['read'])).hasAccessUnder('a/b/')).toBe(false);
    expect(compileAcl([]).hasAccessUnder('secret/')).toBe(false);
  });
});

// Promises the first mutation run of acl.ts (bench/mutation.md) found unchecked: each test
// below fails with one of the mutants it listed.
describe('parameter values match as Vault globs them, exactly', () => {
  const a = acl(`
path "v" {
  capabilities = ["update"]
  allowed_parameters = {
    "p" = ["ab*"]
    "p2" = ["a*"]
    "s" = ["*yz"]
    "c" = ["*mid*"]
    "e" = ["exact"]
    "star" = ["*"]
    "n" = [5]
  }
}`);
  const ok = (data: Record<string, unknown>) =>
    a.allowOperation({ operation: 'update', path: 'v', data }).allowed;

  it('"x*" is a prefix only: it does not match elsewhere in the value', () => {
    expect(ok({ p: 'abc' })).toBe(true);
    expect(ok({ p: 'ab' })).toBe(true);
    expect(ok({ p: 'xab' })).toBe(false);
    expect(ok({ p: 'axb' })).toBe(false);
    expect(ok({ p2: 'azz' })).toBe(true);
    expect(ok({ p2: 'za' })).toBe(false);
  });

  it('"*x" is a suffix only, "*x*" a substring', () => {
    expect(ok({ s: 'xyz' })).toBe(true);
    expect(ok({ s: 'yzx' })).toBe(false);
    expect(ok({ c: 'amidb' })).toBe(true);
    expect(ok({ c: 'mi' })).toBe(false);
  });

  it('a value without a * (and a lone "*") matches only itself', () => {
    expect(ok({ e: 'exact' })).toBe(true);
    expect(ok({ e: 'exactly' })).toBe(false);
    expect(ok({ e: 'xexact' })).toBe(false);
    expect(ok({ e: 'xact' })).toBe(false);
    expect(ok({ star: '*' })).toBe(true);
    expect(ok({ star: 'anything' })).toBe(false);
  });

  it('globs match strings only; a number matches the same number, never an object or array', () => {
    expect(ok({ p: 5 })).toBe(false);
    expect(ok({ s: 5 })).toBe(false);
    expect(ok({ c: 5 })).toBe(false);
    expect(ok({ n: 5 })).toBe(true);
    expect(ok({ n: {} })).toBe(false);
    expect(ok({ n: [] })).toBe(false);
    expect(ok({ n: '5' })).toBe(false);
  });
});

describe('parameter lists: what an allow-list, a required list and "*" admit', () => {
  it('an allow-list naming one parameter refuses every other one', () => {
    const a = acl(
      'path "one" {\n capabilities = ["update"]\n allowed_parameters = { "only" = [] }\n}',
    );
    const update = (data: Record<string, unknown>) =>
      a.allowOperation({ operation: 'update', path: 'one', data });
    expect(update({ only: 'x' }).allowed).toBe(true);
    expect(update({ other: 'x' }).allowed).toBe(false);
    expect(update({ other: 'x' }).reason).toBe('rule "one": parameter "other" is not allowed');
  });

  it('"*" beside named parameters admits other names but still checks the named values', () => {
    const a = acl(
      'path "mix" {\n capabilities = ["update"]\n allowed_parameters = { "*" = [], "size" = ["small"] }\n}',
    );
    const update = (data: Record<string, unknown>) =>
      a.allowOperation({ operation: 'update', path: 'mix', data });
    expect(update({ size: 'small', other: 1 }).allowed).toBe(true);
    expect(update({ size: 'large' }).allowed).toBe(false);
    expect(update({ size: 'large' }).reason).toBe(
      'rule "mix": a value of parameter "size" is not allowed',
    );
  });

  it('another parameter does not stand in for a missing required one', () => {
    const a = acl('path "req" {\n capabilities = ["update"]\n required_parameters = ["owner"]\n}');
    const decision = a.allowOperation({ operation: 'update', path: 'req', data: { other: 1 } });
    expect(decision.allowed).toBe(false);
    expect(decision.reason).toBe('rule "req": required parameter "owner" is missing');
  });

  it('an empty allowed_parameters or denied_parameters map restricts nothing, also merged', () => {
    const empty =
      'path "e" {\n capabilities = ["update"]\n allowed_parameters = {}\n denied_parameters = {}\n}';
    const restricted =
      'path "e" {\n capabilities = ["update"]\n allowed_parameters = { "only" = [] }\n}';
    const update = (a: Acl, data: Record<string, unknown>) =>
      a.allowOperation({ operation: 'update', path: 'e', data }).allowed;
    expect(update(acl(empty), { anything: 1 })).toBe(true);
    for (const merged of [acl(empty, restricted), acl(restricted, empty)]) {
      expect(update(merged, { only: 1 })).toBe(true);
      expect(update(merged, { anything: 1 })).toBe(false);
    }
  });

  it('"*" in denied_parameters names its reason', () => {
    const a = acl(
      'path "none" {\n capabilities = ["update"]\n denied_parameters = { "*" = [] }\n}',
    );
    expect(a.allowOperation({ operation: 'update', path: 'none', data: { a: 1 } }).reason).toBe(
      'rule "none": every parameter is denied',
    );
  });
});

describe("only the body's own keys are parameters, never inherited ones", () => {
  // A polluted prototype must neither satisfy a required parameter nor trip a denied one.
  const a = acl(`
path "req" {
  capabilities = ["update"]
  required_parameters = ["owner"]
}
path "none" {
  capabilities = ["update"]
  denied_parameters = { "*" = [] }
}
path "any" {
  capabilities = ["update"]
  allowed_parameters = { "*" = [] }
  denied_parameters = { "secret" = [] }
}
path "one" {
  capabilities = ["update"]
  allowed_parameters = { "only" = [] }
}`);
  const update = (path: string, data: Record<string, unknown>) =>
    a.allowOperation({ operation: 'update', path, data });
  /** A body whose prototype holds `inherited` and which itself holds `own`. */
  const body = (inherited: Record<string, unknown>, own: Record<string, unknown> = {}) =>
    Object.assign(Object.create(inherited) as Record<string, unknown>, own);

  it('an inherited key is not a required parameter', () => {
    expect(update('req', body({ owner: 'x' })).allowed).toBe(false);
    expect(update('req', body({ Owner: 'x' }, { other: 1 })).allowed).toBe(false);
    expect(update('req', body({}, { Owner: 'x' })).allowed).toBe(true);
  });

  it('a body with only inherited keys is empty', () => {
    expect(update('none', body({ a: 1 })).allowed).toBe(true);
  });

  it('an inherited key is neither denied nor refused by an allow-list', () => {
    expect(update('any', body({ secret: 'x' }, { other: 1 })).allowed).toBe(true);
    expect(update('one', body({ other: 'x' }, { only: 1 })).allowed).toBe(true);
  });
});

describe('merging identical patterns keeps every restriction either rule sets', () => {
  const merged = (first: string, second: string) =>
    acl(
      `path "m" {\n capabilities = ["update", "read"]\n${first}\n}`,
      `path "m" {\n capabilities = ["read"]\n${second}\n}`,
    );

  it('a parameter restriction survives a merge with an unrestricted rule, in either order', () => {
    for (const [x, y] of [
      ['allowed_parameters = { "a" = ["1"] }', ''],
      ['', 'allowed_parameters = { "a" = ["1"] }'],
    ] as const) {
      const m = merged(x, y);
      const ok = (data: Record<string, unknown>) =>
        m.allowOperation({ operation: 'update', path: 'm', data }).allowed;
      expect(ok({ a: '1' }), `${x} | ${y}`).toBe(true);
      expect(ok({ a: '2' }), `${x} | ${y}`).toBe(false);
      expect(ok({ b: '1' }), `${x} | ${y}`).toBe(false);
    }
  });

  it('a parameter named only by the second rule joins the merged allow-list with its values', () => {
    const m = merged(
      'allowed_parameters = { "a" = ["1"] }',
      'allowed_parameters = { "d" = ["x"] }',
    );
    const ok = (data: Record<string, unknown>) =>
      m.allowOperation({ operation: 'update', path: 'm', data }).allowed;
    expect(ok({ d: 'x' })).toBe(true);
    expect(ok({ d: 'y' })).toBe(false);
    expect(ok({ a: '1' })).toBe(true);
  });

  it('required parameters of both rules are all required', () => {
    const m = merged('required_parameters = ["a"]', 'required_parameters = ["B", "a"]');
    const update = (data: Record<string, unknown>) =>
      m.allowOperation({ operation: 'update', path: 'm', data });
    expect(update({ a: 1, b: 2 }).allowed).toBe(true);
    expect(update({ a: 1 }).reason).toBe('rule "m": required parameter "b" is missing');
    expect(update({ b: 1 }).reason).toBe('rule "m": required parameter "a" is missing');
  });

  it('a wrapping bound set by only one rule survives, in either order; of two, the smaller', () => {
    const read = (m: Acl, wrapTtlSeconds?: number) =>
      m.allowOperation({
        operation: 'read',
        path: 'm',
        ...(wrapTtlSeconds === undefined ? {} : { wrapTtlSeconds }),
      }).allowed;
    for (const [x, y] of [
      ['max_wrapping_ttl = 60', ''],
      ['', 'max_wrapping_ttl = 60'],
      ['max_wrapping_ttl = 120', 'max_wrapping_ttl = 60'],
      ['max_wrapping_ttl = 60', 'max_wrapping_ttl = 120'],
    ] as const) {
      const m = merged(x, y);
      expect(read(m, 60), `${x} | ${y}`).toBe(true);
      expect(read(m, 61), `${x} | ${y}`).toBe(false);
      expect(read(m), `${x} | ${y}`).toBe(false);
    }
    for (const [x, y] of [
      ['min_wrapping_ttl = 60', ''],
      ['', 'min_wrapping_ttl = 60'],
      ['min_wrapping_ttl = 120', 'min_wrapping_ttl = 60'],
    ] as const) {
      const m = merged(x, y);
      expect(read(m, 60), `${x} | ${y}`).toBe(true);
      expect(read(m, 59), `${x} | ${y}`).toBe(false);
      expect(read(m), `${x} | ${y}`).toBe(false);
    }
  });
});

describe('a wrapping bound alone requires wrapping', () => {
  it('only max_wrapping_ttl, or only min_wrapping_ttl: an unwrapped request is denied, naming why', () => {
    const a = acl(
      'path "max" {\n capabilities = ["read"]\n max_wrapping_ttl = 60\n}\npath "min" {\n capabilities = ["read"]\n min_wrapping_ttl = 60\n}',
    );
    const max = a.allowOperation({ operation: 'read', path: 'max' });
    expect(max.allowed).toBe(false);
    expect(max.reason).toBe('rule "max": requires response wrapping within max_wrapping_ttl');
    const min = a.allowOperation({ operation: 'read', path: 'min' });
    expect(min.allowed).toBe(false);
    expect(min.reason).toBe('rule "min": requires response wrapping of at least min_wrapping_ttl');
  });
});

describe('decisions say exactly what decided', () => {
  it('a deny rule says it denies; no match allows nothing and claims neither root nor sudo', () => {
    const a = compileAcl([parsePolicy('a', rules('d', ['deny'])), parsePolicy('b', '')]);
    expect(a.policyNames).toEqual(['a', 'b']);
    expect(a.allowOperation({ operation: 'read', path: 'd' }).reason).toBe('rule "d": denies');
    expect(a.allowOperation({ operation: 'read', path: 'elsewhere' })).toEqual({
      allowed: false,
      isRoot: false,
      sudo: false,
      capabilities: [],
      reason: 'no rule matches the path',
    });
  });

  it('an allow by a rule is not a root decision', () => {
    const a = acl(rules('ok', ['read']));
    expect(a.allowOperation({ operation: 'read', path: 'ok' })).toEqual({
      allowed: true,
      isRoot: false,
      sudo: false,
      capabilities: ['read'],
      reason: 'allowed by rule "ok"',
    });
  });

  it('the root ACL explains itself without matches, with or without an operation', () => {
    const root = compileAcl([ROOT_POLICY]);
    expect(root.explain('any/path')).toStrictEqual({
      path: 'any/path',
      capabilities: ['root'],
      isRoot: true,
      matches: [],
      reason: 'the root policy allows everything',
    });
    expect(root.explain('any/path', 'delete')).toEqual({
      path: 'any/path',
      operation: 'delete',
      allowed: true,
      capabilities: ['root'],
      isRoot: true,
      matches: [],
      reason: 'the root policy allows everything',
    });
  });
});

describe('explain names the deciding rule and only the rules that match', () => {
  const a = acl(rules('secret/app', ['read'], 'secret/*', ['list'], 'kv/+/x', ['read']));
  const summary = (e: ReturnType<Acl['explain']>) =>
    e.matches.map((m) => [m.pattern, m.kind, m.used]);

  it('without an operation: the exact rule, the list fallback, a glob, or nothing', () => {
    expect(a.explain('secret/app')).toEqual({
      path: 'secret/app',
      capabilities: ['read'],
      isRoot: false,
      matches: a.explain('secret/app').matches,
      reason: 'exact rule "secret/app" decides',
    });
    expect(summary(a.explain('secret/app'))).toEqual([
      ['secret/app', 'exact', true],
      ['secret/*', 'glob', false],
    ]);
    expect(a.explain('secret/app/').reason).toBe(
      'exact rule "secret/app" decides (a list path without its trailing "/")',
    );
    expect(a.explain('secret/other').reason).toBe('rule "secret/*" decides');
    expect(summary(a.explain('secret/other/'))).toEqual([['secret/*', 'glob', true]]);
    // Only a path ending in "/" takes the exact rule without its last character.
    expect(summary(a.explain('secret/appz'))).toEqual([['secret/*', 'glob', true]]);
    expect(a.explain('elsewhere').reason).toBe('no rule matches the path');
  });

  it('with a non-list operation there is no list fallback', () => {
    const read = a.explain('secret/app/', 'read');
    expect(read.operation).toBe('read');
    expect(summary(read)).toEqual([['secret/*', 'glob', true]]);
    expect(read.capabilities).toEqual(['list']);
    const list = a.explain('secret/app/', 'list');
    expect(summary(list)).toEqual([
      ['secret/app', 'exact', true],
      ['secret/*', 'glob', false],
    ]);
    expect(list.allowed).toBe(false);
    expect('operation' in a.explain('secret/app')).toBe(false);
  });
});

describe('hasAccessUnder with segment wildcards and mount paths', () => {
  it('a + rule reaches under the mount it starts with, and no other', () => {
    expect(acl(rules('secret/+/config', ['read'])).hasAccessUnder('secret/')).toBe(true);
    expect(acl(rules('secret/+/config', ['read'])).hasAccessUnder('secret')).toBe(true);
    expect(acl(rules('secret/+/config', ['read'])).hasAccessUnder('other/')).toBe(false);
    expect(acl(rules('team/+/x', ['read'])).hasAccessUnder('team/kv/')).toBe(true);
    expect(acl(rules('team/a/+', ['read'])).hasAccessUnder('team/kv/')).toBe(false);
  });

  it('a + rule ending in a glob reaches a mount whose last segment the glob begins', () => {
    // The mount path itself is denied by an exact rule, so only the walk can find the grant.
    const deniedMount = rules('team/kv/', ['deny']);
    expect(acl(deniedMount, rules('+/k*', ['read'])).hasAccessUnder('team/kv/')).toBe(true);
    expect(acl(deniedMount, rules('+/q*', ['read'])).hasAccessUnder('team/kv/')).toBe(false);
    expect(acl(deniedMount).hasAccessUnder('team/kv/')).toBe(false);
  });

  // What Vault's bare-mount walk (CheckAllowedFromNonExactPaths with bareMount) answers: it
  // joins the path segments the rule's segments have matched and asks whether the mount is a
  // prefix of them.
  it('a + rule as long as the mount reaches it (team/+ under team/kv/); a shorter one does not', () => {
    expect(acl(rules('team/+', ['read'])).hasAccessUnder('team/kv/')).toBe(true);
    expect(acl(rules('+/+', ['read'])).hasAccessUnder('team/kv')).toBe(true);
    expect(acl(rules('other/+', ['read'])).hasAccessUnder('team/kv/')).toBe(false);
    // `+/*` grants inside team/kv/x/, but the mount path itself is denied and the walk stops
    // at the rule's last segment, as in Vault.
    const deniedMount = rules('team/kv/x/', ['deny']);
    expect(acl(deniedMount, rules('+/*', ['read'])).hasAccessUnder('team/kv/x/')).toBe(false);
    expect(acl(deniedMount, rules('+/kv/*', ['read'])).hasAccessUnder('team/kv/x/')).toBe(true);
  });

  it('only a glob rule, and only its last segment, may stop part-way into a mount segment', () => {
    expect(acl(rules('+/k', ['read'])).hasAccessUnder('team/kv/')).toBe(false);
    expect(acl(rules('+/k/x*', ['read'])).hasAccessUnder('team/kv/')).toBe(false);
    expect(acl(rules('+/k/x*', ['read'])).hasAccessUnder('team/k/')).toBe(true);
    expect(acl(rules('+/k*', ['read'])).hasAccessUnder('team/kv/')).toBe(true);
  });
});
