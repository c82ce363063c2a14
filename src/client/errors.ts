// Errors the HTTP client throws: the server said no (ApiError), the server could not be reached
// (ConnectionError), or the caller asked for something the client cannot do (ClientError).
// SECURITY: no message here ever contains the token, a request body or a response body.

/** Extra facts about a failed API call, all safe to print. */
export interface ApiErrorDetails {
  /** A machine-readable code, when the server sent one (`code` in the error body). */
  readonly code?: string;
  /** The server's request id, when it sent one. */
  readonly requestId?: string;
}

/** A non-2xx answer from the server. `errors` is Vault's `{"errors":[...]}` list, maybe empty. */
export class ApiError extends Error {
  readonly status: number;
  readonly errors: string[];
  readonly code?: string;
  readonly requestId?: string;

  constructor(status: number, errors: string[], details: ApiErrorDetails = {}) {
    super(errors.length > 0 ? errors.join('; ') : `request failed with HTTP status ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.errors = errors;
    if (details.code !== undefined) this.code = details.code;
    if (details.requestId !== undefined) this.requestId = details.requestId;
  }
}

/**
 * The server could not be reached or did not answer in time. The message names the address
 * (never the token) and the low-level reason, e.g. "cannot reach Coffer at
 * http://127.0.0.1:8200: ECONNREFUSED".
 */
export class ConnectionError extends Error {
  readonly address: string;
  readonly reason: string;

  constructor(address: string, reason: string, options: { cause?: unknown } = {}) {
    super(`cannot reach Coffer at ${address}: ${reason}`, options);
    this.name = 'ConnectionError';
    this.address = address;
    this.reason = reason;
  }
}

/** A request the client refuses before sending it (bad address, v2-only call on a v1 mount). */
export class ClientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClientError';
  }
}
