// The client's browser entry: the parts that use only fetch and Web APIs, for the web UI
// (ui/). It must never reach a Node module; .dependency-cruiser.cjs checks that, so the UI
// and the CLI share one client instead of two. index.ts is the Node entry (everything).
export {
  authMountPath,
  listAuthMethods,
  login,
  loginRequest,
  newClientNonce,
  oidcAuthUrl,
  oidcCallback,
} from './auth.js';
export type { AuthMethodEntry, LoginMethod, LoginRequest, OidcCallbackParams } from './auth.js';
export { CofferClient } from './client.js';
export type { CofferClientOptions } from './client.js';
export {
  auditHash,
  listAuditDevices,
  listLeases,
  listSecretMounts,
  lookupWrapping,
  mountOf,
  readAuditLog,
  resultantAcl,
  wrapData,
} from './console.js';
export type {
  AclPath,
  AuditDevice,
  AuditLogView,
  AuditVerification,
  ResultantAcl,
  UiMount,
  WrapLookup,
} from './console.js';
export { ApiError, ClientError, ConnectionError } from './errors.js';
export { isRecord, sanitizePath } from './kv-path.js';
export type { LeaseInfo, LeaseLookup, LeaseRenewal } from './leases.js';
export { POLICY_OPERATIONS } from './policies.js';
export type {
  ExplainSubject,
  PolicyExplanation,
  PolicyMatch,
  PolicyOperation,
} from './policies.js';
export type { TokenAuth, TokenCreateOptions, TokenInfo, TokenLookup } from './tokens.js';
export type * from './types.js';
