// THE place where error codes become HTTP statuses and Vault-style error bodies.
import type { ErrorCode } from '../sdk/errors.js';
import { isCofferError } from '../sdk/errors.js';

/** Adding an ErrorCode without a status here fails to compile. */
export const STATUS_BY_CODE = {
  invalid_request: 400,
  cas_mismatch: 400,
  already_initialized: 400,
  permission_denied: 403,
  not_found: 404,
  unsupported_path: 404,
  no_route: 404,
  unsupported_operation: 405,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  integrity_failure: 500,
  upstream_failure: 502,
  sealed: 503,
  not_initialized: 503,
  not_active: 503,
} as const satisfies Record<ErrorCode, number>;

export interface ErrorReply {
  readonly status: number;
  readonly code: ErrorCode;
  readonly body: { errors: string[]; code: ErrorCode; request_id: string };
  /** Only for internal failures: what the operator log should record (never sent). */
  readonly internalCause?: unknown;
  /** Whole seconds for the Retry-After header (rate limits). */
  readonly retryAfterSeconds?: number;
}

/**
 * Turns anything thrown into a reply. SECURITY: an unknown throwable is never rendered; its
 * message may hold anything. A CofferError's message is written never to hold a secret.
 */
export function errorReply(err: unknown, requestId: string): ErrorReply {
  if (isCofferError(err)) {
    const status = STATUS_BY_CODE[err.code];
    // Vault answers "not found" with an empty error list.
    const errors = err.code === 'not_found' ? [] : [err.message];
    return {
      status,
      code: err.code,
      body: { errors, code: err.code, request_id: requestId },
      ...(status >= 500 && err.code !== 'sealed' ? { internalCause: err } : {}),
      ...(err.retryAfterSeconds === undefined
        ? {}
        : { retryAfterSeconds: Math.max(1, Math.ceil(err.retryAfterSeconds)) }),
    };
  }
  return {
    status: 500,
    code: 'internal',
    body: { errors: ['internal error'], code: 'internal', request_id: requestId },
    internalCause: err,
  };
}
