// The error vocabulary shared by every layer: one code union, one error class. Statuses are
// chosen in exactly one place (src/http/error-response.ts), never here or in engines.

/**
 * Stable, snake_case error codes. Never rename one once shipped: clients and docs/errors.md
 * refer to them. Adding one without a status in the HTTP table fails to compile.
 */
export type ErrorCode =
  | 'invalid_request'
  | 'cas_mismatch'
  | 'already_initialized'
  | 'permission_denied'
  | 'not_found'
  | 'unsupported_path'
  | 'no_route'
  | 'unsupported_operation'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'internal'
  | 'integrity_failure'
  | 'upstream_failure'
  | 'sealed'
  | 'not_initialized'
  | 'not_active';

export interface CofferErrorOptions {
  /** The field the problem is about, when there is one (never its value). */
  readonly field?: string;
  readonly cause?: unknown;
  /** For `rate_limited`: whole seconds until a retry can succeed (the Retry-After header). */
  readonly retryAfterSeconds?: number;
  /**
   * The error's name in a cloud door's own vocabulary, where it is finer than ErrorCode
   * (`InvalidParameterException`, `ResourceExistsException`). Set by door engines; the door's
   * adapter renders it, the Vault door ignores it. Never a value.
   */
  readonly doorCode?: string;
}

/**
 * The one error class engines, the core and the storage layers throw.
 * SECURITY: messages must never contain a secret value, token, key or password; they name
 * the field and say what was wrong with it.
 */
export class CofferError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;
  readonly retryAfterSeconds: number | undefined;
  readonly doorCode: string | undefined;

  constructor(code: ErrorCode, message: string, options: CofferErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CofferError';
    this.code = code;
    this.field = options.field;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.doorCode = options.doorCode;
  }
}

/** Shorthand for the most common case: a request field that is missing or malformed. */
export function invalidField(field: string, why: string): CofferError {
  return new CofferError('invalid_request', `${field}: ${why}`, { field });
}

export function isCofferError(err: unknown): err is CofferError {
  return err instanceof CofferError;
}
