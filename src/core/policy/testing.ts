// Test-only: a brute-force reference for ACL path matching (vault-api.md §4.2–4.3), written
// from the spec without reading acl.ts, and seeded random generators of policies and paths.

import type { Operation } from '../../sdk/engine.js';
import type { Capability, PathRule, Policy } from './policy.js';

// ---------------------------------------------------------------------------------------------
// Reference matcher. Deliberately slow and literal: every function is one spec sentence.
// ---------------------------------------------------------------------------------------------

/** A pattern ending in '*' is a glob (prefix) rule; '*' is only ever the last character. */
function isGlob(pattern: string): boolean {
  return pattern.endsWith('*');
}

/** The pattern without its trailing '*', if any. */
function globBody(pattern: string): string {
  return isGlob(pattern) ? pattern.slice(0, -1) : pattern;
}

/** Segments of a pattern that are exactly '+' (a '+' inside a segment is a literal). */
function plusSegmentCount(pattern: string): number {
  return globBody(pattern)
    .split('/')
    .filter((segment) => segment === '+').length;
}

/** An exact rule has neither a trailing '*' nor any '+' segment. */
function isExactPattern(pattern: string): boolean {
  return !isGlob(pattern) && plusSegmentCount(pattern) === 0;
}

/** One pattern segment against one path segment: '+' is any non-empty segment. */
function segmentMatches(want: string, have: string): boolean {
  return want === '+' ? have !== '' : want === have;
}

/**
 * §4.3 globs. A non-glob pattern matches a path with the same number of segments, segment by
 * segment. A glob `body*` means "body, then anything": the path needs at least as many
 * segments as the body, the body's segments before its last match the path's, and the path's
 * segment at that position starts with the body's last segment (which may be '' after a '/').
 */
export function referencePatternMatches(pattern: string, path: string): boolean {
  if (pattern.includes('+*')) throw new Error(`forbidden pattern ${pattern}: '+*'`);
  if (pattern.slice(0, -1).includes('*')) throw new Error(`'*' not last in ${pattern}`);
  const want = globBody(pattern).split('/');
  const have = path.split('/');
  const last = want.length - 1;
  if (!isGlob(pattern)) {
    return want.length === have.length && want.every((w, i) => segmentMatches(w, have[i]!));
  }
  if (have.length < want.length) return false;
  for (let i = 0; i < last; i++) if (!segmentMatches(want[i]!, have[i]!)) return false;
  return have[last]!.startsWith(want[last]!);
}

/** Index of the first '+' or '*' character (every non-exact pattern has one). */
function firstWildcardIndex(pattern: string): number {
  const indexes = [pattern.indexOf('+'), pattern.indexOf('*')].filter((i) => i >= 0);
  return Math.min(...indexes);
}

/**
 * §4.3 priority among non-exact patterns, as a sort comparator: negative when `p1` ranks
 * BELOW `p2`. The five rules, in order; P1 ranks below P2 if:
 */
export function referencePriorityCompare(p1: string, p2: string): number {
  // 1. its first '+'/'*' is earlier;
  const w1 = firstWildcardIndex(p1);
  const w2 = firstWildcardIndex(p2);
  if (w1 !== w2) return w1 < w2 ? -1 : 1;
  // 2. it ends in '*' and P2 does not;
  if (isGlob(p1) !== isGlob(p2)) return isGlob(p1) ? -1 : 1;
  // 3. it has more '+' segments;
  const plus1 = plusSegmentCount(p1);
  const plus2 = plusSegmentCount(p2);
  if (plus1 !== plus2) return plus1 > plus2 ? -1 : 1;
  // 4. it is shorter;
  if (p1.length !== p2.length) return p1.length < p2.length ? -1 : 1;
  // 5. it is lexicographically smaller.
  if (p1 !== p2) return p1 < p2 ? -1 : 1;
  return 0;
}

function allRules(policies: readonly Policy[]): PathRule[] {
  return policies.flatMap((policy) => policy.rules);
}

/**
 * The pattern that decides for `path`, or undefined when nothing matches. An exact rule wins
 * outright (§4.3 item 1); with `listFallback`, a path ending in '/' also takes an exact rule
 * for the path without that one '/'. Otherwise the top non-exact pattern by priority.
 */
export function referenceWinningPattern(
  policies: readonly Policy[],
  path: string,
  listFallback: boolean,
): string | undefined {
  const patterns = allRules(policies).map((rule) => rule.pattern);
  if (patterns.some((p) => isExactPattern(p) && p === path)) return path;
  if (listFallback && path.endsWith('/')) {
    const bare = path.slice(0, -1);
    if (patterns.some((p) => isExactPattern(p) && p === bare)) return bare;
  }
  const candidates = patterns.filter((p) => !isExactPattern(p) && referencePatternMatches(p, path));
  // The top-ranked candidate: keep whichever of two ranks higher.
  return candidates.reduce<string | undefined>(
    (top, p) => (top === undefined || referencePriorityCompare(p, top) > 0 ? p : top),
    undefined,
  );
}

/**
 * Union of capabilities over every rule (any policy) whose pattern is IDENTICAL to the
 * winning one; 'deny' anywhere wipes the rest. Empty set ⇒ nothing is granted.
 */
function mergedCapabilities(policies: readonly Policy[], pattern: string): Set<Capability> {
  const merged = new Set<Capability>();
  for (const rule of allRules(policies)) {
    if (rule.pattern !== pattern) continue;
    for (const capability of rule.capabilities) merged.add(capability);
  }
  return merged.has('deny') ? new Set<Capability>(['deny']) : merged;
}

function hasRootPolicy(policies: readonly Policy[]): boolean {
  return policies.some((policy) => policy.name === 'root');
}

/** §4.2: each operation needs the capability of the same name. */
const NEEDED: Readonly<Record<Operation, Capability>> = {
  read: 'read',
  list: 'list',
  create: 'create',
  update: 'update',
  patch: 'patch',
  delete: 'delete',
};

/** Everything the reference decides for one path (no request body, no wrapping). */
export interface ReferenceDecision {
  /** As `sys/capabilities` reports it (see referenceCapabilities). */
  readonly capabilities: string[];
  /** Whether each operation is allowed on the path. */
  readonly allowed: Readonly<Record<Operation, boolean>>;
}

/**
 * Decides every question about `path` at once, so a property test does not pay for the
 * winner search seven times. `capabilities`: ['root'] for the root policy; ['deny'] when
 * nothing matches, when 'deny' is in the merged set, or when the merged set is empty;
 * otherwise the merged names sorted alphabetically. Vault's `ACL.Capabilities` looks the
 * path up as a LIST request (so "a/b/" also takes an exact rule for "a/b"); §4.3 is silent
 * on `sys/capabilities`, so the reference follows Vault there. `allowed[op]`: the winner's
 * merged set holds the capability named like the operation and no 'deny'; only `list` takes
 * the exact rule for the path without its trailing '/'.
 */
export function referenceDecision(policies: readonly Policy[], path: string): ReferenceDecision {
  if (hasRootPolicy(policies)) {
    return {
      capabilities: ['root'],
      allowed: { read: true, list: true, create: true, update: true, patch: true, delete: true },
    };
  }
  const granted = (winner: string | undefined): Set<Capability> =>
    winner === undefined ? new Set() : mergedCapabilities(policies, winner);
  const plain = granted(referenceWinningPattern(policies, path, false));
  const forList = granted(referenceWinningPattern(policies, path, true));
  const allows = (set: Set<Capability>, operation: Operation): boolean =>
    !set.has('deny') && set.has(NEEDED[operation]);
  return {
    capabilities: forList.has('deny') || forList.size === 0 ? ['deny'] : [...forList].sort(),
    allowed: {
      read: allows(plain, 'read'),
      list: allows(forList, 'list'),
      create: allows(plain, 'create'),
      update: allows(plain, 'update'),
      patch: allows(plain, 'patch'),
      delete: allows(plain, 'delete'),
    },
  };
}

/** What `sys/capabilities` reports for `path` (see referenceDecision). */
export function referenceCapabilities(policies: readonly Policy[], path: string): string[] {
  return referenceDecision(policies, path).capabilities;
}

/** Whether `operation` on `path` is allowed (see referenceDecision). */
export function referenceAllows(
  policies: readonly Policy[],
  operation: Operation,
  path: string,
): boolean {
  return referenceDecision(policies, path).allowed[operation];
}

// ---------------------------------------------------------------------------------------------
// Seeded generators.
// ---------------------------------------------------------------------------------------------

/** A seeded PRNG returning floats in [0, 1) (mulberry32; 32-bit state). */
export type Random = () => number;

export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Integer in [min, max], both inclusive. */
export function randomInt(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

/** Small alphabet so patterns and paths collide often; 'a' is a string prefix of 'ab'. */
export const SEGMENTS: readonly string[] = ['secret', 'data', 'a', 'b', 'ab'];

const GRANTS: readonly Capability[] = [
  'create',
  'read',
  'update',
  'patch',
  'delete',
  'list',
  'sudo',
];

/**
 * A random pattern: 1–4 segments (a quarter of them '+'), then no glob, a '/*' glob or a
 * partial-segment glob ('secret/a*'); never '+*' (forbidden by §4.3).
 */
export function randomPattern(random: Random): string {
  if (random() < 0.03) return '*';
  const segments: string[] = [];
  const count = randomInt(random, 1, 4);
  for (let i = 0; i < count; i++) segments.push(random() < 0.25 ? '+' : pick(random, SEGMENTS));
  const base = segments.join('/');
  const ending = random();
  if (ending < 0.5) return base;
  if (ending < 0.75 || base.endsWith('+')) return `${base}/*`;
  // Partial last segment: 'secret' → 'sec*' style, or the whole segment plus '*'.
  const last = segments[segments.length - 1]!;
  const keep = randomInt(random, 1, last.length);
  return `${[...segments.slice(0, -1), last.slice(0, keep)].join('/')}*`;
}

function randomCapabilities(random: Random): Set<Capability> {
  const capabilities = new Set<Capability>();
  if (random() < 0.05) return capabilities;
  if (random() < 0.15) capabilities.add('deny');
  for (const capability of GRANTS) if (random() < 0.35) capabilities.add(capability);
  return capabilities;
}

export function ruleFor(pattern: string, capabilities: Iterable<Capability>): PathRule {
  return { pattern, capabilities: new Set(capabilities), line: 1 };
}

export function policyOf(name: string, rules: readonly PathRule[]): Policy {
  return { name, rules, raw: '' };
}

/**
 * 1–4 policies of 1–6 rules each. A third of the patterns reuse one already drawn in this set,
 * so identical patterns (which merge) across and within policies are common. Rarely, the set
 * is the root policy alone.
 */
export function randomPolicies(random: Random): Policy[] {
  if (random() < 0.005) return [policyOf('root', [])];
  const drawn: string[] = [];
  const policies: Policy[] = [];
  const policyCount = randomInt(random, 1, 4);
  for (let p = 0; p < policyCount; p++) {
    const rules: PathRule[] = [];
    const ruleCount = randomInt(random, 1, 6);
    for (let r = 0; r < ruleCount; r++) {
      const pattern =
        drawn.length > 0 && random() < 0.33 ? pick(random, drawn) : randomPattern(random);
      drawn.push(pattern);
      rules.push(ruleFor(pattern, randomCapabilities(random)));
    }
    policies.push(policyOf(`p${p}`, rules));
  }
  return policies;
}

/**
 * A random request path: 1–5 segments over the same alphabet; a fifth end in '/' (list
 * paths), a few contain an empty segment.
 */
export function randomPath(random: Random): string {
  const segments: string[] = [];
  const count = randomInt(random, 1, 5);
  for (let i = 0; i < count; i++) segments.push(pick(random, SEGMENTS));
  if (count > 1 && random() < 0.03) segments[randomInt(random, 1, count - 1)] = '';
  const path = segments.join('/');
  return random() < 0.2 ? `${path}/` : path;
}

/**
 * A path aimed at the policy set: half the time one of its patterns filled in ('+' becomes a
 * random segment, a glob gets a random tail, sometimes a trailing '/'), so exact rules, list
 * fallbacks and ties between several matching patterns come up often; otherwise randomPath.
 */
export function randomPathFor(random: Random, policies: readonly Policy[]): string {
  const patterns = policies.flatMap((policy) => policy.rules.map((rule) => rule.pattern));
  if (patterns.length === 0 || random() < 0.5) return randomPath(random);
  const pattern = pick(random, patterns);
  const body = pattern.endsWith('*') ? pattern.slice(0, -1) : pattern;
  let path = body
    .split('/')
    .map((segment) => (segment === '+' ? pick(random, SEGMENTS) : segment))
    .join('/');
  if (pattern.endsWith('*')) {
    const tail = random();
    if (tail < 0.3) path += pick(random, ['b', 'ret', 'a']);
    else if (tail < 0.6) path += `/${pick(random, SEGMENTS)}`;
  }
  // Request paths never start with '/' and are never empty (the '*' pattern's body is '').
  path = path.replace(/^\/+/, '');
  if (path === '') return randomPath(random);
  return random() < 0.25 ? `${path}/` : path;
}

/** Policies as plain JSON (Sets become sorted arrays), for printing a failing case. */
export function describePolicies(policies: readonly Policy[]): string {
  return JSON.stringify(
    policies.map((policy) => ({
      name: policy.name,
      rules: policy.rules.map((rule) => [rule.pattern, [...rule.capabilities].sort().join(',')]),
    })),
  );
}
