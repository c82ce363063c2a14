// Turning a presented token into a login for the JWT/OIDC auth method: signature and time
// checks (with Vault's leeways for jwt roles), issuer, audience, subject and bound claims,
// then the identity (user claim, claim mappings) and the LoginGrant. The identity comes only
// from verified claims, never from request fields.
import type { LoginGrant } from '../../../sdk/engine.js';
import { addressInCidrs } from '../cidr.js';
import { CofferError } from '../../../sdk/errors.js';
import { loginGrant } from '../token-fields.js';
import {
  checkAudience,
  checkBoundClaims,
  claimError,
  groupNames,
  mappedMetadata,
  userName,
  type Claims,
} from './claims.js';
import { allowedAlgs, type JwtConfig } from './config.js';
import type { ConfigKeys } from './key-source.js';
import { effectiveLeeway, type JwtRole } from './role.js';

/** Vault's defaults for a stored leeway of 0, in seconds. */
export const DEFAULT_CLOCK_SKEW_LEEWAY_SECONDS = 60;
export const DEFAULT_EXPIRATION_LEEWAY_SECONDS = 150;
export const DEFAULT_NOT_BEFORE_LEEWAY_SECONDS = 150;
/** Clock tolerance for OIDC ID tokens (the role leeways apply to jwt roles only). */
export const OIDC_CLOCK_SKEW_SECONDS = 60;

function numericClaim(claims: Claims, name: string): number | undefined {
  const v = claims[name];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** Leeways on the time claims, seconds: `skew` on all of them, `exp` and `nbf` on top. */
interface Leeway {
  readonly skew: number;
  readonly exp: number;
  readonly nbf: number;
}

/** Checks exp, nbf and iat against the clock with the given leeways. */
function checkTimes(claims: Claims, nowMs: number, leeway: Leeway): void {
  const now = nowMs / 1000;
  const exp = numericClaim(claims, 'exp');
  if (exp === undefined) throw claimError('claim "exp" is missing');
  if (now > exp + leeway.exp + leeway.skew) throw claimError('token is expired');
  const nbf = numericClaim(claims, 'nbf');
  if (nbf !== undefined && now < nbf - leeway.nbf - leeway.skew) {
    throw claimError('token is not yet valid');
  }
  const iat = numericClaim(claims, 'iat');
  if (iat !== undefined && now < iat - leeway.skew) {
    throw claimError('token was issued in the future');
  }
}

function checkIssuer(claims: Claims, expected: readonly string[]): void {
  for (const issuer of expected) {
    if (claims.iss !== issuer) throw claimError('claim "iss" does not match the expected issuer');
  }
}

/**
 * The checks every token gets: its signature under `keys` with the algorithms the config
 * allows (for an OIDC ID token or a plain JWT), exp/nbf/iat with `leeway`, and the issuer
 * (bound_issuer, and discovery's issuer). Returns the claims.
 */
async function verifySignedToken(
  token: string,
  config: JwtConfig,
  keys: ConfigKeys,
  nowMs: number,
  leeway: Leeway,
  forOidc: boolean,
): Promise<Claims> {
  const verified = await keys.verify(token, {
    algorithms: allowedAlgs(config, forOidc),
    nowMs,
    // One second looser than checkTimes, which then applies the exact (inclusive) bounds.
    clockToleranceSeconds: leeway.skew + Math.max(leeway.exp, leeway.nbf) + 1,
    requireExp: true,
  });
  const claims = verified.payload as Claims;
  checkTimes(claims, nowMs, leeway);
  checkIssuer(claims, [
    ...(config.boundIssuer === '' ? [] : [config.boundIssuer]),
    ...(verified.expectedIssuer === undefined ? [] : [verified.expectedIssuer]),
  ]);
  return claims;
}

/**
 * Verifies a JWT presented to `login` under a jwt role: signature, exp/nbf/iat with the
 * role's leeways, issuer (bound_issuer, and discovery's issuer), audiences (strictly: a token
 * with an audience needs a bound one), subject and bound claims. Returns the claims.
 */
export async function verifyJwtLogin(
  token: string,
  role: JwtRole,
  config: JwtConfig,
  keys: ConfigKeys,
  nowMs: number,
): Promise<Claims> {
  const leeway = {
    skew: effectiveLeeway(role.clockSkewLeewaySeconds, DEFAULT_CLOCK_SKEW_LEEWAY_SECONDS),
    exp: effectiveLeeway(role.expirationLeewaySeconds, DEFAULT_EXPIRATION_LEEWAY_SECONDS),
    nbf: effectiveLeeway(role.notBeforeLeewaySeconds, DEFAULT_NOT_BEFORE_LEEWAY_SECONDS),
  };
  const claims = await verifySignedToken(token, config, keys, nowMs, leeway, false);
  checkAudience(role.boundAudiences, claims, true);
  checkRoleBindings(claims, role);
  return claims;
}

/**
 * Verifies an OIDC ID token from the token endpoint: signature under the provider's keys,
 * issuer = the discovery issuer (and bound_issuer), audience contains the client id (and azp,
 * when present with several audiences, is the client id), the nonce of this login, then the
 * role's bound audiences, subject and claims.
 */
export async function verifyIdToken(
  token: string,
  role: JwtRole,
  config: JwtConfig,
  keys: ConfigKeys,
  nowMs: number,
  nonce: string,
): Promise<Claims> {
  const leeway = { skew: OIDC_CLOCK_SKEW_SECONDS, exp: 0, nbf: 0 };
  const claims = await verifySignedToken(token, config, keys, nowMs, leeway, true);
  checkAudience([config.oidcClientId], claims, false);
  const aud = claims.aud;
  if (Array.isArray(aud) && aud.length > 1 && claims.azp !== undefined) {
    if (claims.azp !== config.oidcClientId) {
      throw claimError('claim "azp" does not match the client id');
    }
  }
  // SECURITY: the nonce binds the ID token to this login (OIDC Core §3.1.3.7), so a token
  // issued for another login cannot be injected into this one.
  if (claims.nonce !== nonce) throw claimError('invalid ID token nonce');
  checkAudience(role.boundAudiences, claims, false);
  checkRoleBindings(claims, role);
  return claims;
}

function checkRoleBindings(claims: Claims, role: JwtRole): void {
  if (role.boundSubject !== '' && claims.sub !== role.boundSubject) {
    throw claimError('sub claim does not match bound subject');
  }
  checkBoundClaims(role.boundClaims, role.boundClaimsType, claims);
}

/**
 * SECURITY: a role's token_bound_cidrs also bind the login itself (as in Vault), so a token
 * stolen from a bound workload cannot be redeemed elsewhere. An unknown address fails.
 */
export function checkLoginAddress(role: JwtRole, remoteAddress: string | undefined): void {
  if (role.token.boundCidrs.length === 0) return;
  if (!addressInCidrs(remoteAddress, role.token.boundCidrs)) {
    throw new CofferError('permission_denied', 'permission denied');
  }
}

/** The LoginGrant for verified claims: alias = the user claim, metadata = role + mappings. */
export function grantFor(roleName: string, role: JwtRole, claims: Claims): LoginGrant {
  const user = userName(claims, role.userClaim, role.userClaimJsonPointer);
  // Each group name becomes a group alias: the core puts the entity in the external groups
  // whose group aliases on this mount carry these names (and takes it out of the others).
  const groups = role.groupsClaim === '' ? undefined : groupNames(claims, role.groupsClaim);
  const mapped = mappedMetadata(claims, role.claimMappings);
  const grant = loginGrant(role.token, {
    displayName: user,
    metadata: { ...mapped, role: roleName },
    aliasName: user,
  });
  return {
    ...grant,
    alias: { name: user, metadata: mapped },
    ...(groups === undefined ? {} : { groupAliases: groups }),
  };
}
