// Who a Google-door request is: `Authorization: Bearer <Coffer token>` (what gcloud and an
// OAuth2Client send). A request without one is UNAUTHENTICATED before anything else runs.
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

/** Bearer tokens only: each is a Coffer token, checked by the core. */
export const tokenAuth: GcpAuth = {
  resolve(authorization) {
    const bearer = bearerOf(authorization);
    if (bearer === undefined) return Promise.reject(unauthenticated());
    return Promise.resolve({ token: bearer });
  },
};
