// The `auth/token/` backend: token creation with Vault's policy, role, sudo and root rules;
// lookup, renewal and revocation (by token, by accessor, of the caller's own token); the
// accessor list, token roles and tidy. Storage and lifetimes live in the token store.
import {
  withWarnings,
  type AuthResult,
  type EngineRequest,
  type EngineResult,
  type Operation,
} from '../sdk/engine.js';
import { CofferError, invalidField } from '../sdk/errors.js';
import { parseFields, type FieldSpecs, type FieldValues } from '../sdk/fields.js';
import type { JsonObject } from '../sdk/json.js';
import { compilePattern } from '../sdk/path.js';
import { globMatch } from '../sdk/text.js';
import type { Caller, InternalBackend } from './caller.js';
import {
  normaliseCidr,
  sanitizePolicies,
  type TokenEntry,
  type TokenRole,
  type TokenRoleType,
  type TokenStore,
  type TokenType,
} from './token-store.js';

/** Where the backend is mounted; also the prefix of the paths `sudoOn` is asked about. */
export const TOKEN_MOUNT_PATH = 'auth/token/';

/** Policies that exist for internal use and can never be put on a token. */
const NON_ASSIGNABLE_POLICIES: ReadonlySet<string> = new Set([
  'response-wrapping',
  'control-group',
]);
const PATH_SUFFIX_PATTERN = /^\w(?:[\w.-]{0,126}\w)?$/;

export interface TokenBackendDeps {
  readonly tokens: TokenStore;
  /** Epoch ms (renders `ttl` in lookups). */
  readonly now: () => number;
  /** Whether an ACL policy exists; when given, creation warns about unknown policies. */
  readonly policyExists?: (name: string) => Promise<boolean>;
  /** The policies a token's entity and its groups add now (identity store); default none. */
  readonly identityPolicies?: (entry: TokenEntry) => Promise<readonly string[]>;
}

interface HandlerContext<F extends FieldSpecs> {
  readonly req: EngineRequest;
  readonly caller: Caller;
  readonly fields: FieldValues<F>;
  readonly params: Readonly<Record<string, string>>;
}

/** Declared through a method signature so routes with different fields share one list. */
type RouteHandler<F extends FieldSpecs> = {
  handle(ctx: HandlerContext<F>): Promise<EngineResult>;
}['handle'];

interface Route<F extends FieldSpecs = FieldSpecs> {
  readonly pattern: string;
  readonly fields: F;
  readonly operations: Partial<Record<Operation, RouteHandler<F>>>;
  readonly exists?: (params: Readonly<Record<string, string>>) => Promise<boolean>;
}

function defineRoute<F extends FieldSpecs>(route: Route<F>): Route<F> {
  return route;
}

/** Trim, lower-case, drop empties, dedupe and sort (no "root" collapsing). */
function normaliseNames(names: readonly string[]): string[] {
  return [...new Set(names.map((n) => n.trim().toLowerCase()).filter((n) => n !== ''))].sort();
}

function matchesAny(patterns: readonly string[], value: string): boolean {
  return patterns.some((p) => globMatch(p, value));
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Vault's display names: "token-<name>", anything but [A-Za-z0-9-] turned into '-'. */
function displayNameFor(requested: string | undefined): string {
  if (requested === undefined || requested === '') return 'token';
  return `token-${requested}`.replace(/[^a-zA-Z0-9-]/g, '-').replace(/-+$/, '');
}

function remainingSeconds(entry: TokenEntry, nowMs: number): number {
  if (entry.expiresAt === undefined) return 0;
  return Math.max(0, Math.floor((entry.expiresAt - nowMs) / 1000));
}

function isRenewable(entry: TokenEntry): boolean {
  return entry.renewable && entry.expiresAt !== undefined;
}

/** The `data` of lookup, lookup-self and lookup-accessor (`id` is '' through an accessor). */
export function renderTokenLookup(
  entry: TokenEntry,
  id: string,
  nowMs: number,
  identityPolicies: readonly string[] = [],
): JsonObject {
  const data: JsonObject = {
    accessor: entry.accessor,
    creation_time: Math.floor(entry.createdAt / 1000),
    creation_ttl: entry.ttlSeconds,
    display_name: entry.displayName,
    entity_id: entry.entityId ?? '',
    expire_time: entry.expiresAt === undefined ? null : iso(entry.expiresAt),
    explicit_max_ttl: entry.explicitMaxTtlSeconds,
    id,
    issue_time: iso(entry.createdAt),
    meta: entry.meta === null ? null : { ...entry.meta },
    num_uses: entry.numUses,
    orphan: entry.orphan,
    path: entry.path,
    policies: [...entry.policies],
    renewable: isRenewable(entry),
    ttl: remainingSeconds(entry, nowMs),
    type: entry.type,
  };
  // As Vault: the policies the token's entity and its groups add, only when there are some.
  if (identityPolicies.length > 0) data.identity_policies = [...identityPolicies];
  if (entry.periodSeconds > 0) data.period = entry.periodSeconds;
  if (entry.role !== undefined) data.role = entry.role;
  if (entry.boundCidrs !== undefined && entry.boundCidrs.length > 0) {
    data.bound_cidrs = [...entry.boundCidrs];
  }
  if (entry.lastRenewalAt !== undefined) {
    data.last_renewal_time = Math.floor(entry.lastRenewalAt / 1000);
    data.last_renewal = iso(entry.lastRenewalAt);
  }
  return data;
}

/** The `auth` block of a response for a token just created or renewed. */
export function authResult(
  entry: TokenEntry,
  clientToken: string,
  leaseSeconds: number,
  identityPolicies: readonly string[] = [],
): AuthResult {
  return {
    clientToken,
    accessor: entry.accessor,
    policies: sanitizePolicies([...entry.policies, ...identityPolicies], false),
    tokenPolicies: [...entry.policies],
    ...(identityPolicies.length === 0 ? {} : { identityPolicies: [...identityPolicies] }),
    metadata: entry.meta === null ? null : { ...entry.meta },
    leaseDurationSeconds: leaseSeconds,
    renewable: isRenewable(entry),
    entityId: entry.entityId ?? '',
    tokenType: entry.type,
    orphan: entry.orphan,
    numUses: entry.numUses,
  };
}

function renderRole(role: TokenRole): JsonObject {
  const data: JsonObject = {
    name: role.name,
    allowed_policies: [...role.allowedPolicies],
    disallowed_policies: [...role.disallowedPolicies],
    allowed_policies_glob: [...role.allowedPoliciesGlob],
    disallowed_policies_glob: [...role.disallowedPoliciesGlob],
    orphan: role.orphan,
    renewable: role.renewable,
    path_suffix: role.pathSuffix,
    allowed_entity_aliases: [...role.allowedEntityAliases],
    token_type: role.tokenType,
    token_ttl: role.tokenTtlSeconds,
    token_max_ttl: role.tokenMaxTtlSeconds,
    token_explicit_max_ttl: role.tokenExplicitMaxTtlSeconds,
    explicit_max_ttl: role.tokenExplicitMaxTtlSeconds,
    token_period: role.tokenPeriodSeconds,
    period: role.tokenPeriodSeconds,
    token_no_default_policy: role.tokenNoDefaultPolicy,
  };
  if (role.tokenBoundCidrs.length > 0) data.token_bound_cidrs = [...role.tokenBoundCidrs];
  if (role.tokenNumUses > 0) data.token_num_uses = role.tokenNumUses;
  return data;
}

/** A token role with every field at its default (what writing a new role starts from). */
export function defaultRole(name: string): TokenRole {
  return {
    name,
    allowedPolicies: [],
    disallowedPolicies: [],
    allowedPoliciesGlob: [],
    disallowedPoliciesGlob: [],
    orphan: false,
    renewable: true,
    pathSuffix: '',
    allowedEntityAliases: [],
    tokenType: 'default-service',
    tokenTtlSeconds: 0,
    tokenMaxTtlSeconds: 0,
    tokenExplicitMaxTtlSeconds: 0,
    tokenPeriodSeconds: 0,
    tokenNumUses: 0,
    tokenNoDefaultPolicy: false,
    tokenBoundCidrs: [],
  };
}

function parseRoleType(value: string): TokenRoleType {
  switch (value) {
    case 'service':
    case 'batch':
    case 'default-service':
    case 'default-batch':
      return value;
    case 'default':
      return 'default-service';
    default:
      throw invalidField(
        'token_type',
        'must be "service", "batch", "default-service" or "default-batch"',
      );
  }
}

const CREATE_FIELDS = {
  id: { type: 'string', description: 'Custom token id (root only).' },
  role_name: { type: 'string', description: 'Create against this token role.' },
  policies: { type: 'string-list', description: 'Policies of the token.' },
  meta: { type: 'string-map', description: 'Metadata shown on lookups and in audit logs.' },
  metadata: { type: 'string-map', description: 'Alias of meta.' },
  no_parent: { type: 'bool', description: 'Create an orphan (root or sudo only).' },
  no_default_policy: { type: 'bool', description: 'Do not add the default policy.' },
  renewable: { type: 'bool', description: 'Whether the token can be renewed (default true).' },
  ttl: { type: 'duration', description: 'Initial TTL.' },
  lease: { type: 'duration', description: 'Deprecated alias of ttl.' },
  explicit_max_ttl: { type: 'duration', description: 'Hard limit on the lifetime.' },
  period: { type: 'duration', description: 'Make it periodic (root or sudo, or via a role).' },
  display_name: { type: 'string', description: 'Shown as "token-<display_name>".' },
  num_uses: { type: 'int', description: 'Number of uses; 0 = unlimited.' },
  type: { type: 'string', description: '"service" (default) or "batch".' },
  entity_alias: { type: 'string', description: 'Entity alias (roles only; not supported yet).' },
  format: { type: 'string', description: 'Accepted for compatibility; ignored.' },
} as const satisfies FieldSpecs;

const ROLE_FIELDS = {
  allowed_policies: { type: 'string-list', description: 'Policies tokens may have.' },
  disallowed_policies: { type: 'string-list', description: 'Policies tokens may not have.' },
  allowed_policies_glob: { type: 'string-list', description: 'Glob patterns of allowed policies.' },
  disallowed_policies_glob: {
    type: 'string-list',
    description: 'Glob patterns of disallowed policies.',
  },
  orphan: { type: 'bool', description: 'Tokens are orphans.' },
  renewable: { type: 'bool', description: 'Tokens can be renewed (default true).' },
  path_suffix: { type: 'string', description: "Appended to the tokens' creation path." },
  allowed_entity_aliases: { type: 'string-list', description: 'Entity aliases allowed (globs).' },
  token_type: { type: 'string', description: 'service, batch, default-service or default-batch.' },
  token_ttl: { type: 'duration', description: 'Default TTL of the tokens.' },
  token_max_ttl: { type: 'duration', description: 'Maximum TTL of the tokens, renewals included.' },
  token_explicit_max_ttl: { type: 'duration', description: 'Hard lifetime limit of the tokens.' },
  token_period: { type: 'duration', description: 'Tokens are periodic with this period.' },
  token_num_uses: { type: 'int', description: 'Use limit of the tokens; 0 = unlimited.' },
  token_no_default_policy: { type: 'bool', description: 'Do not add the default policy.' },
  token_bound_cidrs: { type: 'string-list', description: 'Client CIDRs the tokens are bound to.' },
  period: { type: 'duration', description: 'Deprecated: use token_period.' },
  explicit_max_ttl: { type: 'duration', description: 'Deprecated: use token_explicit_max_ttl.' },
  bound_cidrs: { type: 'string-list', description: 'Deprecated: use token_bound_cidrs.' },
} as const satisfies FieldSpecs;

const TOKEN_FIELD = {
  token: { type: 'string', description: 'The token.', required: true },
} as const satisfies FieldSpecs;

const ACCESSOR_FIELD = {
  accessor: { type: 'string', description: 'The token accessor.', required: true },
} as const satisfies FieldSpecs;

const INCREMENT_FIELD = {
  increment: { type: 'duration', description: 'Requested extension; 0 = the original TTL.' },
} as const satisfies FieldSpecs;

type CreateMode = 'create' | 'create-orphan' | 'role';

export function createTokenBackend(deps: TokenBackendDeps): InternalBackend {
  const { tokens, now } = deps;
  const identityOf = (entry: TokenEntry): Promise<readonly string[]> =>
    deps.identityPolicies?.(entry) ?? Promise.resolve([]);

  /** `lookup-self` (read, or update as older clients send it): the request token's entry. */
  const lookupSelf = async ({ caller }: { caller: Caller }): Promise<EngineResult> => ({
    kind: 'data',
    data: renderTokenLookup(caller.entry, caller.token, now(), await identityOf(caller.entry)),
  });

  /** Root, or sudo on this request's own path. */
  const isSudo = (caller: Caller, req: EngineRequest): boolean => {
    if (caller.isRoot) return true;
    const path = TOKEN_MOUNT_PATH + req.path.replace(/\/+$/, '');
    return caller.sudoOn(path) || caller.sudoOn(`${path}/`);
  };

  /** SECURITY: only a token holding the root policy may hand it out (sudo is not enough). */
  const callerIsRoot = (caller: Caller): boolean =>
    caller.isRoot && caller.entry.policies.includes('root');

  async function createToken(
    ctx: HandlerContext<typeof CREATE_FIELDS>,
    mode: CreateMode,
    roleName: string | undefined,
  ): Promise<EngineResult> {
    const { req, caller, fields: f } = ctx;
    const parent = caller.entry;
    if (parent.type === 'batch') {
      throw new CofferError('invalid_request', 'batch tokens cannot create more tokens');
    }
    // SECURITY: a use-limited token could escape its limit through children.
    if (parent.numUses !== 0) {
      throw new CofferError('invalid_request', 'restricted use token cannot generate child tokens');
    }
    const sudo = isSudo(caller, req);

    let role: TokenRole | undefined;
    if (roleName !== undefined) {
      role = await tokens.getRole(roleName);
      if (role === undefined) throw invalidField('role_name', `unknown role ${roleName}`);
    }

    if (f.meta !== undefined && f.metadata !== undefined) {
      throw invalidField('metadata', 'give either meta or metadata, not both');
    }
    const meta = f.meta ?? f.metadata;
    let renewable = f.renewable ?? true;

    let typeName = f.type ?? '';
    if (role !== undefined) {
      switch (role.tokenType) {
        case 'default-service':
          break;
        case 'default-batch':
          if (typeName === '') typeName = 'batch';
          break;
        case 'service':
        case 'batch':
          typeName = role.tokenType;
          break;
      }
    }
    let type: TokenType;
    switch (typeName) {
      case '':
      case 'service':
        type = 'service';
        break;
      case 'batch':
        type = 'batch';
        if ((f.explicit_max_ttl ?? 0) !== 0) {
          throw invalidField('explicit_max_ttl', 'batch tokens cannot have "explicit_max_ttl" set');
        }
        if ((f.num_uses ?? 0) !== 0) {
          throw invalidField('num_uses', 'batch tokens cannot have "num_uses" set');
        }
        if ((f.period ?? 0) !== 0)
          throw invalidField('period', 'batch tokens cannot have "period" set');
        renewable = false;
        break;
      default:
        throw invalidField('type', 'must be "service" or "batch"');
    }

    let numUses = f.num_uses ?? 0;
    if (numUses < 0) throw invalidField('num_uses', 'number of uses cannot be negative');

    if (f.entity_alias !== undefined && f.entity_alias !== '') {
      if (role === undefined) {
        throw invalidField('entity_alias', 'is only allowed in combination with token role');
      }
      if (!matchesAny(role.allowedEntityAliases, f.entity_alias.toLowerCase())) {
        throw invalidField('entity_alias', "invalid 'entity_alias' value");
      }
      throw invalidField('entity_alias', 'entity aliases on token creation are not supported yet');
    }

    let path = TOKEN_MOUNT_PATH + req.path.replace(/\/+$/, '');
    if (role !== undefined) {
      if (!role.renewable) renewable = false;
      if (role.tokenNumUses > 0 && (numUses === 0 || role.tokenNumUses < numUses)) {
        numUses = role.tokenNumUses;
      }
      if (role.pathSuffix !== '') path = `${path}/${role.pathSuffix}`;
    }

    if (f.id !== undefined && f.id !== '' && !callerIsRoot(caller)) {
      throw new CofferError('invalid_request', 'root privileges required to specify token id');
    }

    // Policies, as Vault decides them.
    const noDefault = f.no_default_policy === true || role?.tokenNoDefaultPolicy === true;
    const requested = f.policies ?? [];
    let addDefault = false;
    let chosen: string[];
    const roleRestricts =
      role !== undefined &&
      (role.allowedPolicies.length > 0 ||
        role.disallowedPolicies.length > 0 ||
        role.allowedPoliciesGlob.length > 0 ||
        role.disallowedPoliciesGlob.length > 0);
    if (role !== undefined && roleRestricts) {
      // A role with allowed/disallowed lists replaces the parent-subset rule (by design: roles
      // are how a token hands out policies it does not hold). The root rule below still holds.
      const localAddDefault =
        !noDefault &&
        !role.disallowedPolicies.includes('default') &&
        !matchesAny(role.disallowedPoliciesGlob, 'default');
      chosen = requested.length > 0 ? sanitizePolicies(requested, localAddDefault) : [];
      if (role.allowedPolicies.length > 0 || role.allowedPoliciesGlob.length > 0) {
        const allowed = sanitizePolicies(role.allowedPolicies, localAddDefault);
        if (chosen.length === 0) {
          chosen = allowed;
        } else {
          for (const policy of chosen) {
            if (!allowed.includes(policy) && !matchesAny(role.allowedPoliciesGlob, policy)) {
              throw new CofferError(
                'invalid_request',
                `token policies must be subset of the role's allowed policies or glob policies: "${policy}" is not`,
              );
            }
          }
        }
      } else if (chosen.length === 0) {
        chosen = sanitizePolicies(parent.policies, localAddDefault);
      }
      for (const policy of chosen) {
        if (
          role.disallowedPolicies.includes(policy) ||
          matchesAny(role.disallowedPoliciesGlob, policy)
        ) {
          throw new CofferError(
            'invalid_request',
            `token policy "${policy}" is disallowed by this role`,
          );
        }
      }
    } else if (requested.length === 0) {
      // Inherit the parent's policies; "default" only if the parent has it.
      chosen = sanitizePolicies(parent.policies, false);
    } else if (!sudo) {
      const input = sanitizePolicies(requested, false);
      const held = sanitizePolicies(parent.policies, false);
      if (!input.every((p) => held.includes(p))) {
        throw new CofferError('invalid_request', 'child policies must be subset of parent');
      }
      chosen = input;
      addDefault = !noDefault && parent.policies.includes('default');
    } else {
      chosen = requested.slice();
      addDefault = !noDefault;
    }
    let policies = sanitizePolicies(chosen, addDefault);
    if (noDefault) policies = policies.filter((p) => p !== 'default');
    for (const policy of policies) {
      if (NON_ASSIGNABLE_POLICIES.has(policy)) {
        throw invalidField('policies', `cannot assign policy "${policy}"`);
      }
    }
    // SECURITY: runs on the normalised set, so " ROOT" or "Root" is caught too; sudo on the
    // create path does not make a token root.
    if (policies.includes('root')) {
      if (!callerIsRoot(caller)) {
        throw new CofferError(
          'invalid_request',
          'root tokens may not be created without parent token being root',
        );
      }
      if (type === 'batch')
        throw new CofferError('invalid_request', 'batch tokens cannot be root tokens');
    }

    // Parent or orphan.
    let orphan: boolean;
    if (role !== undefined) {
      orphan = role.orphan;
    } else if (f.no_parent === true) {
      if (!sudo) {
        throw new CofferError(
          'invalid_request',
          'root or sudo privileges required to create orphan token',
        );
      }
      orphan = true;
    } else if (mode === 'create-orphan') {
      if (!sudo) {
        throw new CofferError(
          'invalid_request',
          'root or sudo privileges required to create orphan token',
        );
      }
      orphan = true;
    } else {
      orphan = false;
    }

    // Lifetimes.
    let explicitMax = f.explicit_max_ttl ?? 0;
    let period = f.period ?? 0;
    if (period > 0 && role === undefined && !sudo) {
      throw new CofferError(
        'invalid_request',
        'root or sudo privileges required to create periodic token',
      );
    }
    let ttl = f.ttl ?? f.lease ?? 0;
    const warnings: string[] = [];
    let maxTtl = 0;
    if (role !== undefined && type === 'service') {
      if (role.tokenExplicitMaxTtlSeconds > 0) {
        if (explicitMax > 0) {
          warnings.push(
            'Explicit max TTL specified both during creation call and in role; using the lesser value',
          );
        }
        explicitMax =
          explicitMax === 0
            ? role.tokenExplicitMaxTtlSeconds
            : Math.min(explicitMax, role.tokenExplicitMaxTtlSeconds);
      }
      if (role.tokenPeriodSeconds > 0) {
        if (period > 0) {
          warnings.push(
            'Period specified both during creation call and in role; using the lesser value',
          );
        }
        period = period === 0 ? role.tokenPeriodSeconds : Math.min(period, role.tokenPeriodSeconds);
      }
    }
    if (role !== undefined) {
      if (ttl === 0) ttl = role.tokenTtlSeconds;
      maxTtl = role.tokenMaxTtlSeconds;
    }

    // Bound CIDRs: a role's own, else a child inherits its parent's.
    let boundCidrs: readonly string[] = [];
    if (role !== undefined) boundCidrs = role.tokenBoundCidrs;
    else if (!orphan) boundCidrs = parent.boundCidrs ?? [];

    const created = await tokens.create({
      ...(f.id !== undefined && f.id !== '' ? { id: f.id } : {}),
      type,
      policies,
      path,
      displayName: displayNameFor(f.display_name),
      meta: meta ?? null,
      ttlSeconds: ttl,
      explicitMaxTtlSeconds: explicitMax,
      maxTtlSeconds: maxTtl,
      periodSeconds: period,
      numUses,
      renewable,
      ...(orphan ? {} : { parentToken: caller.token }),
      ...(parent.expiresAt === undefined ? {} : { issuerExpiresAt: parent.expiresAt }),
      ...(role === undefined ? {} : { role: role.name }),
      boundCidrs,
      // As in Vault: a token created by a token with an entity acts for the same entity.
      ...(parent.entityId === undefined ? {} : { entityId: parent.entityId }),
    });
    warnings.push(...created.warnings);
    if (deps.policyExists !== undefined) {
      for (const policy of created.entry.policies) {
        if (policy === 'root') continue;
        if (!(await deps.policyExists(policy))) warnings.push(`Policy "${policy}" does not exist`);
      }
    }
    return withWarnings(
      { kind: 'auth', auth: authResult(created.entry, created.token, created.entry.ttlSeconds) },
      warnings,
    );
  }

  async function writeRole(
    name: string,
    f: FieldValues<typeof ROLE_FIELDS>,
  ): Promise<EngineResult> {
    const base = (await tokens.getRole(name)) ?? defaultRole(name);
    const warnings: string[] = [];

    let pathSuffix = base.pathSuffix;
    if (f.path_suffix !== undefined) {
      if (
        f.path_suffix !== '' &&
        (!PATH_SUFFIX_PATTERN.test(f.path_suffix) || f.path_suffix.includes('..'))
      ) {
        throw invalidField(
          'path_suffix',
          'must be letters, digits, "_", "-" or "." (no ".."), starting and ending with a letter or digit',
        );
      }
      pathSuffix = f.path_suffix;
    }

    let tokenPeriodSeconds = base.tokenPeriodSeconds;
    if (f.token_period !== undefined) {
      tokenPeriodSeconds = f.token_period;
      if (f.period !== undefined) {
        warnings.push(
          "Both 'token_period' and deprecated 'period' value supplied, ignoring the deprecated value",
        );
      }
    } else if (f.period !== undefined) {
      tokenPeriodSeconds = f.period;
    }

    let tokenExplicitMaxTtlSeconds = base.tokenExplicitMaxTtlSeconds;
    if (f.token_explicit_max_ttl !== undefined) {
      tokenExplicitMaxTtlSeconds = f.token_explicit_max_ttl;
      if (f.explicit_max_ttl !== undefined) {
        warnings.push(
          "Both 'token_explicit_max_ttl' and deprecated 'explicit_max_ttl' value supplied, ignoring the deprecated value",
        );
      }
    } else if (f.explicit_max_ttl !== undefined) {
      tokenExplicitMaxTtlSeconds = f.explicit_max_ttl;
    }
    if (tokenExplicitMaxTtlSeconds > tokens.maxLeaseTtlSeconds) {
      warnings.push(
        `Given explicit max TTL of ${tokenExplicitMaxTtlSeconds} is greater than system/mount allowed value of ${tokens.maxLeaseTtlSeconds} seconds; tokens are capped to the latter`,
      );
    }

    let tokenBoundCidrs = base.tokenBoundCidrs;
    const cidrs = f.token_bound_cidrs ?? f.bound_cidrs;
    if (cidrs !== undefined) {
      const field = f.token_bound_cidrs !== undefined ? 'token_bound_cidrs' : 'bound_cidrs';
      tokenBoundCidrs = [...new Set(cidrs.map((c) => normaliseCidr(c, field)))];
      if (f.token_bound_cidrs !== undefined && f.bound_cidrs !== undefined) {
        warnings.push(
          "Both 'token_bound_cidrs' and deprecated 'bound_cidrs' value supplied, ignoring the deprecated value",
        );
      }
    }

    if (f.token_num_uses !== undefined && f.token_num_uses < 0) {
      throw invalidField('token_num_uses', 'cannot be negative');
    }

    const role: TokenRole = {
      name,
      allowedPolicies:
        f.allowed_policies === undefined
          ? base.allowedPolicies
          : sanitizePolicies(f.allowed_policies, false),
      disallowedPolicies:
        f.disallowed_policies === undefined
          ? base.disallowedPolicies
          : normaliseNames(f.disallowed_policies),
      allowedPoliciesGlob:
        f.allowed_policies_glob === undefined
          ? base.allowedPoliciesGlob
          : normaliseNames(f.allowed_policies_glob),
      disallowedPoliciesGlob:
        f.disallowed_policies_glob === undefined
          ? base.disallowedPoliciesGlob
          : normaliseNames(f.disallowed_policies_glob),
      orphan: f.orphan ?? base.orphan,
      renewable: f.renewable ?? base.renewable,
      pathSuffix,
      allowedEntityAliases:
        f.allowed_entity_aliases === undefined
          ? base.allowedEntityAliases
          : normaliseNames(f.allowed_entity_aliases),
      tokenType: f.token_type === undefined ? base.tokenType : parseRoleType(f.token_type),
      tokenTtlSeconds: f.token_ttl ?? base.tokenTtlSeconds,
      tokenMaxTtlSeconds: f.token_max_ttl ?? base.tokenMaxTtlSeconds,
      tokenExplicitMaxTtlSeconds,
      tokenPeriodSeconds,
      tokenNumUses: f.token_num_uses ?? base.tokenNumUses,
      tokenNoDefaultPolicy: f.token_no_default_policy ?? base.tokenNoDefaultPolicy,
      tokenBoundCidrs,
    };

    if (role.tokenType === 'batch') {
      if (!role.orphan) {
        throw invalidField(
          'token_type',
          "cannot be 'batch' when role is set to generate non-orphan tokens",
        );
      }
      if (role.tokenPeriodSeconds !== 0) {
        throw invalidField(
          'token_type',
          "cannot be 'batch' when role is set to generate periodic tokens",
        );
      }
      if (role.renewable) {
        throw invalidField(
          'token_type',
          "cannot be 'batch' when role is set to generate renewable tokens",
        );
      }
      if (role.tokenExplicitMaxTtlSeconds !== 0) {
        throw invalidField(
          'token_type',
          "cannot be 'batch' when role is set to generate tokens with an explicit max TTL",
        );
      }
      if (role.tokenNumUses !== 0) {
        throw invalidField(
          'token_type',
          "cannot be 'batch' when role is set to generate use-limited tokens",
        );
      }
    }
    if (role.tokenMaxTtlSeconds > 0 && role.tokenTtlSeconds > role.tokenMaxTtlSeconds) {
      throw invalidField('token_ttl', 'cannot be greater than token_max_ttl');
    }

    await tokens.putRole(role);
    return withWarnings({ kind: 'empty' }, warnings);
  }

  const routes: Route[] = [
    defineRoute({
      pattern: 'create',
      fields: CREATE_FIELDS,
      operations: {
        update: (ctx) => {
          const roleName = ctx.fields.role_name;
          return createToken(
            ctx,
            'create',
            roleName === undefined || roleName === '' ? undefined : roleName,
          );
        },
      },
    }),
    defineRoute({
      pattern: 'create-orphan',
      fields: CREATE_FIELDS,
      operations: {
        update: (ctx) => {
          if (ctx.fields.role_name !== undefined && ctx.fields.role_name !== '') {
            throw invalidField(
              'role_name',
              'use auth/token/create/<role> to create against a role',
            );
          }
          return createToken(ctx, 'create-orphan', undefined);
        },
      },
    }),
    defineRoute({
      pattern: 'create/:role_name',
      fields: CREATE_FIELDS,
      operations: {
        update: (ctx) => {
          const name = ctx.params.role_name ?? '';
          const inBody = ctx.fields.role_name;
          if (inBody !== undefined && inBody !== '' && inBody !== name) {
            throw invalidField('role_name', 'does not match the role in the path');
          }
          return createToken(ctx, 'role', name);
        },
      },
    }),
    defineRoute({
      pattern: 'lookup',
      fields: TOKEN_FIELD,
      operations: {
        update: async ({ fields }) => {
          const entry = await tokens.lookup(fields.token ?? '');
          if (entry === undefined) throw new CofferError('permission_denied', 'bad token');
          return {
            kind: 'data',
            data: renderTokenLookup(entry, fields.token ?? '', now(), await identityOf(entry)),
          };
        },
      },
    }),
    defineRoute({
      pattern: 'lookup-self',
      fields: { token: { type: 'string', description: 'Ignored: the request token is used.' } },
      operations: { read: lookupSelf, update: lookupSelf },
    }),
    defineRoute({
      pattern: 'lookup-accessor',
      fields: ACCESSOR_FIELD,
      operations: {
        update: async ({ fields }) => {
          // SECURITY: exactly the accessor's token; never a fallback to the caller's own.
          const entry = await tokens.lookupByAccessor(fields.accessor ?? '');
          if (entry === undefined) throw invalidField('accessor', 'invalid accessor');
          return {
            kind: 'data',
            data: renderTokenLookup(entry, '', now(), await identityOf(entry)),
          };
        },
      },
    }),
    defineRoute({
      pattern: 'renew',
      fields: { ...TOKEN_FIELD, ...INCREMENT_FIELD },
      operations: {
        update: async ({ fields }) => {
          const token = fields.token ?? '';
          const renewed = await tokens.renew(token, fields.increment ?? 0);
          return withWarnings(
            {
              kind: 'auth',
              auth: authResult(
                renewed.entry,
                token,
                renewed.ttlSeconds,
                await identityOf(renewed.entry),
              ),
            },
            renewed.warnings,
          );
        },
      },
    }),
    defineRoute({
      pattern: 'renew-self',
      fields: {
        ...INCREMENT_FIELD,
        token: { type: 'string', description: 'Ignored: the request token is used.' },
      },
      operations: {
        update: async ({ caller, fields }) => {
          const renewed = await tokens.renew(caller.token, fields.increment ?? 0);
          return withWarnings(
            {
              kind: 'auth',
              auth: authResult(
                renewed.entry,
                caller.token,
                renewed.ttlSeconds,
                await identityOf(renewed.entry),
              ),
            },
            renewed.warnings,
          );
        },
      },
    }),
    defineRoute({
      pattern: 'renew-accessor',
      fields: { ...ACCESSOR_FIELD, ...INCREMENT_FIELD },
      operations: {
        update: async ({ fields }) => {
          const renewed = await tokens.renewByAccessor(
            fields.accessor ?? '',
            fields.increment ?? 0,
          );
          return withWarnings(
            {
              kind: 'auth',
              auth: authResult(
                renewed.entry,
                '',
                renewed.ttlSeconds,
                await identityOf(renewed.entry),
              ),
            },
            renewed.warnings,
          );
        },
      },
    }),
    defineRoute({
      pattern: 'revoke',
      fields: TOKEN_FIELD,
      operations: {
        update: async ({ fields }) => {
          await tokens.revoke(fields.token ?? '');
          return { kind: 'empty' };
        },
      },
    }),
    defineRoute({
      pattern: 'revoke-self',
      fields: {},
      operations: {
        update: async ({ caller }) => {
          await tokens.revoke(caller.token);
          return { kind: 'empty' };
        },
      },
    }),
    defineRoute({
      pattern: 'revoke-accessor',
      fields: ACCESSOR_FIELD,
      operations: {
        update: async ({ fields }) => {
          // SECURITY: exactly the accessor's token (and its children); nothing else.
          const revoked = await tokens.revokeByAccessor(fields.accessor ?? '');
          return revoked
            ? { kind: 'empty' }
            : { kind: 'empty', warnings: ['No token found with this accessor'] };
        },
      },
    }),
    defineRoute({
      pattern: 'revoke-orphan',
      fields: TOKEN_FIELD,
      operations: {
        update: async ({ req, caller, fields }) => {
          if (!isSudo(caller, req)) {
            throw new CofferError(
              'invalid_request',
              'root or sudo privileges required to revoke and orphan',
            );
          }
          if (!(await tokens.revokeOrphan(fields.token ?? ''))) {
            throw new CofferError('invalid_request', 'token to revoke not found');
          }
          return { kind: 'empty' };
        },
      },
    }),
    defineRoute({
      pattern: 'accessors',
      fields: {},
      operations: {
        list: async ({ req, caller }) => {
          // Also enforced by the core (a sudo path); checked here too, fail closed.
          if (!isSudo(caller, req)) throw new CofferError('permission_denied', 'permission denied');
          const keys = await tokens.listAccessors();
          if (keys.length === 0) throw new CofferError('not_found', 'no token accessors');
          return { kind: 'data', data: { keys } };
        },
      },
    }),
    defineRoute({
      pattern: 'roles',
      fields: {},
      operations: {
        list: async () => {
          const keys = await tokens.listRoles();
          if (keys.length === 0) throw new CofferError('not_found', 'no token roles');
          return { kind: 'data', data: { keys } };
        },
      },
    }),
    defineRoute({
      pattern: 'roles/:role_name',
      fields: ROLE_FIELDS,
      exists: async (params) => {
        const name = params.role_name ?? '';
        try {
          return (await tokens.getRole(name)) !== undefined;
        } catch {
          return false; // an invalid name: the write itself reports why
        }
      },
      operations: {
        read: async ({ params }) => {
          const role = await tokens.getRole(params.role_name ?? '');
          if (role === undefined) throw new CofferError('not_found', 'no such token role');
          return { kind: 'data', data: renderRole(role) };
        },
        update: ({ params, fields }) => writeRole(params.role_name ?? '', fields),
        delete: async ({ params }) => {
          await tokens.deleteRole(params.role_name ?? '');
          return { kind: 'empty' };
        },
      },
    }),
    defineRoute({
      pattern: 'tidy',
      fields: {},
      operations: {
        update: async () => {
          const counts = await tokens.tidy();
          return {
            kind: 'data',
            data: {
              tokens_scanned: counts.tokensScanned,
              tokens_revoked: counts.tokensRevoked,
              parent_entries_scanned: counts.parentEntriesScanned,
              parent_entries_deleted: counts.parentEntriesDeleted,
              accessors_scanned: counts.accessorsScanned,
              accessors_deleted: counts.accessorsDeleted,
            },
            warnings: ['Tidy operation completed.'],
          };
        },
      },
    }),
  ];

  const compiled = routes.map((route) => ({ route, ...compilePattern(route.pattern) }));

  function match(path: string): { route: Route; params: Record<string, string> } | undefined {
    for (const { route, regex, names } of compiled) {
      const m = regex.exec(path);
      if (m === null) continue;
      const params: Record<string, string> = {};
      names.forEach((name, i) => {
        params[name] = m[i + 1] ?? '';
      });
      return { route, params };
    }
    return undefined;
  }

  return {
    async handle(req, caller) {
      const found = match(req.path);
      if (found === undefined) throw new CofferError('unsupported_path', 'unsupported path');
      const { route, params } = found;
      const handler =
        route.operations[req.operation] ??
        (req.operation === 'create' ? route.operations.update : undefined);
      if (handler === undefined)
        throw new CofferError('unsupported_operation', 'unsupported operation');
      const warnings: string[] = [];
      const fields = parseFields(route.fields, req.data, undefined, warnings);
      return withWarnings(await handler({ req, caller, fields, params }), warnings);
    },
    async exists(req) {
      const found = match(req.path);
      if (found?.route.exists === undefined) return undefined;
      return found.route.exists(found.params);
    },
  };
}
