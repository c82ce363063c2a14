// The policy store: ACL policies kept behind the barrier (one entry per name), the built-in
// ones, and the cache of compiled ACLs per policy set that every request reads.
import { CofferError, isCofferError } from '../../sdk/errors.js';
import { getJson, putJson, type Storage } from '../../sdk/storage.js';
import { compileAcl, type Acl } from './acl.js';
import {
  DEFAULT_POLICY_NAME,
  DEFAULT_POLICY_TEXT,
  RESPONSE_WRAPPING_POLICY,
  RESPONSE_WRAPPING_POLICY_NAME,
  ROOT_POLICY,
  ROOT_POLICY_NAME,
  isImmutablePolicy,
} from './builtin.js';
import { normalisePolicyName, parsePolicy } from './parse.js';
import type { PathRule, Policy } from './policy.js';
import { hasTemplate, resolveTemplate, type TemplateIdentity } from './template.js';

/**
 * What is stored at key `<name>` of the store's view (the core gives it `sys/policy/`). The
 * text is kept as written and parsed on load, so a parser fix applies to stored policies.
 */
export interface StoredPolicy {
  readonly name: string;
  readonly raw: string;
  /** 1 on the first write, +1 on each later one. */
  readonly version?: number;
  /** Epoch ms of the last write (absent when the store has no clock). */
  readonly modifiedAt?: number;
}

export interface PolicyStoreDeps {
  readonly storage: Storage;
  /** For `modifiedAt`; without it the field is not written. */
  readonly now?: () => number;
  /** Most compiled ACLs kept (one per distinct policy set); the oldest is dropped first. */
  readonly maxCachedAcls?: number;
}

const DEFAULT_MAX_CACHED_ACLS = 1024;

/**
 * Keys already built, by the names array they were built from: a cached token entry hands
 * the same (readonly, never modified) array to every request, so its key is built once.
 */
const aclKeys = new WeakMap<readonly string[], string>();

/** The ACL cache's key for a set of policy names (order and repeats do not matter). */
function aclKey(names: readonly string[]): string {
  let key = aclKeys.get(names);
  if (key !== undefined) return key;
  key = JSON.stringify(names);
  // Token entries usually hold their policies sorted already: strictly ascending means sorted
  // and free of repeats, so the names are their own key.
  for (let i = 1; i < names.length; i++) {
    if (!(names[i - 1]! < names[i]!)) {
      key = JSON.stringify([...new Set(names)].sort());
      break;
    }
  }
  aclKeys.set(names, key);
  return key;
}

export class PolicyStore {
  readonly #storage: Storage;
  readonly #now: (() => number) | undefined;
  readonly #maxCachedAcls: number;
  #open = false;
  /** Name → parsed policy, or null when known to be absent. Filled lazily. */
  readonly #policies = new Map<string, Policy | null>();
  /** Policy-set key → compiled ACL. Cleared completely on any write. */
  readonly #acls = new Map<string, Acl>();
  #version = 0;

  constructor(deps: PolicyStoreDeps) {
    this.#storage = deps.storage;
    this.#now = deps.now;
    this.#maxCachedAcls = deps.maxCachedAcls ?? DEFAULT_MAX_CACHED_ACLS;
  }

  /**
   * Bumped on every write, delete, invalidation, open and close. A compiled ACL is cached only
   * if no bump happened while it was being built, so an edit applies on the very next request.
   */
  get version(): number {
    return this.#version;
  }

  /** Called after every unseal: writes the built-in `default` policy if it is not stored yet. */
  async open(): Promise<void> {
    this.#invalidate();
    if ((await this.#storage.get(DEFAULT_POLICY_NAME)) === undefined) {
      await this.#write(
        DEFAULT_POLICY_NAME,
        parsePolicy(DEFAULT_POLICY_NAME, DEFAULT_POLICY_TEXT),
        0,
      );
    }
    this.#open = true;
  }

  /** Forgets every cached policy and ACL (on seal). */
  close(): void {
    this.#open = false;
    this.#invalidate();
  }

  /**
   * Drops every cached policy and ACL, e.g. when another node changed a policy. The next
   * request reloads from storage.
   */
  invalidate(): void {
    this.#invalidate();
  }

  /** A policy by name (normalised first); root and response-wrapping are built in. */
  async get(name: string): Promise<Policy | undefined> {
    this.#assertOpen();
    let normalised: string;
    try {
      normalised = normalisePolicyName(name);
    } catch {
      return undefined;
    }
    return this.#load(normalised);
  }

  /**
   * The policy names as `LIST sys/policies/acl` returns them (Vault): the stored ones sorted,
   * then `root`. `response-wrapping` is not listed (it cannot be assigned to a token).
   */
  async list(): Promise<string[]> {
    this.#assertOpen();
    const keys = await this.#storage.list('');
    const names = keys.filter((key) => !key.endsWith('/') && !isImmutablePolicy(key)).sort();
    return [...names, ROOT_POLICY_NAME];
  }

  /**
   * Creates or replaces a policy. The name is normalised; `root` and `response-wrapping` are
   * refused; text that does not parse is refused with its line and column (invalid_request).
   */
  async put(name: string, text: string): Promise<Policy> {
    this.#assertOpen();
    const normalised = normalisePolicyName(name);
    if (isImmutablePolicy(normalised)) {
      throw new CofferError('invalid_request', `cannot update "${normalised}" policy`);
    }
    const policy = parsePolicy(normalised, text);
    const previous = await this.#readStored(normalised);
    await this.#write(normalised, policy, previous?.version ?? 0);
    return policy;
  }

  /** Deletes a policy; a missing one is fine. `default`, `root`, `response-wrapping` are refused. */
  async delete(name: string): Promise<void> {
    this.#assertOpen();
    const normalised = normalisePolicyName(name);
    if (normalised === DEFAULT_POLICY_NAME) {
      throw new CofferError('invalid_request', 'cannot delete default policy');
    }
    if (isImmutablePolicy(normalised)) {
      throw new CofferError('invalid_request', `cannot delete "${normalised}" policy`);
    }
    await this.#storage.delete(normalised);
    this.#invalidate();
    this.#policies.set(normalised, null);
  }

  /**
   * The compiled ACL for `names` when it is cached, without a promise (the per-request path of
   * a token with no entity); undefined otherwise, and while sealed (acl() then says so).
   */
  cachedAcl(names: readonly string[]): Acl | undefined {
    if (!this.#open) return undefined;
    return this.#acls.get(aclKey(names));
  }

  /**
   * The compiled ACL for a token's policy names, cached per sorted, de-duplicated set. Unknown
   * names are skipped. SECURITY: names are used exactly as given: a name that is not in
   * normalised form (`ROOT`, ` root`) matches nothing, so only the exact name `root` yields a
   * root ACL; whoever stores names on tokens must normalise them first.
   */
  async acl(names: readonly string[], identity?: TemplateIdentity): Promise<Acl> {
    this.#assertOpen();
    const key = aclKey(names);
    const cached = this.#acls.get(key) ?? this.#acls.get(`${key}\n${identity?.cacheKey ?? ''}`);
    if (cached !== undefined) return cached;
    const unique = [...new Set(names)].sort();

    const version = this.#version;
    const policies: Policy[] = [];
    for (const name of unique) {
      if (!isNormalised(name)) continue;
      const policy = await this.#load(name);
      if (policy !== undefined) policies.push(policy);
    }
    const templated = policies.some((policy) => policy.rules.some((r) => hasTemplate(r.pattern)));
    const acl = compileAcl(
      templated ? policies.map((policy) => withTemplatesFilled(policy, identity)) : policies,
    );
    // An ACL with templated rules holds this identity's values: cached under it, never
    // under the plain policy set.
    const cacheKey = templated ? `${key}\n${identity?.cacheKey ?? ''}` : key;
    if (this.#version === version && this.#open) {
      if (this.#acls.size >= this.#maxCachedAcls) {
        const oldest = this.#acls.keys().next();
        if (oldest.done !== true) this.#acls.delete(oldest.value);
      }
      this.#acls.set(cacheKey, acl);
    }
    return acl;
  }

  #assertOpen(): void {
    if (!this.#open) throw new CofferError('sealed', 'Vault is sealed');
  }

  #invalidate(): void {
    this.#version++;
    this.#policies.clear();
    this.#acls.clear();
  }

  async #load(name: string): Promise<Policy | undefined> {
    if (name === ROOT_POLICY_NAME) return ROOT_POLICY;
    if (name === RESPONSE_WRAPPING_POLICY_NAME) return RESPONSE_WRAPPING_POLICY;
    const cached = this.#policies.get(name);
    if (cached !== undefined) return cached ?? undefined;
    const version = this.#version;
    const stored = await this.#readStored(name);
    let policy: Policy | undefined;
    if (stored !== undefined) {
      try {
        policy = parsePolicy(name, stored.raw);
      } catch (error) {
        // Fail closed: a policy that no longer parses could hold a deny; skipping it would widen
        // access. The operator must rewrite it.
        const why = isCofferError(error) ? error.message : 'unknown error';
        throw new CofferError('internal', `stored policy "${name}" does not parse: ${why}`, {
          cause: error,
        });
      }
    }
    // A write that raced this load has already cached the newer policy; keep that.
    if (this.#version === version) this.#policies.set(name, policy ?? null);
    return policy;
  }

  async #readStored(name: string): Promise<StoredPolicy | undefined> {
    const stored = await getJson<StoredPolicy>(this.#storage, name);
    if (stored === undefined) return undefined;
    if (typeof stored !== 'object' || stored === null || typeof stored.raw !== 'string') {
      throw new CofferError('integrity_failure', `stored policy "${name}" is malformed`);
    }
    return stored;
  }

  async #write(name: string, policy: Policy, previousVersion: number): Promise<void> {
    const entry: StoredPolicy = {
      name,
      raw: policy.raw,
      version: previousVersion + 1,
      ...(this.#now === undefined ? {} : { modifiedAt: this.#now() }),
    };
    await putJson(this.#storage, name, entry);
    this.#invalidate();
    this.#policies.set(name, policy);
  }
}

/**
 * The policy with its templated patterns filled in from `identity`; a rule whose pattern
 * cannot be filled in is dropped (it matches nothing for this token, as in Vault).
 */
function withTemplatesFilled(policy: Policy, identity: TemplateIdentity | undefined): Policy {
  const rules: PathRule[] = [];
  for (const rule of policy.rules) {
    if (!hasTemplate(rule.pattern)) {
      rules.push(rule);
      continue;
    }
    const pattern = resolveTemplate(rule.pattern, identity);
    if (pattern !== undefined) rules.push({ ...rule, pattern: pattern.replace(/^\/+/, '') });
  }
  return { ...policy, rules };
}

function isNormalised(name: string): boolean {
  try {
    return normalisePolicyName(name) === name;
  } catch {
    return false;
  }
}
