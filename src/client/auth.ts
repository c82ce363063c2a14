// Auth methods from the client's side: their mount table (`sys/auth`), the login requests of
// userpass, AppRole, JWT and Kubernetes, and the OIDC browser flow (`oidc/auth_url`,
// `oidc/callback`; the CLI's loopback listener is in oidc-listener.ts). Browser-safe: no Node
// module is imported here, so the web UI uses this file too.
// SECURITY: passwords, secret ids, JWTs and OIDC codes travel only in request bodies or (the
// OIDC callback, as in Vault) in the query of one request; no message here ever contains one.
import type { CofferClient } from './client.js';
import { ClientError } from './errors.js';
import { isRecord, sanitizePath } from './kv-path.js';
import { authOf, requireNonEmpty } from './tokens.js';
import type { TokenAuth } from './tokens.js';
import type {
  ApiResponse,
  MountConfigInput,
  MountEntry,
  MountTune,
  TuneMountOptions,
} from './types.js';

/** One entry of `GET sys/auth`, keyed by its path with a trailing slash ("userpass/"). */
export type AuthMethodEntry = MountEntry;

/** Body of `POST sys/auth/:path`. */
export interface EnableAuthOptions {
  /** The auth method type: "userpass", "approle", "jwt", "kubernetes"... */
  readonly type: string;
  readonly description?: string;
  /** Token TTLs of the method: seconds or Go durations ("1h"). */
  readonly config?: MountConfigInput;
  readonly options?: Record<string, string>;
}

/** Body of `POST sys/auth/:path/tune`. */
export type TuneAuthOptions = TuneMountOptions;

/** Top-level keys of Vault's envelope; the rest of a bare `sys/auth` answer is the table. */
const ENVELOPE_KEYS = new Set([
  'request_id',
  'lease_id',
  'renewable',
  'lease_duration',
  'data',
  'wrap_info',
  'warnings',
  'auth',
  'mount_type',
]);

/** The mount path of an auth method without slashes; "" is refused. */
export function authMountPath(path: string): string {
  const clean = sanitizePath(path);
  if (clean === '') throw new ClientError('the auth method path must not be empty');
  return clean;
}

/** `data` of an envelope, or the top level for servers that copy it there (sys/auth does). */
function dataOrTopLevel(response: ApiResponse | undefined, path: string): Record<string, unknown> {
  if (response === undefined) throw new ClientError(`unexpected empty response from ${path}`);
  if (isRecord(response.data)) return response.data;
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(response)) {
    if (!ENVELOPE_KEYS.has(key)) rest[key] = value;
  }
  return rest;
}

/** The enabled auth methods (the built-in `token/` included), keyed "userpass/". */
export async function listAuthMethods(
  client: CofferClient,
): Promise<Record<string, AuthMethodEntry>> {
  const response = await client.request('GET', 'sys/auth');
  return dataOrTopLevel(response, 'sys/auth') as Record<string, AuthMethodEntry>;
}

export async function enableAuthMethod(
  client: CofferClient,
  path: string,
  options: EnableAuthOptions,
): Promise<void> {
  requireNonEmpty(options.type, 'type');
  await client.request('POST', `sys/auth/${authMountPath(path)}`, { body: options });
}

/** Disables the method at `path`; the server revokes every token its logins issued. */
export async function disableAuthMethod(client: CofferClient, path: string): Promise<void> {
  await client.request('DELETE', `sys/auth/${authMountPath(path)}`);
}

export async function tuneAuthMethod(
  client: CofferClient,
  path: string,
  options: TuneAuthOptions,
): Promise<void> {
  await client.request('POST', `sys/auth/${authMountPath(path)}/tune`, { body: options });
}

/** `GET sys/auth/:path/tune` (seconds). */
export async function readAuthTune(client: CofferClient, path: string): Promise<MountTune> {
  const where = `sys/auth/${authMountPath(path)}/tune`;
  return dataOrTopLevel(await client.request('GET', where), where) as MountTune;
}

// ---- logins ------------------------------------------------------------------------------------

/**
 * What a login sends, per auth method. `mount` defaults to the method's name. A JWT role may be
 * left out when the mount has a `default_role`; an AppRole secret id when the role does not
 * bind one.
 */
export type LoginRequest =
  | {
      readonly method: 'userpass';
      readonly mount?: string;
      readonly username: string;
      readonly password: string;
    }
  | {
      readonly method: 'approle';
      readonly mount?: string;
      readonly roleId: string;
      readonly secretId?: string;
    }
  | {
      readonly method: 'jwt';
      readonly mount?: string;
      readonly role?: string;
      readonly jwt: string;
    }
  | {
      readonly method: 'kubernetes';
      readonly mount?: string;
      readonly role: string;
      readonly jwt: string;
    };

export type LoginMethod = LoginRequest['method'];

/** Where a pod finds its service account token (the Kubernetes method's default JWT). */
export const KUBERNETES_SA_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** A path segment taken from user input: one segment, not empty. */
function segment(value: string, what: string): string {
  const trimmed = requireNonEmpty(value, what);
  if (trimmed.includes('/')) throw new ClientError(`${what} must not contain "/"`);
  return trimmed;
}

/** SECURITY: a secret is sent exactly as given (no trimming) but must not be empty. */
function secret(value: string, what: string): string {
  if (value === '') throw new ClientError(`${what} must not be empty`);
  return value;
}

/** The endpoint and body of a login (pure; exported for tests and other clients). */
export function loginRequest(request: LoginRequest): {
  readonly path: string;
  readonly body: Record<string, unknown>;
} {
  const mount = authMountPath(request.mount ?? request.method);
  switch (request.method) {
    case 'userpass':
      return {
        path: `auth/${mount}/login/${segment(request.username, 'username')}`,
        body: { password: secret(request.password, 'password') },
      };
    case 'approle': {
      const body: Record<string, unknown> = { role_id: requireNonEmpty(request.roleId, 'role_id') };
      if (request.secretId !== undefined) body['secret_id'] = secret(request.secretId, 'secret_id');
      return { path: `auth/${mount}/login`, body };
    }
    case 'jwt':
    case 'kubernetes': {
      const body: Record<string, unknown> = { jwt: requireNonEmpty(request.jwt, 'jwt') };
      if (request.role !== undefined) body['role'] = requireNonEmpty(request.role, 'role');
      return { path: `auth/${mount}/login`, body };
    }
  }
}

/**
 * Logs in and returns the `auth` block. Use a client without a token: login paths need none,
 * and a stale token would only be sent for nothing.
 */
export async function login(client: CofferClient, request: LoginRequest): Promise<TokenAuth> {
  const { path, body } = loginRequest(request);
  return requireToken(authOf(await client.request('POST', path, { body }), path), path);
}

function requireToken(result: TokenAuth, path: string): TokenAuth {
  if (typeof result.auth.client_token !== 'string' || result.auth.client_token === '') {
    throw new ClientError(`unexpected response shape from ${path} (no client token)`);
  }
  return result;
}

// ---- OIDC --------------------------------------------------------------------------------------

/** A fresh `client_nonce`: binds the callback to the client that asked for the URL. */
export function newClientNonce(): string {
  // Web Crypto, so the same code runs in Node and in the browser (the web UI's OIDC sign-in).
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(20));
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export interface OidcAuthUrlRequest {
  /** Default "oidc". */
  readonly mount?: string;
  /** Left out to use the mount's `default_role`. */
  readonly role?: string;
  readonly redirectUri: string;
  readonly clientNonce: string;
}

/** `POST auth/:mount/oidc/auth_url`: the provider URL the user must open. */
export async function oidcAuthUrl(
  client: CofferClient,
  request: OidcAuthUrlRequest,
): Promise<string> {
  const path = `auth/${authMountPath(request.mount ?? 'oidc')}/oidc/auth_url`;
  const body: Record<string, unknown> = {
    redirect_uri: requireNonEmpty(request.redirectUri, 'redirect_uri'),
    client_nonce: requireNonEmpty(request.clientNonce, 'client_nonce'),
  };
  if (request.role !== undefined) body['role'] = requireNonEmpty(request.role, 'role');
  const response = await client.request('POST', path, { body });
  const url = response?.data?.['auth_url'];
  if (typeof url !== 'string' || url === '') {
    throw new ClientError(
      `the server returned no auth_url for role "${request.role ?? '(default)'}" with ` +
        `redirect_uri ${request.redirectUri}; check the role's allowed_redirect_uris`,
    );
  }
  return url;
}

/** What the provider's redirect carried. SECURITY: `code` is a one-time credential. */
export interface OidcCallbackParams {
  readonly state: string;
  readonly code: string;
}

/** `GET auth/:mount/oidc/callback?state&code&client_nonce`: trades the code for a token. */
export async function oidcCallback(
  client: CofferClient,
  request: OidcCallbackParams & { readonly mount?: string; readonly clientNonce: string },
): Promise<TokenAuth> {
  const path = `auth/${authMountPath(request.mount ?? 'oidc')}/oidc/callback`;
  const query = { state: request.state, code: request.code, client_nonce: request.clientNonce };
  return requireToken(authOf(await client.request('GET', path, { query }), path), path);
}
