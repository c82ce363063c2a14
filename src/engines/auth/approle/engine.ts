// The approle auth method (type "approle"): machine logins with a role ID and a secret ID.
// Assembled from its paths; the login rate limit comes from the mount's options.
import type { EngineContext, EngineFactory, MountInfo, SecretEngine } from '../../../sdk/engine.js';
import { invalidField } from '../../../sdk/errors.js';
import { createPathEngine } from '../../../sdk/path.js';
import { KeyedMutex } from '../keyed-mutex.js';
import { pathRoleList } from '../record-paths.js';
import {
  LoginRateLimiter,
  RATE_LIMIT_OPTIONS,
  rateLimitFromOptions,
  type RateLimitConfig,
} from '../rate-limit.js';
import type { AppRoleDeps } from './deps.js';
import { ROLE_PREFIX, TIDY_JOB } from './keys.js';
import { pathLogin } from './path-login.js';
import { pathRole, pathRoleId } from './path-role.js';
import { pathCustomSecretId, pathSecretId, pathSecretIdActions } from './path-secret-id.js';
import { pathTidy, runTidyJob } from './path-tidy.js';

/**
 * 100 attempts at once, then 20 a second, per client address (IPv6: per /64): machines log in
 * more often than people, and fleets behind one NAT share an address.
 */
export const DEFAULT_APPROLE_RATE_LIMIT: RateLimitConfig = Object.freeze({
  burst: 100,
  perSecond: 20,
});

const OPTION_KEYS: readonly string[] = [...RATE_LIMIT_OPTIONS];

/** Validates approle mount options: only `login_rate_burst` and `login_rate_per_second`. */
export function approleRateLimit(options: Readonly<Record<string, string>>): RateLimitConfig {
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.includes(key)) {
      throw invalidField(`options.${key}`, 'unknown option for approle');
    }
  }
  return rateLimitFromOptions(options, DEFAULT_APPROLE_RATE_LIMIT);
}

export interface AppRoleEngineOptions {
  readonly rateLimit?: RateLimitConfig;
}

export function createAppRoleEngine(options: AppRoleEngineOptions = {}): SecretEngine {
  const deps: AppRoleDeps = {
    limiter: new LoginRateLimiter(options.rateLimit ?? DEFAULT_APPROLE_RATE_LIMIT),
    mutex: new KeyedMutex(),
  };
  const paths = createPathEngine([
    pathLogin(deps),
    pathRoleList(ROLE_PREFIX),
    pathRoleId(deps),
    pathSecretId(deps),
    pathCustomSecretId(deps),
    ...pathSecretIdActions(deps),
    pathRole(deps),
    pathTidy(deps),
  ]);
  return {
    ...paths,
    unauthenticatedPaths: ['login'],
    async runScheduled(ctx: EngineContext, name: string): Promise<void> {
      if (name === TIDY_JOB) await runTidyJob(ctx, deps);
    },
  };
}

export const approleAuthFactory: EngineFactory = {
  type: 'approle',
  category: 'auth',
  description: 'Machine logins with a role ID and a secret ID; secret IDs are stored as HMACs.',
  normaliseOptions(options) {
    approleRateLimit(options);
    return { ...options };
  },
  create(mount: MountInfo): SecretEngine {
    return createAppRoleEngine({ rateLimit: approleRateLimit(mount.options) });
  },
};
