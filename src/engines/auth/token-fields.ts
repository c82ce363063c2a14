// Vault's common token fields (token_policies, token_ttl, token_max_ttl, token_period,
// token_num_uses, token_type, token_bound_cidrs, token_explicit_max_ttl,
// token_no_default_policy, and the legacy `policies`) that every auth method's roles and users
// carry: their field specs, validation, stored form, read rendering, and the LoginGrant they
// turn into. Shared by userpass, approle and the other auth methods.
//
// Use:
//   fields:  { ...TOKEN_FIELDS, ...yourFields }            (parseFields validates types)
//   write:   const { settings, warnings } = updateTokenSettings(stored ?? DEFAULT_TOKEN_SETTINGS, fields)
//   store:   settings is plain JSON; read it back with readTokenSettings(value)
//   read:    { ...renderTokenSettings(settings), ...yours }
//   login:   { kind: 'login', login: loginGrant(settings, { displayName, metadata, aliasName }) }
import type { LoginGrant } from '../../sdk/engine.js';
import { CofferError, invalidField } from '../../sdk/errors.js';
import type { FieldValues } from '../../sdk/fields.js';
import { isPlainObject, type JsonObject } from '../../sdk/json.js';
import { parseCidrList } from './cidr.js';

export type TokenType = 'default' | 'service' | 'batch';

/** The stored form: plain JSON, whole seconds, 0 = "the default" for every duration. */
export interface TokenSettings {
  /** Normalised: trimmed, lowercase, no duplicates, sorted; never "root". */
  readonly policies: readonly string[];
  /** Written through the deprecated `policies` field: reads echo it back under that name too. */
  readonly legacyPolicies: boolean;
  readonly ttlSeconds: number;
  readonly maxTtlSeconds: number;
  readonly explicitMaxTtlSeconds: number;
  readonly periodSeconds: number;
  /** 0 = unlimited. */
  readonly numUses: number;
  readonly tokenType: TokenType;
  /** Normalised by parseCidrList. */
  readonly boundCidrs: readonly string[];
  readonly noDefaultPolicy: boolean;
}

export const DEFAULT_TOKEN_SETTINGS: TokenSettings = Object.freeze({
  policies: [],
  legacyPolicies: false,
  ttlSeconds: 0,
  maxTtlSeconds: 0,
  explicitMaxTtlSeconds: 0,
  periodSeconds: 0,
  numUses: 0,
  tokenType: 'default',
  boundCidrs: [],
  noDefaultPolicy: false,
});

/** Field specs to spread into a path's fields. */
export const TOKEN_FIELDS = {
  token_policies: {
    type: 'string-list',
    description: 'Policies of the tokens issued (a list or a comma-separated string).',
  },
  policies: {
    type: 'string-list',
    description: 'Deprecated: use token_policies. Ignored when token_policies is given.',
  },
  token_ttl: { type: 'duration', description: 'Initial TTL of the tokens issued; 0 = default.' },
  token_max_ttl: {
    type: 'duration',
    description: 'Maximum lifetime of the tokens issued; 0 = the mount maximum.',
  },
  token_explicit_max_ttl: {
    type: 'duration',
    description: 'A hard cap on the lifetime of the tokens issued, whatever renewals ask.',
  },
  token_period: {
    type: 'duration',
    description: 'If set, the tokens issued are periodic: renewable forever by this period.',
  },
  token_num_uses: {
    type: 'int',
    description: 'How many requests each token issued may make; 0 = unlimited.',
  },
  token_type: {
    type: 'string',
    description: '"service", "batch" or "default" (the mount default, service).',
  },
  token_bound_cidrs: {
    type: 'string-list',
    description: 'Addresses or CIDR blocks the tokens issued may be used from.',
  },
  token_no_default_policy: {
    type: 'bool',
    description: 'If true, the "default" policy is not added to the tokens issued.',
  },
  // Vault's deprecated names, still sent by older clients (hvac 0.11's kubernetes and
  // node-vault's approle helpers): each applies only when its token_ field is absent.
  ttl: { type: 'duration', description: 'Deprecated: use token_ttl.' },
  max_ttl: { type: 'duration', description: 'Deprecated: use token_max_ttl.' },
  period: { type: 'duration', description: 'Deprecated: use token_period.' },
  bound_cidrs: { type: 'string-list', description: 'Deprecated: use token_bound_cidrs.' },
} as const;

/** Deprecated field → the field it stands for. */
const LEGACY_TOKEN_FIELDS = {
  ttl: 'token_ttl',
  max_ttl: 'token_max_ttl',
  period: 'token_period',
  bound_cidrs: 'token_bound_cidrs',
} as const;

export type TokenFieldValues = Partial<FieldValues<typeof TOKEN_FIELDS>>;

/** Policy names as the core compares them: trimmed, lowercase, no empties, unique, sorted. */
export function normalisePolicies(names: readonly string[], field: string): string[] {
  const out = new Set<string>();
  for (const name of names) {
    const p = name.trim().toLowerCase();
    if (p === '') continue;
    // SECURITY: an auth method never hands out root; normalised first so "ROOT" and " root"
    // are caught too (Vault CVE-2024-9180 class).
    if (p === 'root')
      throw invalidField(field, 'the root policy cannot be granted by an auth method');
    out.add(p);
  }
  return [...out].sort();
}

function parseTokenType(value: string): { type: TokenType; warning?: string } {
  switch (value.trim()) {
    case '':
    case 'default':
      return { type: 'default' };
    case 'service':
      return { type: 'service' };
    case 'batch':
      return { type: 'batch' };
    // Vault's approle takes these from old role reads and adjusts them, with a warning.
    case 'default-service':
      return {
        type: 'service',
        warning: 'default-service has no useful meaning; adjusting to service',
      };
    case 'default-batch':
      return { type: 'batch', warning: 'default-batch has no useful meaning; adjusting to batch' };
    default:
      throw invalidField('token_type', 'must be "service", "batch" or "default"');
  }
}

/**
 * Applies the token fields a write sent (fields left `undefined` keep their current value)
 * and validates the result. Throws invalid_request naming the field.
 */
export function updateTokenSettings(
  current: TokenSettings,
  fields: TokenFieldValues,
): { settings: TokenSettings; warnings: string[] } {
  const warnings: string[] = [];
  fields = { ...fields };
  for (const [legacy, current_] of Object.entries(LEGACY_TOKEN_FIELDS) as [
    keyof typeof LEGACY_TOKEN_FIELDS,
    (typeof LEGACY_TOKEN_FIELDS)[keyof typeof LEGACY_TOKEN_FIELDS],
  ][]) {
    const value = fields[legacy];
    if (value === undefined) continue;
    if (fields[current_] === undefined) {
      (fields as Record<string, unknown>)[current_] = value;
      warnings.push(`"${legacy}" is deprecated; use "${current_}"`);
    } else {
      warnings.push(`"${legacy}" was ignored: "${current_}" is set`);
    }
  }
  let { policies, legacyPolicies } = current;
  // As Vault's tokenutil.UpgradeValue: token_policies wins; `policies` alone sets both.
  if (fields.token_policies !== undefined) {
    policies = normalisePolicies(fields.token_policies, 'token_policies');
    legacyPolicies = fields.policies !== undefined;
  } else if (fields.policies !== undefined) {
    policies = normalisePolicies(fields.policies, 'policies');
    legacyPolicies = true;
  }
  let tokenType = current.tokenType;
  if (fields.token_type !== undefined) {
    const parsed = parseTokenType(fields.token_type);
    tokenType = parsed.type;
    if (parsed.warning !== undefined) warnings.push(parsed.warning);
  }
  const settings: TokenSettings = {
    policies,
    legacyPolicies,
    ttlSeconds: fields.token_ttl ?? current.ttlSeconds,
    maxTtlSeconds: fields.token_max_ttl ?? current.maxTtlSeconds,
    explicitMaxTtlSeconds: fields.token_explicit_max_ttl ?? current.explicitMaxTtlSeconds,
    periodSeconds: fields.token_period ?? current.periodSeconds,
    numUses: fields.token_num_uses ?? current.numUses,
    tokenType,
    boundCidrs:
      fields.token_bound_cidrs === undefined
        ? current.boundCidrs
        : parseCidrList(fields.token_bound_cidrs, 'token_bound_cidrs'),
    noDefaultPolicy: fields.token_no_default_policy ?? current.noDefaultPolicy,
  };
  checkTokenSettings(settings);
  return { settings, warnings };
}

function checkTokenSettings(s: TokenSettings): void {
  if (s.numUses < 0) throw invalidField('token_num_uses', 'cannot be negative');
  if (s.ttlSeconds > 0 && s.maxTtlSeconds > 0 && s.ttlSeconds > s.maxTtlSeconds) {
    throw invalidField('token_ttl', 'cannot be greater than token_max_ttl');
  }
  if (s.tokenType === 'batch') {
    if (s.periodSeconds !== 0) {
      throw invalidField('token_type', 'cannot be "batch" for periodic tokens (token_period)');
    }
    if (s.numUses !== 0) {
      throw invalidField('token_type', 'cannot be "batch" for tokens with a use limit');
    }
  }
}

/** Vault's read shape for the token fields (plus `policies` when written that way). */
export function renderTokenSettings(s: TokenSettings): JsonObject {
  return {
    token_bound_cidrs: [...s.boundCidrs],
    token_explicit_max_ttl: s.explicitMaxTtlSeconds,
    token_max_ttl: s.maxTtlSeconds,
    token_no_default_policy: s.noDefaultPolicy,
    token_num_uses: s.numUses,
    token_period: s.periodSeconds,
    token_policies: [...s.policies],
    token_ttl: s.ttlSeconds,
    token_type: s.tokenType,
    ...(s.legacyPolicies ? { policies: [...s.policies] } : {}),
  };
}

function corrupt(): CofferError {
  return new CofferError('integrity_failure', 'stored token settings are malformed');
}

const isStringList = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((x) => typeof x === 'string');
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** Checks the stored form read back from storage; throws integrity_failure if it is not one. */
export function readTokenSettings(value: unknown): TokenSettings {
  if (!isPlainObject(value)) throw corrupt();
  const v = value;
  if (
    !isStringList(v.policies) ||
    typeof v.legacyPolicies !== 'boolean' ||
    !isCount(v.ttlSeconds) ||
    !isCount(v.maxTtlSeconds) ||
    !isCount(v.explicitMaxTtlSeconds) ||
    !isCount(v.periodSeconds) ||
    !isCount(v.numUses) ||
    (v.tokenType !== 'default' && v.tokenType !== 'service' && v.tokenType !== 'batch') ||
    !isStringList(v.boundCidrs) ||
    typeof v.noDefaultPolicy !== 'boolean'
  ) {
    throw corrupt();
  }
  return {
    policies: v.policies,
    legacyPolicies: v.legacyPolicies,
    ttlSeconds: v.ttlSeconds,
    maxTtlSeconds: v.maxTtlSeconds,
    explicitMaxTtlSeconds: v.explicitMaxTtlSeconds,
    periodSeconds: v.periodSeconds,
    numUses: v.numUses,
    tokenType: v.tokenType,
    boundCidrs: v.boundCidrs,
    noDefaultPolicy: v.noDefaultPolicy,
  };
}

/** Who logged in, as the auth method names them. */
export interface LoginIdentity {
  /** The method's part of the token's display name (the core adds the mount path). */
  readonly displayName: string;
  /** auth.metadata; never secrets. */
  readonly metadata: Readonly<Record<string, string>>;
  /** The entity alias name: username, role id, subject. */
  readonly aliasName: string;
  /** Replaces the settings' token_bound_cidrs (an approle secret ID's own list). */
  readonly boundCidrs?: readonly string[];
}

/** The LoginGrant for a successful login under these settings. */
export function loginGrant(s: TokenSettings, who: LoginIdentity): LoginGrant {
  // SECURITY: checked again at use, so a stored entry written around the API cannot mint root.
  if (s.policies.some((p) => p.trim().toLowerCase() === 'root')) {
    throw new CofferError('permission_denied', 'auth methods cannot create root tokens');
  }
  return {
    policies: [...s.policies],
    displayName: who.displayName,
    metadata: { ...who.metadata },
    ttlSeconds: s.ttlSeconds,
    maxTtlSeconds: s.maxTtlSeconds,
    explicitMaxTtlSeconds: s.explicitMaxTtlSeconds,
    periodSeconds: s.periodSeconds,
    numUses: s.numUses,
    tokenType: s.tokenType,
    boundCidrs: [...(who.boundCidrs ?? s.boundCidrs)],
    noDefaultPolicy: s.noDefaultPolicy,
    alias: { name: who.aliasName, metadata: { ...who.metadata } },
  };
}
