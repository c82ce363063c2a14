// What the JWT/OIDC auth method's paths share within one mount: the outbound client, the key
// caches, the pending OIDC logins and the login rate limiter. Built once per engine.
import type { Outbound } from '../../../shared/outbound.js';
import type { LoginRateLimiter } from '../rate-limit.js';
import type { KeySources } from './key-source.js';
import type { OidcStates } from './oidc-state.js';

export interface JwtDeps {
  readonly outbound: Outbound;
  readonly keys: KeySources;
  readonly states: OidcStates;
  readonly limiter: LoginRateLimiter;
}
