// The Kubernetes auth method (type "kubernetes"): logins with service account JWTs, checked
// with the TokenReview API and/or local keys. Assembled from its paths; every outbound call
// goes through src/shared/outbound.ts.
import type { EngineFactory, SecretEngine } from '../../../sdk/engine.js';
import { createPathEngine } from '../../../sdk/path.js';
import type { Outbound, OutboundOptions } from '../../../shared/outbound.js';
import { outboundFrom } from '../outbound-option.js';
import { LoginRateLimiter, type RateLimitConfig } from '../rate-limit.js';
import { pathConfig } from './path-config.js';
import { pathLogin } from './path-login.js';
import { rolePaths } from './path-role.js';

/**
 * Login attempts per client address: a burst, then a steady rate. Each login may cost a
 * TokenReview call, so an unauthenticated caller must not be able to drive those at will.
 */
export const DEFAULT_LOGIN_RATE_LIMIT: RateLimitConfig = { burst: 50, perSecond: 10 };

export interface KubernetesEngineOptions {
  /** The outbound client, or options for one (tests; an operator's allow-list). */
  readonly outbound?: Outbound | OutboundOptions;
  readonly rateLimit?: RateLimitConfig;
}

export function createKubernetesEngine(options: KubernetesEngineOptions = {}): SecretEngine {
  const outbound = outboundFrom(options.outbound);
  const limiter = new LoginRateLimiter(options.rateLimit ?? DEFAULT_LOGIN_RATE_LIMIT);
  const engine = createPathEngine([pathConfig(), pathLogin({ outbound, limiter }), ...rolePaths()]);
  return { ...engine, unauthenticatedPaths: ['login'] };
}

export const kubernetesAuthFactory: EngineFactory = {
  type: 'kubernetes',
  category: 'auth',
  description:
    'Kubernetes service account logins, checked with the TokenReview API and/or local keys.',
  create(): SecretEngine {
    return createKubernetesEngine();
  },
};
