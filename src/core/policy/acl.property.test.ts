// Property test: the compiled ACL (acl.ts) agrees with the brute-force reference in testing.ts
// on generated policy sets and paths; plus spec examples (§4.3) that pin the reference itself.

import { describe, it, expect } from 'vitest';
import type { Operation } from '../../sdk/engine.js';
import { compileAcl } from './acl.js';
import type { Acl } from './acl.js';
import type { Capability, Policy } from './policy.js';
import {
  describePolicies,
  policyOf,
  randomPathFor,
  randomPolicies,
  referenceAllows,
  referenceCapabilities,
  referenceDecision,
  referencePatternMatches,
  referencePriorityCompare,
  ruleFor,
  seededRandom,
} from './testing.js';

const OPERATIONS: readonly Operation[] = ['read', 'list', 'create', 'update', 'patch', 'delete'];

/** Fixed so a failure reproduces; printed in every failure message. */
const SEED = 0x5eed_ac10;
/**
 * 25,000 sets (100,000 cases) normally; bench/mutation/vitest.config.js lowers it for mutation
 * runs, where the whole test set runs once per mutant (fewer cases can only let a mutant live).
 */
const POLICY_SETS = Number(process.env['ACL_PROPERTY_SETS'] ?? '25000');
const PATHS_PER_SET = 4;

/** One rule per `[pattern, capabilities]`, all in one policy named `name`. */
function policy(name: string, ...rules: [string, Capability[]][]): Policy {
  return policyOf(
    name,
    rules.map(([pattern, capabilities]) => ruleFor(pattern, capabilities)),
  );
}

/** The winner among patterns that all match, by the reference comparator. */
function best(...patterns: string[]): string {
  return [...patterns].sort(referencePriorityCompare).at(-1)!;
}

describe('reference matcher follows vault-api.md §4.3', () => {
  it('a trailing * is a prefix rule, even in the middle of a segment', () => {
    expect(referencePatternMatches('secret/zip-*', 'secret/zip-zap/zong')).toBe(true);
    expect(referencePatternMatches('secret/zip-*', 'secret/zip-')).toBe(true);
    expect(referencePatternMatches('secret/zip-*', 'secret/zip')).toBe(false);
    expect(referencePatternMatches('*', 'anything/at/all')).toBe(true);
  });

  it('+ matches exactly one non-empty segment', () => {
    expect(referencePatternMatches('secret/+/foo', 'secret/x/foo')).toBe(true);
    expect(referencePatternMatches('secret/+/foo', 'secret/x/y/foo')).toBe(false);
    expect(referencePatternMatches('secret/+/foo', 'secret/foo')).toBe(false);
    expect(referencePatternMatches('secret/+/foo', 'secret//foo')).toBe(false);
    expect(referencePatternMatches('secret/+', 'secret/')).toBe(false);
  });

  it('with + present, a trailing * stays a glob', () => {
    expect(referencePatternMatches('secret/+/ab*', 'secret/x/abc/d')).toBe(true);
    expect(referencePatternMatches('secret/+/ab*', 'secret/x/a')).toBe(false);
    expect(referencePatternMatches('secret/+/*', 'secret/x/')).toBe(true);
    expect(referencePatternMatches('secret/+/*', 'secret/x')).toBe(false);
  });

  it('+* is forbidden', () => {
    expect(() => referencePatternMatches('secret/+*', 'secret/x')).toThrow(/\+\*/);
  });

  it('secret/+/+/foo/* loses to secret/* (the spec example: tie on rules 1–2, rule 3)', () => {
    expect(best('secret/+/+/foo/*', 'secret/*')).toBe('secret/*');
    const policies = [policy('a', ['secret/+/+/foo/*', ['read']], ['secret/*', ['list']])];
    expect(referenceCapabilities(policies, 'secret/a/b/foo/x')).toEqual(['list']);
  });

  it('rule 1: the pattern whose first wildcard comes later wins', () => {
    expect(best('secret/+/b', 'secret/a/+')).toBe('secret/a/+');
    expect(best('foo/+', 'foo/a*')).toBe('foo/a*');
    expect(best('+/a/b/c', 'a*')).toBe('a*');
  });

  it('rule 2: at the same first wildcard, a glob loses to a non-glob', () => {
    expect(best('secret/*', 'secret/+')).toBe('secret/+');
  });

  it('rule 3: more + segments lose', () => {
    expect(best('a/+/+/c', 'a/+/b/c')).toBe('a/+/b/c');
  });

  it('rule 4: the shorter pattern loses', () => {
    expect(best('a/+/b*', 'a/+/bc*')).toBe('a/+/bc*');
  });

  it('rule 5: the lexicographically smaller pattern loses', () => {
    expect(best('+/+/b', '+/a/+')).toBe('+/a/+');
    expect(best('+/a/+', '+/+/b')).toBe('+/a/+');
  });

  it('an exact rule beats every glob', () => {
    const policies = [policy('a', ['secret/a', ['read']], ['secret/a*', ['update']])];
    expect(referenceCapabilities(policies, 'secret/a')).toEqual(['read']);
    expect(referenceCapabilities(policies, 'secret/ab')).toEqual(['update']);
  });

  it('a list request also takes the exact rule for the path without its trailing /', () => {
    const policies = [policy('a', ['secret/a', ['list']], ['secret/*', ['read']])];
    expect(referenceAllows(policies, 'list', 'secret/a/')).toBe(true);
    expect(referenceAllows(policies, 'read', 'secret/a/')).toBe(true);
    expect(referenceAllows(policies, 'list', 'secret/b/')).toBe(false);
    // sys/capabilities looks the path up as a list request, like Vault's ACL.Capabilities.
    expect(referenceCapabilities(policies, 'secret/a/')).toEqual(['list']);
    // An exact rule for the path as given still comes first.
    const both = [policy('a', ['secret/a', ['list']], ['secret/a/', ['read']])];
    expect(referenceAllows(both, 'list', 'secret/a/')).toBe(false);
  });

  it('identical patterns merge across policies; deny wipes the union', () => {
    const merged = [policy('a', ['secret/*', ['read']]), policy('b', ['secret/*', ['list']])];
    expect(referenceCapabilities(merged, 'secret/x')).toEqual(['list', 'read']);
    const denied = [...merged, policy('c', ['secret/*', ['deny']])];
    expect(referenceCapabilities(denied, 'secret/x')).toEqual(['deny']);
    expect(referenceAllows(denied, 'read', 'secret/x')).toBe(false);
  });

  it('different patterns never merge: only the top one applies', () => {
    const policies = [policy('a', ['secret/*', ['read']]), policy('b', ['secret/a*', ['update']])];
    expect(referenceCapabilities(policies, 'secret/ab')).toEqual(['update']);
    expect(referenceAllows(policies, 'read', 'secret/ab')).toBe(false);
    // A deny on the losing pattern does not reach the path either.
    const lowerDeny = [policy('a', ['secret/*', ['deny']]), policy('b', ['secret/a*', ['read']])];
    expect(referenceAllows(lowerDeny, 'read', 'secret/ab')).toBe(true);
  });

  it('no match or an empty capability set is deny', () => {
    const policies = [policy('a', ['secret/a', []])];
    expect(referenceCapabilities(policies, 'secret/a')).toEqual(['deny']);
    expect(referenceCapabilities(policies, 'other')).toEqual(['deny']);
    expect(referenceAllows(policies, 'read', 'other')).toBe(false);
  });

  it('root short-circuits everything', () => {
    const root = [policyOf('root', [])];
    expect(referenceCapabilities(root, 'sys/anything')).toEqual(['root']);
    expect(referenceAllows(root, 'delete', 'sys/anything')).toBe(true);
  });

  it('the generator is deterministic for a seed', () => {
    const first = seededRandom(7);
    const second = seededRandom(7);
    const draws = Array.from({ length: 5 }, () => [first(), second()]);
    for (const [a, b] of draws) expect(a).toBe(b);
    expect(describePolicies(randomPolicies(seededRandom(9)))).toBe(
      describePolicies(randomPolicies(seededRandom(9))),
    );
  });
});

/** How acl.ts disagrees with the reference on (policies, path), or undefined if it agrees. */
function disagreement(policies: readonly Policy[], path: string): string | undefined {
  let acl: Acl;
  try {
    acl = compileAcl(policies);
  } catch (error) {
    return `compileAcl threw: ${String(error)}`;
  }
  return disagreementWith(acl, policies, path);
}

function disagreementWith(acl: Acl, policies: readonly Policy[], path: string): string | undefined {
  const reference = referenceDecision(policies, path);
  const want = reference.capabilities;
  const got = [...acl.capabilities(path)];
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    return `capabilities(${JSON.stringify(path)}): acl ${JSON.stringify(got)}, reference ${JSON.stringify(want)}`;
  }
  for (const operation of OPERATIONS) {
    const allowed = reference.allowed[operation];
    const decision = acl.allowOperation({ operation, path });
    if (decision.allowed !== allowed) {
      return `allowOperation(${operation} ${JSON.stringify(path)}): acl ${decision.allowed}, reference ${allowed}`;
    }
  }
  return undefined;
}

/** Greedily drop policies, rules and capabilities while the case still fails. */
function shrink(policies: Policy[], path: string): Policy[] {
  let current = policies;
  for (let round = 0; round < 50; round++) {
    const smaller: Policy[][] = [];
    current.forEach((_, p) => smaller.push(current.filter((__, i) => i !== p)));
    current.forEach((pol, p) => {
      pol.rules.forEach((rule, r) => {
        const rules = pol.rules.filter((__, i) => i !== r);
        smaller.push(current.map((x, i) => (i === p ? policyOf(pol.name, rules) : x)));
        for (const capability of rule.capabilities) {
          const fewer = [...rule.capabilities].filter((c) => c !== capability);
          const rules2 = pol.rules.map((x, i) => (i === r ? ruleFor(x.pattern, fewer) : x));
          smaller.push(current.map((x, i) => (i === p ? policyOf(pol.name, rules2) : x)));
        }
      });
    });
    const next = smaller.find((candidate) => disagreement(candidate, path) !== undefined);
    if (next === undefined) return current;
    current = next;
  }
  return current;
}

describe('compiled ACL agrees with the reference', () => {
  it(`on ${POLICY_SETS * PATHS_PER_SET} generated (policy set, path) cases, seed ${SEED}`, () => {
    const random = seededRandom(SEED);
    let cases = 0;
    for (let s = 0; s < POLICY_SETS; s++) {
      const policies = randomPolicies(random);
      let acl: Acl;
      try {
        acl = compileAcl(policies);
      } catch (error) {
        expect.fail(
          `seed ${SEED}, policy set ${s}: compileAcl threw ${String(error)} on ${describePolicies(policies)}`,
        );
      }
      for (let p = 0; p < PATHS_PER_SET; p++) {
        const path = randomPathFor(random, policies);
        cases++;
        const problem = disagreementWith(acl, policies, path);
        if (problem === undefined) continue;
        const minimal = shrink(policies, path);
        expect.fail(
          [
            `seed ${SEED}, case ${cases} (policy set ${s}, path ${p}): ${problem}`,
            `policies: ${describePolicies(policies)}`,
            `minimised: ${describePolicies(minimal)} → ${disagreement(minimal, path) ?? ''}`,
          ].join('\n'),
        );
      }
    }
    expect(cases).toBe(POLICY_SETS * PATHS_PER_SET);
    expect(cases).toBeGreaterThanOrEqual(
      process.env['ACL_PROPERTY_SETS'] === undefined ? 100_000 : 1,
    );
  });
});
