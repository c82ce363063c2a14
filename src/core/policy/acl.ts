// The ACL: a set of policies compiled once into a matcher that answers, per request, whether an
// operation on a path is allowed (vault-api.md §4.3), what capabilities a path has, and why.
import { Buffer } from 'node:buffer';
import type { Operation } from '../../sdk/engine.js';
import { ROOT_POLICY_NAME } from './builtin.js';
import type { Capability, ParameterValue, PathRule, Policy } from './policy.js';

/** A capability as `sys/capabilities*` reports it: `root` stands for the root policy. */
export type CapabilityName = Capability | 'root';

export interface AclRequest {
  readonly operation: Operation;
  /** Logical path without a leading '/', e.g. "secret/data/app". */
  readonly path: string;
  /** The request body; only its top-level keys are checked, for create/update/patch. */
  readonly data?: Readonly<Record<string, unknown>>;
  /** The requested response-wrapping TTL; undefined when the response is not to be wrapped. */
  readonly wrapTtlSeconds?: number;
}

export interface AclDecision {
  readonly allowed: boolean;
  /** The ACL holds the root policy (then everything is allowed). */
  readonly isRoot: boolean;
  /** The deciding rule grants `sudo` (or the ACL is root); root-protected paths need it. */
  readonly sudo: boolean;
  /** The deciding rule's capabilities, sorted (['deny'] for a deny rule, [] when none). */
  readonly capabilities: readonly Capability[];
  /** Why, for logs and explain: names rules, parameters and capabilities, never values. */
  readonly reason: string;
}

export interface AclMatch {
  readonly policy: string;
  readonly pattern: string;
  /** Line of the `path` block in the policy text. */
  readonly line: number;
  /** This block's own capabilities (before merging with identical patterns). */
  readonly capabilities: readonly Capability[];
  readonly kind: 'exact' | 'glob';
  /** The block belongs to the (merged) rule that decided. */
  readonly used: boolean;
}

export interface AclExplanation {
  readonly path: string;
  readonly operation?: Operation;
  /** Present when an operation was given (checked without a body or wrapping). */
  readonly allowed?: boolean;
  /**
   * The deciding rule's capabilities in `sys/capabilities` form (['deny'] when none). Without
   * an operation the lookup is the one `sys/capabilities` does; with one, the one it uses.
   */
  readonly capabilities: readonly CapabilityName[];
  readonly isRoot: boolean;
  /** Every block of every policy whose pattern matches, the deciding one(s) first. */
  readonly matches: readonly AclMatch[];
  readonly reason: string;
}

export interface Acl {
  readonly isRoot: boolean;
  /** The names of the policies compiled in, in the order given. */
  readonly policyNames: readonly string[];
  /** The hot path: runs on every request; allocates nothing when it allows. */
  allowOperation(req: AclRequest): AclDecision;
  /**
   * Capabilities on a path, sorted: `['root']` for a root ACL, `['deny']` when no rule matches
   * or the deciding rule grants nothing or denies. Like Vault, the lookup is done as for a list
   * request, so "a/b/" also takes an exact rule for "a/b". The array is shared: do not mutate.
   */
  capabilities(path: string): readonly CapabilityName[];
  /** Every rule that matches `path` and which one decides, for `coffer policy explain`. */
  explain(path: string, operation?: Operation): AclExplanation;
  /**
   * Whether some rule grants anything at or below `mountPath` ("secret/"): Vault's test for
   * `sys/internal/ui/mounts/:path`, so limited tokens can probe the mounts they can use.
   */
  hasAccessUnder(mountPath: string): boolean;
}

// ---- capability bits ----

const BIT: Readonly<Record<Capability, number>> = {
  create: 1,
  read: 2,
  update: 4,
  patch: 8,
  delete: 16,
  list: 32,
  sudo: 64,
  deny: 128,
};
const DENY = BIT.deny;
const SUDO = BIT.sudo;
const GRANTS = BIT.create | BIT.read | BIT.update | BIT.patch | BIT.delete | BIT.list | BIT.sudo;

const OPERATION_BIT: Readonly<Record<Operation, number>> = {
  read: BIT.read,
  list: BIT.list,
  create: BIT.create,
  update: BIT.update,
  patch: BIT.patch,
  delete: BIT.delete,
};

/** Alphabetical, which is the order capability lists are reported in. */
const SORTED_CAPABILITIES: readonly Capability[] = [
  'create',
  'delete',
  'deny',
  'list',
  'patch',
  'read',
  'sudo',
  'update',
];

function bitsOf(capabilities: Iterable<Capability>): number {
  let bits = 0;
  for (const capability of capabilities) bits |= BIT[capability];
  // `deny` wipes every other capability of the same rule.
  return (bits & DENY) !== 0 ? DENY : bits;
}

function capabilitiesOf(bits: number): readonly Capability[] {
  return Object.freeze(SORTED_CAPABILITIES.filter((capability) => (bits & BIT[capability]) !== 0));
}

const DENY_REPORT: readonly CapabilityName[] = Object.freeze(['deny']);
const ROOT_REPORT: readonly CapabilityName[] = Object.freeze(['root']);
const NO_CAPABILITIES: readonly Capability[] = Object.freeze([]);
const EMPTY_DATA: Readonly<Record<string, unknown>> = Object.freeze({});

// ---- parameter values ----

/**
 * One allowed or denied value. Strings match as Vault's GlobbedStringsMatch does: a leading
 * and/or trailing `*` makes a suffix, prefix or substring match; other values match only the
 * same string, number or boolean (`===`). Vault compares non-strings with reflect.DeepEqual,
 * by Go type too, so a number never matches a JSON number there; here 1 matches 1. The parser
 * admits no object or list as a value (parse.ts, readParameters), and the `ParameterValue`
 * type keeps policies built in code to the same, so no deep comparison is needed: an object
 * or array in a body never equals a policy value.
 */
type ValueMatcher =
  | { readonly kind: 'equal'; readonly value: ParameterValue }
  | { readonly kind: 'prefix' | 'suffix' | 'contains'; readonly text: string };

/** Parameter name (lower-cased) → matchers; an empty list matches any value. */
type ParameterRules = ReadonlyMap<string, readonly ValueMatcher[]>;

function valueMatcher(value: ParameterValue): ValueMatcher {
  if (typeof value !== 'string' || value.length < 2) return { kind: 'equal', value };
  const leading = value.startsWith('*');
  const trailing = value.endsWith('*');
  if (leading && trailing) return { kind: 'contains', text: value.slice(1, -1) };
  if (leading) return { kind: 'suffix', text: value.slice(1) };
  if (trailing) return { kind: 'prefix', text: value.slice(0, -1) };
  return { kind: 'equal', value };
}

function valueMatches(matchers: readonly ValueMatcher[], value: unknown): boolean {
  if (matchers.length === 0) return true;
  for (const matcher of matchers) if (matchesOne(matcher, value)) return true;
  return false;
}

function matchesOne(matcher: ValueMatcher, value: unknown): boolean {
  switch (matcher.kind) {
    case 'equal':
      return matcher.value === value;
    case 'prefix':
      return typeof value === 'string' && value.startsWith(matcher.text);
    case 'suffix':
      return typeof value === 'string' && value.endsWith(matcher.text);
    case 'contains':
      return typeof value === 'string' && value.includes(matcher.text);
  }
}

// ---- merging identical patterns ----

interface Source {
  readonly policy: string;
  readonly pattern: string;
  readonly line: number;
  readonly capabilities: readonly Capability[];
}

/** The merged permissions of every rule (of every policy) with one identical pattern. */
class MergedRule {
  bits = 0;
  allowed: Map<string, ParameterValue[]> | undefined;
  denied: Map<string, ParameterValue[]> | undefined;
  required: string[] = [];
  minWrapSeconds = 0;
  maxWrapSeconds = 0;
  readonly sources: Source[] = [];
  readonly pattern: string;

  constructor(pattern: string) {
    this.pattern = pattern;
  }

  /**
   * Vault's NewACL merge: union, `deny` wins and wipes, wrapping bounds take the smaller. The
   * first rule needs no branch of its own: merging into the empty rule (no bits, no parameter
   * maps, no bounds) gives that rule.
   */
  add(policy: string, rule: PathRule): void {
    const bits = bitsOf(rule.capabilities);
    this.sources.push({
      policy,
      pattern: rule.pattern,
      line: rule.line,
      capabilities: capabilitiesOf(bits),
    });
    if (this.bits === DENY) return;
    if (bits === DENY) {
      this.bits = DENY;
      this.allowed = undefined;
      this.denied = undefined;
      return;
    }
    this.bits |= bits;
    this.maxWrapSeconds = smallerNonZero(this.maxWrapSeconds, rule.maxWrappingTtlSeconds ?? 0);
    this.minWrapSeconds = smallerNonZero(this.minWrapSeconds, rule.minWrappingTtlSeconds ?? 0);
    this.allowed = mergeParameters(this.allowed, rule.allowedParameters);
    this.denied = mergeParameters(this.denied, rule.deniedParameters);
    for (const name of rule.requiredParameters ?? []) {
      const lower = name.toLowerCase();
      if (!this.required.includes(lower)) this.required.push(lower);
    }
  }
}

function smallerNonZero(current: number, next: number): number {
  if (next <= 0) return current;
  return current === 0 || next < current ? next : current;
}

/**
 * Values are unioned per name; an empty list (any value) on either side wins. Returns a new
 * map the first time (the policy's own maps are never changed); an empty map may come back,
 * which compileParameters drops like an absent one.
 */
function mergeParameters(
  existing: Map<string, ParameterValue[]> | undefined,
  next: ReadonlyMap<string, readonly ParameterValue[]> | undefined,
): Map<string, ParameterValue[]> | undefined {
  if (next === undefined) return existing;
  const merged = existing ?? new Map<string, ParameterValue[]>();
  for (const [rawName, values] of next) {
    const name = rawName.toLowerCase();
    const current = merged.get(name);
    if (values.length === 0 || (current !== undefined && current.length === 0)) {
      merged.set(name, []);
    } else {
      merged.set(name, [...values, ...(current ?? [])]);
    }
  }
  return merged;
}

// ---- compiled rules ----

type RuleKind = 'exact' | 'prefix' | 'segments';

/** One merged rule, ready for matching; immutable after compilation. */
interface CompiledRule {
  readonly pattern: string;
  readonly kind: RuleKind;
  readonly bits: number;
  readonly capabilities: readonly Capability[];
  /** What `capabilities()` reports when this rule decides. */
  readonly report: readonly CapabilityName[];
  readonly allowed: ParameterRules | undefined;
  readonly denied: ParameterRules | undefined;
  readonly required: readonly string[];
  readonly minWrapSeconds: number;
  readonly maxWrapSeconds: number;
  /** Whether create/update/patch bodies need checking at all. */
  readonly checksParameters: boolean;
  /** The pattern without a trailing '*' (read for kind 'prefix' only). */
  readonly prefix: string;
  /** kind 'segments': the pattern (without a trailing '*') split on '/'. */
  readonly segments: readonly string[];
  /** Ends in '*'. */
  readonly isPrefix: boolean;
  readonly sources: readonly Source[];
  /** The shared answer when this rule allows. */
  readonly allowDecision: AclDecision;
  // Priority among non-exact rules (vault-api.md §4.3), measured like Vault: in UTF-8 bytes.
  readonly firstWildcard: number;
  readonly plusSegments: number;
  readonly body: Buffer;
}

function classify(pattern: string): {
  kind: RuleKind;
  isPrefix: boolean;
  body: string;
  segments: string[];
} {
  const isPrefix = pattern.endsWith('*');
  const body = isPrefix ? pattern.slice(0, -1) : pattern;
  const segments = body.split('/');
  // '+' is a wildcard only as a whole segment; inside a segment ("a+b") it is a literal.
  if (segments.includes('+')) return { kind: 'segments', isPrefix, body, segments };
  return { kind: isPrefix ? 'prefix' : 'exact', isPrefix, body, segments: [] };
}

function compileRule(merged: MergedRule): CompiledRule {
  const { kind, isPrefix, body, segments } = classify(merged.pattern);
  const capabilities = capabilitiesOf(merged.bits);
  // A deny rule has no grant bits (bitsOf), so this also covers it.
  const denies = (merged.bits & GRANTS) === 0;
  const allowed = compileParameters(merged.allowed);
  const denied = compileParameters(merged.denied);
  const required = Object.freeze([...merged.required]);
  // Vault measures the first wildcard of a '+' pattern at its first '+' character, and that
  // of a plain prefix rule at its '*'.
  const firstWildcardAt = kind === 'segments' ? merged.pattern.indexOf('+') : body.length;
  return {
    pattern: merged.pattern,
    kind,
    bits: merged.bits,
    capabilities,
    // Without `deny`, `capabilities` holds grants only.
    report: denies ? DENY_REPORT : capabilities,
    allowed,
    denied,
    required,
    minWrapSeconds: merged.minWrapSeconds,
    maxWrapSeconds: merged.maxWrapSeconds,
    checksParameters: allowed !== undefined || denied !== undefined || required.length > 0,
    prefix: body,
    segments: Object.freeze(segments),
    isPrefix,
    sources: Object.freeze([...merged.sources]),
    allowDecision: Object.freeze({
      allowed: true,
      isRoot: false,
      sudo: (merged.bits & SUDO) !== 0,
      capabilities,
      reason: `allowed by rule ${JSON.stringify(merged.pattern)}`,
    }),
    firstWildcard: Buffer.byteLength(merged.pattern.slice(0, firstWildcardAt)),
    plusSegments: segments.filter((segment) => segment === '+').length,
    body: Buffer.from(body),
  };
}

function compileParameters(
  source: Map<string, ParameterValue[]> | undefined,
): ParameterRules | undefined {
  if (source === undefined || source.size === 0) return undefined;
  const out = new Map<string, readonly ValueMatcher[]>();
  for (const [name, values] of source) out.set(name, Object.freeze(values.map(valueMatcher)));
  return out;
}

/**
 * Negative when `a` ranks below `b` (vault-api.md §4.3): the earlier first wildcard, then
 * ending in '*', then more '+' segments, then the shorter, then the lexicographically smaller
 * (patterns compared without their trailing '*', as Vault does).
 */
function comparePriority(a: CompiledRule, b: CompiledRule): number {
  if (a.firstWildcard !== b.firstWildcard) return a.firstWildcard - b.firstWildcard;
  if (a.isPrefix !== b.isPrefix) return a.isPrefix ? -1 : 1;
  if (a.plusSegments !== b.plusSegments) return b.plusSegments - a.plusSegments;
  if (a.body.length !== b.body.length) return a.body.length - b.body.length;
  return Buffer.compare(a.body, b.body);
}

/** The literal text a non-exact rule's matches all start with. */
function literalLead(rule: CompiledRule): string {
  if (rule.kind === 'prefix') return rule.prefix;
  const plus = rule.segments.indexOf('+');
  return plus <= 0 ? '' : `${rule.segments.slice(0, plus).join('/')}/`;
}

/**
 * Whether a non-exact rule matches `path`, without allocating. A '+' segment matches exactly
 * one non-empty segment (the HTTP door rejects empty segments anyway); a trailing '*' makes the
 * last segment a prefix that may run on over further segments.
 */
function nonExactMatches(rule: CompiledRule, path: string): boolean {
  if (rule.kind === 'prefix') return path.startsWith(rule.prefix);
  const segments = rule.segments;
  const last = segments.length - 1;
  let position = 0;
  for (let i = 0; i <= last; i++) {
    const segment = segments[i]!;
    if (i === last && rule.isPrefix) return path.startsWith(segment, position);
    const slash = path.indexOf('/', position);
    const end = slash === -1 ? path.length : slash;
    if (segment === '+') {
      if (end === position) return false;
    } else if (end - position !== segment.length || !path.startsWith(segment, position)) {
      return false;
    }
    if (i === last) return slash === -1;
    if (slash === -1) return false;
    position = slash + 1;
  }
  return false;
}

/**
 * Whether a non-exact rule could match some path under `mountSegments` (the segments of a
 * mount path, e.g. ["secret"]): Vault's bare-mount walk over segment wildcards
 * (CheckAllowedFromNonExactPaths with bareMount). A rule with fewer segments than the mount
 * reaches nothing under it; one exactly as long reaches it (`team/+` under `team/kv/`). A '+'
 * takes whatever the mount's segment is, as in Vault: mount paths have no empty segments
 * (normaliseMountPath refuses them).
 */
function segmentsReachUnder(rule: CompiledRule, mountSegments: readonly string[]): boolean {
  if (rule.segments.length < mountSegments.length) return false;
  for (let i = 0; i < mountSegments.length; i++) {
    const segment = rule.segments[i]!;
    const have = mountSegments[i]!;
    if (segment === '+' || segment === have) continue;
    if (rule.isPrefix && i === rule.segments.length - 1 && have.startsWith(segment)) continue;
    return false;
  }
  return true;
}

// ---- decisions ----

const ALL_GRANTS: readonly Capability[] = capabilitiesOf(GRANTS);

const ROOT_DECISION: AclDecision = Object.freeze({
  allowed: true,
  isRoot: true,
  sudo: true,
  capabilities: ALL_GRANTS,
  reason: 'the root policy allows everything',
});

const NO_MATCH_DECISION: AclDecision = Object.freeze({
  allowed: false,
  isRoot: false,
  sudo: false,
  capabilities: NO_CAPABILITIES,
  reason: 'no rule matches the path',
});

function denyDecision(rule: CompiledRule, why: string): AclDecision {
  return {
    allowed: false,
    isRoot: false,
    sudo: (rule.bits & SUDO) !== 0,
    capabilities: rule.capabilities,
    reason: `rule ${JSON.stringify(rule.pattern)}: ${why}`,
  };
}

/** An own key of `data` that lower-cases to `name`. */
function hasParameter(data: Readonly<Record<string, unknown>>, name: string): boolean {
  if (Object.hasOwn(data, name)) return true;
  for (const key in data) {
    if (Object.hasOwn(data, key) && key.toLowerCase() === name) return true;
  }
  return false;
}

/** Why the body breaks the rule's parameter constraints, or undefined when it does not. */
function parameterProblem(
  rule: CompiledRule,
  data: Readonly<Record<string, unknown>>,
): string | undefined {
  for (const name of rule.required) {
    if (!hasParameter(data, name)) return `required parameter ${JSON.stringify(name)} is missing`;
  }
  let empty = true;
  for (const key in data) {
    if (Object.hasOwn(data, key)) {
      empty = false;
      break;
    }
  }
  if (empty) return undefined;

  const denied = rule.denied;
  if (denied !== undefined) {
    if (denied.has('*')) return 'every parameter is denied';
    for (const key in data) {
      if (!Object.hasOwn(data, key)) continue;
      const matchers = denied.get(key.toLowerCase());
      if (matchers !== undefined && valueMatches(matchers, data[key])) {
        return `parameter ${JSON.stringify(key)} is denied`;
      }
    }
  }

  const allowed = rule.allowed;
  if (allowed === undefined) return undefined;
  const allowAll = allowed.has('*');
  for (const key in data) {
    if (!Object.hasOwn(data, key)) continue;
    const matchers = allowed.get(key.toLowerCase());
    if (matchers === undefined) {
      if (!allowAll) return `parameter ${JSON.stringify(key)} is not allowed`;
    } else if (!valueMatches(matchers, data[key])) {
      return `a value of parameter ${JSON.stringify(key)} is not allowed`;
    }
  }
  return undefined;
}

function checkRule(rule: CompiledRule, req: AclRequest): AclDecision {
  const operation = req.operation;
  if ((rule.bits & OPERATION_BIT[operation]) === 0) {
    return denyDecision(rule, rule.bits === DENY ? 'denies' : `does not grant ${operation}`);
  }
  const wrap = req.wrapTtlSeconds;
  if (rule.maxWrapSeconds > 0 && (wrap === undefined || wrap > rule.maxWrapSeconds)) {
    return denyDecision(rule, 'requires response wrapping within max_wrapping_ttl');
  }
  if (rule.minWrapSeconds > 0 && (wrap === undefined || wrap < rule.minWrapSeconds)) {
    return denyDecision(rule, 'requires response wrapping of at least min_wrapping_ttl');
  }
  // Merged bounds may cross (max < min, from two policies): every TTL is then above the max or
  // below the min, so the two checks above deny it; crossing needs no check of its own.
  if (
    rule.checksParameters &&
    (operation === 'create' || operation === 'update' || operation === 'patch')
  ) {
    const problem = parameterProblem(rule, req.data ?? EMPTY_DATA);
    if (problem !== undefined) return denyDecision(rule, problem);
  }
  return rule.allowDecision;
}

// ---- the ACL ----

/** Paths remembered per ACL at most (then the memo starts over), and their longest length. */
const FIND_MEMO_ENTRIES = 256;
const FIND_MEMO_MAX_PATH = 256;

class CompiledAcl implements Acl {
  readonly isRoot: boolean;
  readonly policyNames: readonly string[];
  readonly #exact: ReadonlyMap<string, CompiledRule>;
  /** Highest priority first, so the first match decides. */
  readonly #nonExact: readonly CompiledRule[];
  /**
   * The same rules split by the first segment of their literal lead (the text before the
   * first wildcard), each list still in priority order: a rule led by "secret/" can only match
   * paths whose first segment is "secret". Rules whose lead has no '/' ("*", "+/x", "sec*")
   * are in #unbucketed.
   */
  readonly #buckets: ReadonlyMap<string, readonly CompiledRule[]>;
  readonly #unbucketed: readonly CompiledRule[];
  /**
   * Recent #find answers by path (the rules never change after construction; a policy edit
   * compiles a new ACL, so this memo goes with the old one). Bounded: paths longer than
   * FIND_MEMO_MAX_PATH are not kept, and the memo is emptied when it holds FIND_MEMO_ENTRIES.
   */
  readonly #found = new Map<string, CompiledRule | null>();

  constructor(policies: readonly Policy[]) {
    this.policyNames = Object.freeze(policies.map((policy) => policy.name));
    // SECURITY: only the exact name makes a root ACL; names are normalised before they get here.
    this.isRoot = policies.some((policy) => policy.name === ROOT_POLICY_NAME);
    const merged = new Map<string, MergedRule>();
    if (!this.isRoot) {
      for (const policy of policies) {
        for (const rule of policy.rules) {
          let entry = merged.get(rule.pattern);
          if (entry === undefined) {
            entry = new MergedRule(rule.pattern);
            merged.set(rule.pattern, entry);
          }
          entry.add(policy.name, rule);
        }
      }
    }
    const exact = new Map<string, CompiledRule>();
    const nonExact: CompiledRule[] = [];
    for (const entry of merged.values()) {
      const rule = compileRule(entry);
      if (rule.kind === 'exact') exact.set(rule.pattern, rule);
      else nonExact.push(rule);
    }
    nonExact.sort((a, b) => comparePriority(b, a));
    this.#exact = exact;
    this.#nonExact = Object.freeze(nonExact);
    const buckets = new Map<string, CompiledRule[]>();
    const unbucketed: CompiledRule[] = [];
    for (const rule of nonExact) {
      const lead = literalLead(rule);
      const slash = lead.indexOf('/');
      if (slash === -1) {
        unbucketed.push(rule);
        continue;
      }
      const key = lead.slice(0, slash);
      const bucket = buckets.get(key);
      if (bucket === undefined) buckets.set(key, [rule]);
      else bucket.push(rule);
    }
    this.#buckets = buckets;
    this.#unbucketed = Object.freeze(unbucketed);
  }

  /** #search, remembered for short paths (a client reads the same few paths over and over). */
  #find(path: string, listFallback: boolean): CompiledRule | undefined {
    if (path.length > FIND_MEMO_MAX_PATH) return this.#search(path, listFallback);
    // The list fallback only changes the answer for paths ending in '/'.
    const key = listFallback && path.endsWith('/') ? `L${path}` : `-${path}`;
    const known = this.#found.get(key);
    if (known !== undefined) return known ?? undefined;
    const rule = this.#search(path, listFallback);
    if (this.#found.size >= FIND_MEMO_ENTRIES) this.#found.clear();
    this.#found.set(key, rule ?? null);
    return rule;
  }

  /** The deciding rule: exact, then (for lists) exact without the trailing '/', then the best glob. */
  #search(path: string, listFallback: boolean): CompiledRule | undefined {
    const exact = this.#exact.get(path);
    if (exact !== undefined) return exact;
    if (listFallback && path.endsWith('/')) {
      const bare = this.#exact.get(path.slice(0, -1));
      if (bare !== undefined) return bare;
    }
    let best: CompiledRule | undefined;
    const slash = path.indexOf('/');
    if (slash !== -1) {
      const bucket = this.#buckets.get(path.slice(0, slash));
      if (bucket !== undefined) {
        for (const rule of bucket) {
          if (nonExactMatches(rule, path)) {
            best = rule;
            break;
          }
        }
      }
    }
    for (const rule of this.#unbucketed) {
      if (best !== undefined && comparePriority(rule, best) < 0) break;
      if (nonExactMatches(rule, path)) return rule;
    }
    return best;
  }

  allowOperation(req: AclRequest): AclDecision {
    if (this.isRoot) return ROOT_DECISION;
    const rule = this.#find(req.path, req.operation === 'list');
    return rule === undefined ? NO_MATCH_DECISION : checkRule(rule, req);
  }

  capabilities(path: string): readonly CapabilityName[] {
    if (this.isRoot) return ROOT_REPORT;
    return this.#find(path, true)?.report ?? DENY_REPORT;
  }

  explain(path: string, operation?: Operation): AclExplanation {
    const withOperation = operation === undefined ? {} : { operation };
    if (this.isRoot) {
      return {
        path,
        ...withOperation,
        ...(operation === undefined ? {} : { allowed: true }),
        capabilities: ROOT_REPORT,
        isRoot: true,
        matches: [],
        reason: ROOT_DECISION.reason,
      };
    }
    const listFallback = operation === undefined || operation === 'list';
    const winner = this.#find(path, listFallback);
    const matching: CompiledRule[] = [];
    const exact = this.#exact.get(path);
    if (exact !== undefined) matching.push(exact);
    if (listFallback && path.endsWith('/')) {
      const bare = this.#exact.get(path.slice(0, -1));
      if (bare !== undefined) matching.push(bare);
    }
    // In the order #search considers them (exact, list fallback, globs by priority), so the
    // deciding rule, the first that matches, comes first.
    for (const rule of this.#nonExact) if (nonExactMatches(rule, path)) matching.push(rule);
    const matches = matching.flatMap((rule) =>
      rule.sources.map((source): AclMatch => ({
        policy: source.policy,
        pattern: source.pattern,
        line: source.line,
        capabilities: source.capabilities,
        kind: rule.kind === 'exact' ? 'exact' : 'glob',
        used: rule === winner,
      })),
    );
    const capabilities = winner?.report ?? DENY_REPORT;
    if (operation !== undefined) {
      const decision = this.allowOperation({ operation, path });
      return {
        path,
        operation,
        allowed: decision.allowed,
        capabilities,
        isRoot: false,
        matches,
        reason: decision.reason,
      };
    }
    let reason = NO_MATCH_DECISION.reason;
    if (winner !== undefined) {
      const how = winner.kind === 'exact' ? 'exact rule' : 'rule';
      reason =
        winner.pattern === path || winner.kind !== 'exact'
          ? `${how} ${JSON.stringify(winner.pattern)} decides`
          : `${how} ${JSON.stringify(winner.pattern)} decides (a list path without its trailing "/")`;
    }
    return { path, capabilities, isRoot: false, matches, reason };
  }

  hasAccessUnder(mountPath: string): boolean {
    const mount = mountPath.endsWith('/') ? mountPath : `${mountPath}/`;
    // Vault's fast path; it also answers for a root ACL, whose capabilities are ['root'].
    if (this.capabilities(mount) !== DENY_REPORT) return true;
    // A deny rule has no grant bits (bitsOf).
    const grants = (rule: CompiledRule): boolean => (rule.bits & GRANTS) !== 0;
    for (const rule of this.#exact.values()) {
      if (grants(rule) && rule.pattern.startsWith(mount)) return true;
    }
    const mountSegments = mount.slice(0, -1).split('/');
    for (const rule of this.#nonExact) {
      if (!grants(rule)) continue;
      if (
        rule.kind === 'prefix'
          ? rule.prefix.startsWith(mount)
          : segmentsReachUnder(rule, mountSegments)
      ) {
        return true;
      }
    }
    return false;
  }
}

/**
 * Compiles a policy set once: identical patterns merged, exact rules in a map, non-exact rules
 * sorted by priority. A set holding the policy named `root` is a root ACL that allows
 * everything. No policies, or policies without rules, deny everything (an empty allow-list).
 */
export function compileAcl(policies: readonly Policy[]): Acl {
  return new CompiledAcl(policies);
}
