// The JWT/OIDC auth method (types "jwt" and "oidc", one engine): logins with signed JWTs
// checked against static keys, a JWKS URL or OIDC discovery, and the browser OIDC flow.
// Assembled from its paths; every outbound call goes through src/shared/outbound.ts.
import type { EngineFactory, SecretEngine } from '../../../sdk/engine.js';
import { createPathEngine } from '../../../sdk/path.js';
import type { Outbound, OutboundOptions } from '../../../shared/outbound.js';
import { outboundFrom } from '../outbound-option.js';
import { LoginRateLimiter, type RateLimitConfig } from '../rate-limit.js';
import type { JwtDeps } from './deps.js';
import { KeySources } from './key-source.js';
import { OidcStates } from './oidc-state.js';
import { pathConfig } from './path-config.js';
import { pathLogin } from './path-login.js';
import { pathOidcAuthUrl, pathOidcCallback } from './path-oidc.js';
import { rolePaths } from './path-role.js';

/**
 * Login attempts (login, oidc/auth_url, oidc/callback) per client address: a burst, then a
 * steady rate. Generous for people and CI fleets behind one NAT, while bounding how often an
 * unauthenticated caller can make Coffer verify signatures or call the provider.
 */
export const DEFAULT_LOGIN_RATE_LIMIT: RateLimitConfig = { burst: 50, perSecond: 10 };

export interface JwtEngineOptions {
  /** The outbound client, or options for one (tests; an operator's allow-list). */
  readonly outbound?: Outbound | OutboundOptions;
  readonly rateLimit?: RateLimitConfig;
}

/** What tests reach into: the engine and its shared parts. */
export interface JwtEngine extends SecretEngine {
  readonly deps: JwtDeps;
}

export function createJwtEngine(options: JwtEngineOptions = {}): JwtEngine {
  const outbound = outboundFrom(options.outbound);
  const deps: JwtDeps = {
    outbound,
    keys: new KeySources(outbound),
    states: new OidcStates(),
    limiter: new LoginRateLimiter(options.rateLimit ?? DEFAULT_LOGIN_RATE_LIMIT),
  };
  const engine = createPathEngine([
    pathConfig(deps),
    pathLogin(deps),
    pathOidcAuthUrl(deps),
    pathOidcCallback(deps),
    ...rolePaths(),
  ]);
  return {
    ...engine,
    deps,
    unauthenticatedPaths: ['login', 'oidc/auth_url', 'oidc/callback'],
  };
}

const DESCRIPTION =
  'JWT and OIDC logins: signed JWTs checked against static keys, a JWKS URL or OIDC ' +
  'discovery, and the browser OIDC flow (authorization code with PKCE).';

export const jwtAuthFactory: EngineFactory = {
  type: 'jwt',
  category: 'auth',
  description: DESCRIPTION,
  create(): SecretEngine {
    return createJwtEngine();
  },
};

/** Vault mounts the same plugin under type "oidc". */
export const oidcAuthFactory: EngineFactory = {
  ...jwtAuthFactory,
  type: 'oidc',
};
