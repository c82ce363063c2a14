// Roles of the JWT/OIDC auth method: the stored form, the fields a role write takes, merging a
// write into the stored role (Vault's update semantics), Vault's validation rules, and the
// read rendering.
import { parseDurationSeconds } from '../../../sdk/duration.js';
import { CofferError, invalidField } from '../../../sdk/errors.js';
import type { FieldValues } from '../../../sdk/fields.js';
import type { JsonObject, JsonValue } from '../../../sdk/json.js';
import type { Storage } from '../../../sdk/storage.js';
import { readStoredRole } from '../record-paths.js';
import {
  DEFAULT_TOKEN_SETTINGS,
  renderTokenSettings,
  TOKEN_FIELDS,
  updateTokenSettings,
  type TokenSettings,
} from '../token-fields.js';
import { roleKey } from './keys.js';

export type RoleType = 'jwt' | 'oidc';
export type BoundClaimsType = 'string' | 'glob';

/** Stored form. Leeways are stored as written: 0 = the default, -1 = disabled (Vault). */
export interface JwtRole {
  readonly roleType: RoleType;
  readonly boundAudiences: readonly string[];
  readonly boundSubject: string;
  readonly boundClaims: JsonObject;
  readonly boundClaimsType: BoundClaimsType;
  readonly claimMappings: Readonly<Record<string, string>>;
  readonly userClaim: string;
  readonly userClaimJsonPointer: boolean;
  readonly groupsClaim: string;
  readonly clockSkewLeewaySeconds: number;
  readonly expirationLeewaySeconds: number;
  readonly notBeforeLeewaySeconds: number;
  readonly allowedRedirectUris: readonly string[];
  readonly oidcScopes: readonly string[];
  readonly verboseOidcLogging: boolean;
  readonly token: TokenSettings;
}

export const ROLE_FIELDS = {
  // hvac sends the role name in the body too; the path's name is the one used.
  name: { type: 'string', description: 'Ignored: the role name is in the path.' },
  role_type: { type: 'string', description: 'Type of role: "oidc" (the default) or "jwt".' },
  bound_audiences: {
    type: 'string-list',
    description: 'Audiences ("aud") to accept; any one match is enough.',
  },
  bound_subject: { type: 'string', description: 'If set, the "sub" claim must equal it.' },
  bound_claims: {
    type: 'map',
    description: 'Claims (names or JSON pointers) mapped to the value or values they must have.',
  },
  bound_claims_type: {
    type: 'string',
    description: 'How bound_claims values match: "string" (exact, the default) or "glob".',
  },
  claim_mappings: {
    type: 'string-map',
    description: 'Claims (names or JSON pointers) to copy into token metadata, by metadata key.',
  },
  user_claim: {
    type: 'string',
    description: 'Claim whose value names the user: the alias and the display name. Required.',
  },
  user_claim_json_pointer: {
    type: 'bool',
    description: 'Whether user_claim is a JSON pointer (otherwise a plain claim name).',
  },
  groups_claim: { type: 'string', description: 'Claim holding the list of group names.' },
  clock_skew_leeway: {
    type: 'any',
    description: 'Leeway on every time claim for jwt roles; 0 = 60s, -1 = none.',
  },
  expiration_leeway: {
    type: 'any',
    description: 'Extra leeway on "exp" for jwt roles; 0 = 150s, -1 = none.',
  },
  not_before_leeway: {
    type: 'any',
    description: 'Extra leeway on "nbf" for jwt roles; 0 = 150s, -1 = none.',
  },
  allowed_redirect_uris: {
    type: 'string-list',
    description: 'redirect_uri values allowed in OIDC logins (required for oidc roles).',
  },
  oidc_scopes: { type: 'string-list', description: 'OIDC scopes to ask for besides "openid".' },
  verbose_oidc_logging: {
    type: 'bool',
    description: 'Accepted for compatibility and ignored: Coffer never logs tokens or claims.',
  },
  ...TOKEN_FIELDS,
} as const;

export type RoleFieldValues = FieldValues<typeof ROLE_FIELDS>;

/** A signed duration: whole seconds, or a Go duration string, negative allowed (-1 = off). */
export function parseLeewaySeconds(value: unknown, field: string): number {
  let seconds: number;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw invalidField(field, 'must be whole seconds');
    seconds = value;
  } else if (typeof value === 'string' && value.trim().startsWith('-')) {
    seconds = -parseDurationSeconds(value.trim().slice(1), field);
  } else {
    seconds = parseDurationSeconds(value, field);
  }
  if (seconds < -1) throw invalidField(field, 'must be -1 (disabled), 0 (default) or positive');
  return seconds;
}

/** Resolves a stored leeway to the seconds it stands for. */
export function effectiveLeeway(stored: number, defaultSeconds: number): number {
  if (stored === 0) return defaultSeconds;
  return stored < 0 ? 0 : stored;
}

const EMPTY_ROLE: JwtRole = {
  roleType: 'oidc',
  boundAudiences: [],
  boundSubject: '',
  boundClaims: {},
  boundClaimsType: 'string',
  claimMappings: {},
  userClaim: '',
  userClaimJsonPointer: false,
  groupsClaim: '',
  clockSkewLeewaySeconds: 0,
  expirationLeewaySeconds: 0,
  notBeforeLeewaySeconds: 0,
  allowedRedirectUris: [],
  oidcScopes: [],
  verboseOidcLogging: false,
  token: DEFAULT_TOKEN_SETTINGS,
};

function isBoundScalar(v: JsonValue): boolean {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

function checkBoundClaims(claims: JsonObject, type: BoundClaimsType): void {
  for (const [name, value] of Object.entries(claims)) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      if (!isBoundScalar(v)) {
        throw invalidField(
          `bound_claims.${name}`,
          'must be a string, number or boolean, or a list of them',
        );
      }
      if (type === 'glob' && typeof v !== 'string') {
        throw invalidField(
          `bound_claims.${name}`,
          'must be strings when bound_claims_type is glob',
        );
      }
    }
  }
}

/**
 * Applies a role write to the stored role (or to the defaults for a new one): fields left out
 * keep their value. Returns the role to store and Vault's warnings.
 */
export function applyRoleWrite(
  current: JwtRole | undefined,
  f: RoleFieldValues,
): { role: JwtRole; warnings: string[] } {
  const base = current ?? EMPTY_ROLE;
  const { settings, warnings } = updateTokenSettings(base.token, f);
  const roleType = f.role_type === undefined || f.role_type === '' ? base.roleType : f.role_type;
  if (roleType !== 'jwt' && roleType !== 'oidc') {
    throw invalidField('role_type', 'must be "jwt" or "oidc"');
  }
  const boundClaimsType =
    f.bound_claims_type === undefined || f.bound_claims_type === ''
      ? base.boundClaimsType
      : f.bound_claims_type;
  if (boundClaimsType !== 'string' && boundClaimsType !== 'glob') {
    throw invalidField('bound_claims_type', 'must be "string" or "glob"');
  }
  const role: JwtRole = {
    roleType,
    boundAudiences: f.bound_audiences ?? base.boundAudiences,
    boundSubject: f.bound_subject ?? base.boundSubject,
    boundClaims: f.bound_claims ?? base.boundClaims,
    boundClaimsType,
    claimMappings: f.claim_mappings ?? base.claimMappings,
    userClaim: f.user_claim ?? base.userClaim,
    userClaimJsonPointer: f.user_claim_json_pointer ?? base.userClaimJsonPointer,
    groupsClaim: f.groups_claim ?? base.groupsClaim,
    clockSkewLeewaySeconds:
      f.clock_skew_leeway === undefined
        ? base.clockSkewLeewaySeconds
        : parseLeewaySeconds(f.clock_skew_leeway, 'clock_skew_leeway'),
    expirationLeewaySeconds:
      f.expiration_leeway === undefined
        ? base.expirationLeewaySeconds
        : parseLeewaySeconds(f.expiration_leeway, 'expiration_leeway'),
    notBeforeLeewaySeconds:
      f.not_before_leeway === undefined
        ? base.notBeforeLeewaySeconds
        : parseLeewaySeconds(f.not_before_leeway, 'not_before_leeway'),
    allowedRedirectUris: f.allowed_redirect_uris ?? base.allowedRedirectUris,
    oidcScopes: f.oidc_scopes ?? base.oidcScopes,
    verboseOidcLogging: f.verbose_oidc_logging ?? base.verboseOidcLogging,
    token: settings,
  };
  validateRole(role);
  return { role, warnings };
}

/** Vault's rules for a role about to be stored. */
function validateRole(role: JwtRole): void {
  if (role.userClaim === '') throw invalidField('user_claim', 'a user claim must be defined');
  checkBoundClaims(role.boundClaims, role.boundClaimsType);
  const targets = new Set<string>();
  for (const target of Object.values(role.claimMappings)) {
    if (target === 'role') {
      throw invalidField('claim_mappings', 'metadata key "role" is reserved');
    }
    if (targets.has(target)) {
      throw invalidField('claim_mappings', 'metadata keys must be unique');
    }
    targets.add(target);
  }
  if (role.roleType === 'jwt') {
    const bound =
      role.boundAudiences.length > 0 ||
      role.boundSubject !== '' ||
      Object.keys(role.boundClaims).length > 0 ||
      role.token.boundCidrs.length > 0;
    if (!bound) {
      throw new CofferError(
        'invalid_request',
        'must have at least one bound constraint when creating/updating a role',
      );
    }
  }
  if (role.roleType === 'oidc') {
    if (role.allowedRedirectUris.length === 0) {
      throw invalidField('allowed_redirect_uris', "must be set if 'role_type' is 'oidc'");
    }
    for (const uri of role.allowedRedirectUris) {
      if (!URL.canParse(uri)) {
        throw invalidField('allowed_redirect_uris', 'must be absolute URLs');
      }
    }
  }
}

/** Vault's read shape. */
export function renderRole(role: JwtRole): JsonObject {
  return {
    role_type: role.roleType,
    bound_audiences: [...role.boundAudiences],
    bound_subject: role.boundSubject,
    bound_claims: Object.keys(role.boundClaims).length === 0 ? null : role.boundClaims,
    bound_claims_type: role.boundClaimsType,
    claim_mappings: Object.keys(role.claimMappings).length === 0 ? null : { ...role.claimMappings },
    user_claim: role.userClaim,
    user_claim_json_pointer: role.userClaimJsonPointer,
    groups_claim: role.groupsClaim,
    clock_skew_leeway: role.clockSkewLeewaySeconds,
    expiration_leeway: role.expirationLeewaySeconds,
    not_before_leeway: role.notBeforeLeewaySeconds,
    allowed_redirect_uris: [...role.allowedRedirectUris],
    oidc_scopes: [...role.oidcScopes],
    verbose_oidc_logging: role.verboseOidcLogging,
    ...renderTokenSettings(role.token),
  };
}

export async function readRole(storage: Storage, name: string): Promise<JwtRole | undefined> {
  return readStoredRole<JwtRole>(
    storage,
    roleKey(name),
    (raw) => typeof raw.roleType === 'string' && typeof raw.userClaim === 'string',
  );
}
