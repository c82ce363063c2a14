// The client's public surface: the CLI, the agent and the UI import from here only.
export { CofferClient, DEFAULT_ADDRESS, DEFAULT_TIMEOUT_MS } from './client.js';
export type { CofferClientOptions } from './client.js';
export { ApiError, ClientError, ConnectionError } from './errors.js';
export type { ApiErrorDetails } from './errors.js';
export * from './kv-path.js';
export type * from './types.js';
