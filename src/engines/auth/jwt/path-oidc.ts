// The browser OIDC login (authorization code flow with PKCE): `oidc/auth_url` builds the
// provider's authorization URL with a fresh state, nonce and code challenge; `oidc/callback`
// consumes the state once, exchanges the code at the token endpoint (through the outbound
// chokepoint), verifies the ID token and logs in. Both are unauthenticated and rate-limited.
import { Buffer } from 'node:buffer';
import { createHash, randomBytes } from 'node:crypto';
import { CofferError, invalidField } from '../../../sdk/errors.js';
import { parseFields } from '../../../sdk/fields.js';
import { isPlainObject } from '../../../sdk/json.js';
import { definePath, type PathSpec } from '../../../sdk/path.js';
import { parseJsonBody } from '../../../shared/outbound.js';
import { oidcFlowConfigured, requireConfig, type JwtConfig } from './config.js';
import type { JwtDeps } from './deps.js';
import type { DiscoveryDocument } from './key-source.js';
import { loginRole } from './path-login.js';
import { checkLoginAddress, grantFor, verifyIdToken } from './verify.js';

const AUTH_URL_FIELDS = {
  role: { type: 'string', description: 'Role to log in with; default_role when omitted.' },
  redirect_uri: {
    type: 'string',
    description: "Where the provider sends the browser back; one of the role's allowed URIs.",
    required: true,
  },
  client_nonce: {
    type: 'string',
    description: 'Optional nonce the callback must present again.',
  },
} as const;

const CALLBACK_FIELDS = {
  state: { type: 'string', description: 'The state from the authorization URL.', required: true },
  code: { type: 'string', description: 'The authorization code from the provider.' },
  client_nonce: { type: 'string', description: 'The client_nonce given to auth_url, if any.' },
  iss: { type: 'string', description: 'The issuer the provider names (RFC 9207), if any.' },
  error: { type: 'string', description: 'An OAuth error code from the provider.' },
  error_description: { type: 'string', description: 'The provider’s error text (not shown).' },
} as const;

/** Parameters providers add to the redirect that carry nothing Coffer uses. */
const IGNORED_CALLBACK_PARAMS: ReadonlySet<string> = new Set([
  'session_state',
  'scope',
  'authuser',
  'prompt',
  'hd',
  'error_uri',
]);

const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Whether `uri` is allowed: exactly one of `allowed`, except that loopback URIs match in any
 * port (RFC 8252 §7.3: native clients listen on an ephemeral port).
 */
export function redirectAllowed(uri: string, allowed: readonly string[]): boolean {
  let input: URL;
  try {
    input = new URL(uri);
  } catch {
    return false;
  }
  if (!LOOPBACK_HOSTS.has(input.hostname)) return allowed.includes(uri);
  input.port = '';
  return allowed.some((a) => {
    try {
      const candidate = new URL(a);
      candidate.port = '';
      return candidate.href === input.href;
    } catch {
      return false;
    }
  });
}

function base64url(bytes: Buffer): string {
  return bytes.toString('base64url');
}

/** A provider endpoint from the discovery document, checked to be an http(s) URL. */
function endpoint(doc: DiscoveryDocument, which: 'authorization' | 'token'): URL {
  const value = which === 'authorization' ? doc.authorizationEndpoint : doc.tokenEndpoint;
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new CofferError(
      'upstream_failure',
      `oidc_discovery_url: discovery document lacks a valid ${which}_endpoint`,
    );
  }
  return url;
}

function requireOidcFlow(config: JwtConfig): void {
  if (!oidcFlowConfigured(config)) {
    throw new CofferError('invalid_request', 'OIDC login is not configured for this mount');
  }
}

export function pathOidcAuthUrl(deps: JwtDeps): PathSpec {
  return definePath({
    pattern: 'oidc/auth_url',
    fields: AUTH_URL_FIELDS,
    operations: {
      async update(req, fields) {
        const nowMs = req.now();
        deps.limiter.take(req.remoteAddress, nowMs);
        const config = await requireConfig(req.storage);
        requireOidcFlow(config);
        const { name, role } = await loginRole(req.storage, config, fields.role);
        if (role.roleType !== 'oidc') {
          throw new CofferError('invalid_request', 'role is not an OIDC role', { field: 'role' });
        }
        const redirectUri = fields.redirect_uri ?? '';
        if (redirectUri === '') throw invalidField('redirect_uri', 'missing redirect_uri');
        // As Vault: an unauthorised redirect gets an empty URL, not a reason.
        if (!redirectAllowed(redirectUri, role.allowedRedirectUris)) {
          return { kind: 'data', data: { auth_url: '' } };
        }
        const doc = await deps.keys.for(config).discovery(nowMs);
        const url = endpoint(doc, 'authorization');
        const nonce = randomBytes(20).toString('hex');
        const codeVerifier = base64url(randomBytes(32));
        const state = deps.states.create(
          {
            roleName: name,
            nonce,
            redirectUri,
            clientNonce: fields.client_nonce ?? '',
            codeVerifier,
          },
          nowMs,
        );
        const scopes = ['openid', ...role.oidcScopes.filter((s) => s !== 'openid')];
        url.searchParams.set('client_id', config.oidcClientId);
        url.searchParams.set('nonce', nonce);
        url.searchParams.set('redirect_uri', redirectUri);
        url.searchParams.set('response_type', 'code');
        url.searchParams.set('scope', scopes.join(' '));
        url.searchParams.set('state', state);
        url.searchParams.set(
          'code_challenge',
          base64url(createHash('sha256').update(codeVerifier).digest()),
        );
        url.searchParams.set('code_challenge_method', 'S256');
        return { kind: 'data', data: { auth_url: url.href } };
      },
    },
    help:
      'Starts a browser login: returns the provider URL to open, with a state, nonce and ' +
      'PKCE challenge that the callback must match within 10 minutes.',
  });
}

/** Exchanges the code at the token endpoint; returns the raw ID token. */
async function exchangeCode(
  deps: JwtDeps,
  config: JwtConfig,
  doc: DiscoveryDocument,
  code: string,
  redirectUri: string,
  codeVerifier: string,
): Promise<string> {
  const label = 'token_endpoint';
  const url = endpoint(doc, 'token');
  const form = new URLSearchParams({
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri,
    code_verifier: codeVerifier,
  });
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  };
  const methods = doc.tokenEndpointAuthMethods;
  if (
    methods.length > 0 &&
    !methods.includes('client_secret_basic') &&
    methods.includes('client_secret_post')
  ) {
    form.set('client_id', config.oidcClientId);
    form.set('client_secret', config.oidcClientSecret);
  } else {
    // RFC 6749 §2.3.1: both parts form-encoded before the Basic encoding.
    const user = encodeURIComponent(config.oidcClientId);
    const pass = encodeURIComponent(config.oidcClientSecret);
    headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
  }
  const res = await deps.outbound.request({
    url: url.href,
    label,
    method: 'POST',
    headers,
    body: form.toString(),
    caPem: config.oidcDiscoveryCaPem,
  });
  if (res.status !== 200) {
    let reason = '';
    try {
      const body = parseJsonBody(res.body, label);
      // Only a plain OAuth error code is repeated; descriptions are provider text.
      if (
        isPlainObject(body) &&
        typeof body.error === 'string' &&
        /^[a-z_]{1,64}$/.test(body.error)
      ) {
        reason = ` (${body.error})`;
      }
    } catch {
      // not JSON: the status says enough
    }
    throw new CofferError(
      'upstream_failure',
      `${label}: code exchange failed with HTTP status ${res.status}${reason}`,
    );
  }
  const body = parseJsonBody(res.body, label);
  if (!isPlainObject(body) || typeof body.id_token !== 'string' || body.id_token === '') {
    throw new CofferError('upstream_failure', `${label}: no id_token found in the response`);
  }
  return body.id_token;
}

export function pathOidcCallback(deps: JwtDeps): PathSpec {
  return definePath({
    pattern: 'oidc/callback',
    fields: CALLBACK_FIELDS,
    // Providers add parameters of their own to the redirect; known ones are ignored below.
    arbitraryFields: true,
    operations: {
      async read(req) {
        const nowMs = req.now();
        deps.limiter.take(req.remoteAddress, nowMs);
        const fields = parseFields(CALLBACK_FIELDS, req.data, IGNORED_CALLBACK_PARAMS);
        const state = deps.states.take(fields.state ?? '', nowMs);
        if (state === undefined) {
          throw new CofferError('invalid_request', 'expired or missing OAuth state', {
            field: 'state',
          });
        }
        if (state.clientNonce !== '' && fields.client_nonce !== state.clientNonce) {
          throw new CofferError('permission_denied', 'invalid client_nonce', {
            field: 'client_nonce',
          });
        }
        if (fields.error !== undefined && fields.error !== '') {
          const code = /^[a-z_]{1,64}$/.test(fields.error) ? ` (${fields.error})` : '';
          throw new CofferError('permission_denied', `login failed at the provider${code}`);
        }
        const config = await requireConfig(req.storage);
        requireOidcFlow(config);
        const { name, role } = await loginRole(req.storage, config, state.roleName);
        if (role.roleType !== 'oidc') {
          throw new CofferError('invalid_request', 'role is not an OIDC role', { field: 'role' });
        }
        checkLoginAddress(role, req.remoteAddress);
        const code = fields.code ?? '';
        if (code === '') throw invalidField('code', 'no code received');
        const keys = deps.keys.for(config);
        const doc = await keys.discovery(nowMs);
        // SECURITY: RFC 9207 mix-up defence: a response naming another issuer is refused.
        if (fields.iss !== undefined && fields.iss !== doc.issuer) {
          throw new CofferError('permission_denied', 'iss does not match the provider', {
            field: 'iss',
          });
        }
        const idToken = await exchangeCode(
          deps,
          config,
          doc,
          code,
          state.redirectUri,
          state.codeVerifier,
        );
        const claims = await verifyIdToken(idToken, role, config, keys, nowMs, state.nonce);
        return { kind: 'login', login: grantFor(name, role, claims) };
      },
    },
    help:
      'Completes a browser login: takes the state (usable once) and the code, exchanges the ' +
      'code for an ID token, verifies it (issuer, audience = client id, nonce, role bindings) ' +
      'and logs in.',
  });
}
