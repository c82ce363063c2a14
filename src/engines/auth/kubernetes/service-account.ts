// Service account JWTs as the Kubernetes auth method reads them: the claims of legacy
// (secret-based) and projected tokens, local signature verification with pem_keys through jose,
// and the issuer and audience checks Vault applies.
import type { KeyObject } from 'node:crypto';
import {
  decodeJwt,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type JWTPayload,
} from 'jose';
import { CofferError } from '../../../sdk/errors.js';
import { isPlainObject } from '../../../sdk/json.js';
import { isKeyMismatch, RSA_EC_ALGS } from '../token-signatures.js';
import { DEFAULT_ISSUER, parsePemKey, type KubernetesConfig } from './config.js';

/** The algorithms Kubernetes signs service account tokens with (never HS*, never none). */
export const ALLOWED_ALGS: readonly string[] = RSA_EC_ALGS;

/** Clock tolerance on exp/nbf for local verification, seconds. */
export const CLOCK_SKEW_SECONDS = 60;

/** Who a token says it is. Empty strings where a claim is absent. */
export interface ServiceAccount {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  /** Legacy tokens only. */
  readonly secretName: string;
}

/** A refused login; the message names what failed, never a value. */
export function denied(why: string): CofferError {
  return new CofferError('permission_denied', why, { field: 'jwt' });
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** The service account a token's claims name, preferring the projected form. */
export function serviceAccountOf(claims: JWTPayload): ServiceAccount {
  const projected = claims['kubernetes.io'];
  if (isPlainObject(projected)) {
    const sa = isPlainObject(projected.serviceaccount) ? projected.serviceaccount : {};
    return {
      name: text(sa.name),
      namespace: text(projected.namespace),
      uid: text(sa.uid),
      secretName: '',
    };
  }
  return {
    name: text(claims['kubernetes.io/serviceaccount/service-account.name']),
    namespace: text(claims['kubernetes.io/serviceaccount/namespace']),
    uid: text(claims['kubernetes.io/serviceaccount/service-account.uid']),
    secretName: text(claims['kubernetes.io/serviceaccount/secret.name']),
  };
}

/** The token's audiences as a list. */
export function audiencesOf(claims: JWTPayload): string[] {
  const aud = claims.aud;
  if (typeof aud === 'string') return [aud];
  return Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];
}

/**
 * Reads the token: verified with pem_keys when configured, otherwise only decoded (the
 * TokenReview API then vouches for it; SECURITY: the caller must not log in without it).
 * Either way the algorithm must be an asymmetric one, and the issuer and audience checks run.
 */
export async function readToken(
  jwt: string,
  config: KubernetesConfig,
  audience: string,
  nowMs: number,
): Promise<JWTPayload> {
  let claims: JWTPayload;
  if (config.pemKeys.length > 0) {
    claims = await verifyLocally(jwt, config.pemKeys.map(parsePemKey), nowMs);
  } else {
    try {
      const header = decodeProtectedHeader(jwt);
      if (typeof header.alg !== 'string' || !ALLOWED_ALGS.includes(header.alg)) {
        throw denied('signing algorithm is not allowed');
      }
      claims = decodeJwt(jwt);
    } catch (err) {
      if (err instanceof CofferError) throw err;
      throw denied('token is malformed');
    }
    // The API server checks expiry too; checking here spares it a call for a dead token.
    if (typeof claims.exp === 'number' && nowMs / 1000 > claims.exp + CLOCK_SKEW_SECONDS) {
      throw denied('token is expired');
    }
  }
  if (!config.disableIssValidation) {
    const expected = config.issuer === '' ? DEFAULT_ISSUER : config.issuer;
    if (claims.iss !== expected) throw denied('claim "iss" is invalid');
  }
  if (audience !== '' && !audiencesOf(claims).includes(audience)) {
    throw denied('invalid audience (aud) claim: audience claim does not match');
  }
  return claims;
}

/** Tries every pem key (as Vault does); claim errors from a matching key are final. */
async function verifyLocally(
  jwt: string,
  keys: readonly KeyObject[],
  nowMs: number,
): Promise<JWTPayload> {
  for (const key of keys) {
    try {
      const { payload } = await jwtVerify(jwt, key, {
        algorithms: [...ALLOWED_ALGS],
        currentDate: new Date(nowMs),
        clockTolerance: CLOCK_SKEW_SECONDS,
      });
      return payload;
    } catch (err) {
      if (isKeyMismatch(err)) continue;
      if (err instanceof joseErrors.JWTExpired) throw denied('token is expired');
      if (err instanceof joseErrors.JWTClaimValidationFailed) {
        throw denied(`claim "${err.claim}" is invalid`);
      }
      if (err instanceof joseErrors.JOSEAlgNotAllowed) {
        throw denied('signing algorithm is not allowed');
      }
      throw denied('token is malformed');
    }
  }
  throw denied('no known key successfully validated the token signature');
}
