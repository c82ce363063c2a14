// The client's public surface: the CLI, the agent and the UI import from here only.
export { CofferClient, DEFAULT_ADDRESS, DEFAULT_TIMEOUT_MS } from './client.js';
export type { CofferClientOptions } from './client.js';
export { ApiError, ClientError, ConnectionError } from './errors.js';
export type { ApiErrorDetails } from './errors.js';
export * from './kv-path.js';
export { POLICY_OPERATIONS, policyPath } from './policies.js';
export type { AclPolicy, PolicyExplanation, PolicyMatch, PolicyOperation } from './policies.js';
export { tokenCreateRequest } from './tokens.js';
export type {
  CapabilityReport,
  CapabilityTarget,
  TokenAuth,
  TokenCreateOptions,
  TokenInfo,
  TokenLookup,
  TokenType,
} from './tokens.js';
export type * from './types.js';
