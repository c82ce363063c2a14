// Errors as Google renders them, for both transports: the canonical status (from the engine's
// `doorCode`, or mapped from Coffer's ErrorCode), its HTTP status and its gRPC code. One table,
// checked for exhaustiveness by the compiler.
import type { GoogleStatus } from '../../engines/gcp-sm/common.js';
import { isCofferError, type ErrorCode } from '../../sdk/errors.js';

export const STATUS = {
  INVALID_ARGUMENT: { http: 400, grpc: 3 },
  FAILED_PRECONDITION: { http: 400, grpc: 9 },
  OUT_OF_RANGE: { http: 400, grpc: 11 },
  UNAUTHENTICATED: { http: 401, grpc: 16 },
  PERMISSION_DENIED: { http: 403, grpc: 7 },
  NOT_FOUND: { http: 404, grpc: 5 },
  ALREADY_EXISTS: { http: 409, grpc: 6 },
  ABORTED: { http: 409, grpc: 10 },
  RESOURCE_EXHAUSTED: { http: 429, grpc: 8 },
  INTERNAL: { http: 500, grpc: 13 },
  UNIMPLEMENTED: { http: 501, grpc: 12 },
  UNAVAILABLE: { http: 503, grpc: 14 },
} as const satisfies Record<GoogleStatus, { http: number; grpc: number }>;

export interface GoogleError {
  readonly status: GoogleStatus;
  readonly message: string;
}

/** Coffer's codes in Google's words (when the engine gave no finer doorCode). */
const FROM_CODE: Readonly<Record<ErrorCode, GoogleStatus>> = {
  invalid_request: 'INVALID_ARGUMENT',
  cas_mismatch: 'ABORTED',
  already_initialized: 'FAILED_PRECONDITION',
  permission_denied: 'PERMISSION_DENIED',
  not_found: 'NOT_FOUND',
  unsupported_path: 'NOT_FOUND',
  no_route: 'FAILED_PRECONDITION',
  unsupported_operation: 'UNIMPLEMENTED',
  payload_too_large: 'INVALID_ARGUMENT',
  unsupported_media_type: 'INVALID_ARGUMENT',
  rate_limited: 'RESOURCE_EXHAUSTED',
  internal: 'INTERNAL',
  integrity_failure: 'INTERNAL',
  upstream_failure: 'INTERNAL',
  sealed: 'UNAVAILABLE',
  not_initialized: 'UNAVAILABLE',
  not_active: 'UNAVAILABLE',
};

function isGoogleStatus(value: string): value is GoogleStatus {
  return Object.hasOwn(STATUS, value);
}

/** Any throwable as Google renders it. SECURITY: unknown throwables become "internal error". */
export function toGoogleError(err: unknown, method: string): GoogleError {
  if (!isCofferError(err)) return { status: 'INTERNAL', message: 'internal error' };
  if (err.doorCode !== undefined && isGoogleStatus(err.doorCode)) {
    return { status: err.doorCode, message: err.message };
  }
  const status = FROM_CODE[err.code];
  switch (err.code) {
    case 'permission_denied':
      return err.field === 'token' || err.field === 'credential'
        ? {
            status: 'UNAUTHENTICATED',
            message:
              'Request had invalid authentication credentials. Expected a Coffer token or a service-account JWT as Bearer.',
          }
        : {
            status,
            message: `Permission denied on ${method}: no Coffer policy allows it.`,
          };
    case 'no_route':
      return { status, message: 'The Google door has no gcp-sm mount to serve.' };
    case 'unsupported_path':
      return { status, message: 'The requested resource or method was not found.' };
    case 'sealed':
      return { status, message: 'Coffer is sealed.' };
    case 'not_active':
      return { status, message: 'This Coffer node is not active; retry.' };
    case 'internal':
    case 'integrity_failure':
    case 'upstream_failure':
      return { status, message: 'internal error' };
    case 'invalid_request':
    case 'cas_mismatch':
    case 'not_found':
    case 'already_initialized':
    case 'not_initialized':
    case 'payload_too_large':
    case 'rate_limited':
    case 'unsupported_media_type':
    case 'unsupported_operation':
      return { status, message: err.message };
  }
}
