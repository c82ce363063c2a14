// Claim handling for the JWT/OIDC auth method, on claims whose signature is already verified:
// claim lookup (plain names or JSON pointers), bound audiences, bound claims (exact or glob),
// the user and groups claims, and claim mappings into token metadata.
import { CofferError } from '../../../sdk/errors.js';
import { isPlainObject } from '../../../sdk/json.js';
import { globMatch } from '../../../sdk/text.js';

export type Claims = Readonly<Record<string, unknown>>;

/** A login refused because of what the token says; never echoes a claim value. */
export function claimError(why: string): CofferError {
  return new CofferError('permission_denied', `error validating token: ${why}`, { field: 'jwt' });
}

/**
 * A claim by name, or by JSON pointer (RFC 6901) when the name starts with '/', as Vault reads
 * `user_claim`, `groups_claim`, `bound_claims` and `claim_mappings` keys.
 */
export function getClaim(claims: Claims, name: string): unknown {
  if (!name.startsWith('/')) return Object.hasOwn(claims, name) ? claims[name] : undefined;
  let node: unknown = claims;
  for (const raw of name.slice(1).split('/')) {
    const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) {
      if (!/^(0|[1-9]\d*)$/.test(token)) return undefined;
      node = node[Number(token)];
    } else if (isPlainObject(node)) {
      node = Object.hasOwn(node, token) ? node[token] : undefined;
    } else {
      return undefined;
    }
    if (node === undefined) return undefined;
  }
  return node;
}

/** A string, number or boolean claim value as text; lists and objects have none. */
function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return String(value);
  return undefined;
}

/**
 * Audience check. `strict` (JWT roles): a token that names audiences must match a bound one,
 * and a role without bound audiences refuses tokens that carry any.
 */
export function checkAudience(bound: readonly string[], claims: Claims, strict: boolean): void {
  const raw = claims.aud;
  const aud =
    typeof raw === 'string'
      ? [raw]
      : Array.isArray(raw)
        ? raw.filter((a): a is string => typeof a === 'string')
        : [];
  if (bound.length === 0) {
    if (strict && aud.length > 0) {
      throw claimError('audience claim found in JWT but no audiences bound to the role');
    }
    return;
  }
  if (!bound.some((b) => aud.includes(b))) {
    throw claimError('aud claim does not match any bound audience');
  }
}

/**
 * Bound claims: every key must be present and one of its expected values must match one of
 * the claim's values (a claim may be a scalar or a list). Globs apply only to strings.
 */
export function checkBoundClaims(
  bound: Readonly<Record<string, unknown>>,
  boundType: 'string' | 'glob',
  claims: Claims,
): void {
  for (const [name, expected] of Object.entries(bound)) {
    const actual = getClaim(claims, name);
    if (actual === undefined || actual === null) {
      throw claimError(`claim "${name}" is missing`);
    }
    const actualList = Array.isArray(actual) ? (actual as unknown[]) : [actual];
    const expectedList = Array.isArray(expected) ? (expected as unknown[]) : [expected];
    const ok = expectedList.some((exp) =>
      actualList.some((act) => {
        if (boundType === 'glob') {
          return typeof exp === 'string' && typeof act === 'string' && globMatch(exp, act);
        }
        // Exact: same JSON scalar (a number claim matches a number, "1" does not match 1).
        return (
          (typeof act === 'string' || typeof act === 'number' || typeof act === 'boolean') &&
          act === exp
        );
      }),
    );
    if (!ok) throw claimError(`claim "${name}" does not match any associated bound claim values`);
  }
}

/**
 * The user claim's value: the alias name and display name. A string or number (Vault accepts
 * numeric ids); never empty. `asPointer`: whether a name starting with '/' is a JSON pointer
 * (Vault's user_claim_json_pointer) rather than a literal claim name.
 */
export function userName(claims: Claims, userClaim: string, asPointer: boolean): string {
  const value =
    asPointer || !userClaim.startsWith('/')
      ? getClaim(claims, userClaim)
      : Object.hasOwn(claims, userClaim)
        ? claims[userClaim]
        : undefined;
  if (value === undefined || value === null) {
    throw claimError(`claim "${userClaim}" not found in token`);
  }
  const text = scalarText(value);
  if (text === undefined || text === '' || typeof value === 'boolean') {
    throw claimError(`claim "${userClaim}" could not be converted to string`);
  }
  return text;
}

/** The groups claim's values (strings, empty ones dropped); a missing claim is an error. */
export function groupNames(claims: Claims, groupsClaim: string): string[] {
  const value = getClaim(claims, groupsClaim);
  if (value === undefined || value === null) {
    throw claimError(`claim "${groupsClaim}" not found in token`);
  }
  const list = Array.isArray(value) ? (value as unknown[]) : [value];
  const out: string[] = [];
  for (const item of list) {
    if (typeof item !== 'string') {
      throw claimError(`claim "${groupsClaim}" could not be converted to a string list`);
    }
    if (item !== '') out.push(item);
  }
  return out;
}

/** Copies mapped claims into metadata keys; absent claims are skipped, lists refused. */
export function mappedMetadata(
  claims: Claims,
  mappings: Readonly<Record<string, string>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [source, target] of Object.entries(mappings)) {
    const value = getClaim(claims, source);
    if (value === undefined || value === null) continue;
    const text = scalarText(value);
    if (text === undefined) throw claimError(`error converting claim "${source}" to string`);
    out[target] = text;
  }
  return out;
}
