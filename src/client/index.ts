// The client's public surface: the CLI, the agent and the UI import from here only.
export {
  authMountPath,
  disableAuthMethod,
  enableAuthMethod,
  KUBERNETES_SA_TOKEN_PATH,
  listAuthMethods,
  login,
  loginRequest,
  newClientNonce,
  oidcAuthUrl,
  oidcCallback,
  readAuthTune,
  tuneAuthMethod,
} from './auth.js';
export {
  OIDC_CALLBACK_PATH,
  OIDC_CALLBACK_TIMEOUT_MS,
  OIDC_DEFAULT_LISTEN_ADDRESS,
  OIDC_DEFAULT_PORT,
  startOidcListener,
} from './oidc-listener.js';
export type { OidcListener } from './oidc-listener.js';
export type {
  AuthMethodEntry,
  EnableAuthOptions,
  LoginMethod,
  LoginRequest,
  OidcAuthUrlRequest,
  OidcCallbackParams,
  TuneAuthOptions,
} from './auth.js';
export { CofferClient, DEFAULT_ADDRESS, DEFAULT_TIMEOUT_MS } from './client.js';
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
export type { CofferClientOptions } from './client.js';
export { ApiError, ClientError, ConnectionError } from './errors.js';
export type { ApiErrorDetails } from './errors.js';
export * from './kv-path.js';
export { POLICY_OPERATIONS, policyPath } from './policies.js';
export type {
  AclPolicy,
  ExplainSubject,
  PolicyExplanation,
  PolicyMatch,
  PolicyOperation,
} from './policies.js';
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
export { writeFileAtomic } from './atomic-file.js';
export { ENV_NAME, parseEnvFile } from './env-file.js';
export type { EnvFileEntry } from './env-file.js';
export { EventStreamError, parseChangeEvent, SseParser, subscribeChanges } from './events.js';
export type { ChangeEvent, ChangeStreamOptions, ChangeSubscription, SseMessage } from './events.js';
export { LeaseKeeper, RENEW_AT_FRACTION } from './lease-keeper.js';
export type { LeaseKeeperOptions } from './lease-keeper.js';
export {
  checkSecretVariables,
  childEnvironment,
  CREDENTIAL_VARIABLES,
  EnvClashError,
  isProtectedVariable,
} from './child-env.js';
export type { ChildEnvOptions } from './child-env.js';
export { hasTlsSettings, resolveTlsSettings, TLS_VARIABLES, tlsFetch } from './tls.js';
export type { TlsSettings } from './tls.js';
export { loadEnv } from './load-env.js';
export type { LoadEnvOptions } from './load-env.js';
export { MASK_TEXT, MIN_MASKED_LENGTH, StreamMasker } from './mask.js';
export { formatReference, isReference, parseReference, REFERENCE_SCHEME } from './references.js';
export type { SecretReference } from './references.js';
export { describeTarget, readSecrets, ResolveError, targetId, valueText } from './resolve.js';
export type { ReadTarget, SecretLease, SecretRead } from './resolve.js';
export {
  FALLBACK_KEY_ENV,
  formatAge,
  openSnapshot,
  parseFallbackKey,
  readSnapshot,
  sealSnapshot,
  writeSnapshot,
} from './snapshot.js';
export type { Snapshot } from './snapshot.js';
export {
  envNameOf,
  explicitFromEnvFile,
  explicitFromPairs,
  literalVariables,
  resolveVariables,
  sourcesFingerprint,
} from './variables.js';
export type {
  ExplicitVariable,
  ResolveOptions,
  ResolvedVariables,
  VariableSources,
} from './variables.js';
