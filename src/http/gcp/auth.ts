// Who a Google-door request is: `Authorization: Bearer <Coffer token>` (what gcloud and an
// OAuth2Client send), or a self-signed RS256 JWT from a Coffer-minted service-account key file
// (what Google's auth library sends from GOOGLE_APPLICATION_CREDENTIALS), verified here against
// the stored public key. A request without either is UNAUTHENTICATED before anything runs.
import { createPublicKey, verify } from 'node:crypto';
import type { DoorCredentialStore } from '../../core/door-credentials.js';
import { CofferError } from '../../sdk/errors.js';

export interface GcpCaller {
  readonly token?: string;
  readonly credential?: { readonly api: string; readonly id: string };
}

export interface GcpAuth {
  resolve(authorization: string | string[] | undefined): Promise<GcpCaller>;
}

export function unauthenticated(): CofferError {
  return new CofferError('permission_denied', 'missing or invalid bearer token', {
    field: 'token',
  });
}

/** The bearer value of an Authorization header, or undefined. */
export function bearerOf(authorization: string | string[] | undefined): string | undefined {
  const value = Array.isArray(authorization) ? authorization[0] : authorization;
  if (value === undefined) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(value.trim());
  return match?.[1];
}

/** Scopes and audiences a service-account JWT may name for Secret Manager. */
const SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
const AUDIENCE = /^https:\/\/secretmanager\.googleapis\.com\/?$/;
/** Google's self-signed JWTs live one hour; a little clock skew is allowed. */
const MAX_LIFETIME_SECONDS = 3600;
const SKEW_SECONDS = 300;

function decodePart(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Bearer values that look like a JWT must be a valid service-account JWT: RS256, `kid` a live
 * Coffer service-account key, signature by that key, `iss` = `sub` = its email, within its
 * lifetime, for cloud-platform or Secret Manager. Anything else is a Coffer token.
 * SECURITY: a JWT never falls back to being tried as a token, and every failure is the same
 * UNAUTHENTICATED (no oracle on which check failed).
 */
export function doorAuth(
  /** The store, asked per request (it refuses while sealed: the request then fails closed). */
  credentials: () => DoorCredentialStore,
  now: () => number,
): GcpAuth {
  return {
    async resolve(authorization) {
      const bearer = bearerOf(authorization);
      if (bearer === undefined) throw unauthenticated();
      const parts = bearer.split('.');
      if (parts.length !== 3 || !bearer.startsWith('eyJ')) return { token: bearer };
      const [h = '', p = '', sig = ''] = parts;
      const header = decodePart(h);
      const claims = decodePart(p);
      if (
        header?.['alg'] !== 'RS256' ||
        typeof header['kid'] !== 'string' ||
        claims === undefined
      ) {
        throw unauthenticated();
      }
      const record = await credentials().lookup('gcp', header['kid']);
      const pem = record?.material['public_key_pem'];
      const email = record?.metadata['client_email'];
      if (typeof pem !== 'string' || email === undefined) throw unauthenticated();
      const valid = verify(
        'RSA-SHA256',
        Buffer.from(`${h}.${p}`),
        createPublicKey(pem),
        Buffer.from(sig, 'base64url'),
      );
      const seconds = Math.floor(now() / 1000);
      const { iss, sub, exp, iat, scope, aud } = claims;
      const scoped =
        (typeof scope === 'string' && scope.split(' ').includes(SCOPE)) ||
        (typeof aud === 'string' && AUDIENCE.test(aud));
      if (
        !valid ||
        iss !== email ||
        sub !== email ||
        typeof exp !== 'number' ||
        typeof iat !== 'number' ||
        exp <= seconds - SKEW_SECONDS ||
        iat > seconds + SKEW_SECONDS ||
        exp - iat > MAX_LIFETIME_SECONDS ||
        !scoped
      ) {
        throw unauthenticated();
      }
      return { credential: { api: 'gcp', id: header['kid'] } };
    },
  };
}
