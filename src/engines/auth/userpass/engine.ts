// The userpass auth method (type "userpass"): users with argon2id-hashed passwords, logging in
// at `login/:username`. Assembled from its paths; lockout and rate-limit settings come from the
// mount's options.
import { parseDurationSeconds } from '../../../sdk/duration.js';
import type { EngineContext, EngineFactory, MountInfo, SecretEngine } from '../../../sdk/engine.js';
import { invalidField } from '../../../sdk/errors.js';
import { createPathEngine } from '../../../sdk/path.js';
import { KeyedMutex } from '../keyed-mutex.js';
import {
  LoginRateLimiter,
  RATE_LIMIT_OPTIONS,
  rateLimitFromOptions,
  type RateLimitConfig,
} from '../rate-limit.js';
import type { UserpassDeps } from './deps.js';
import { argon2Hasher, type PasswordHasher } from './hasher.js';
import { LOCKOUT_SWEEP_JOB } from './keys.js';
import { checkLockoutConfig, DEFAULT_LOCKOUT, Lockout, type LockoutConfig } from './lockout.js';
import { pathLogin } from './path-login.js';
import { pathUser, pathUserPassword, pathUserPolicies, pathUsersList } from './path-users.js';

/** 20 attempts at once, then 5 a second, per client address (IPv6: per /64). */
export const DEFAULT_USERPASS_RATE_LIMIT: RateLimitConfig = Object.freeze({
  burst: 20,
  perSecond: 5,
});

const LOCKOUT_OPTIONS = ['lockout_threshold', 'lockout_duration', 'lockout_counter_reset'] as const;
const OPTION_KEYS: readonly string[] = [...LOCKOUT_OPTIONS, ...RATE_LIMIT_OPTIONS];

export interface UserpassSettings {
  readonly lockout: LockoutConfig;
  readonly rateLimit: RateLimitConfig;
}

/**
 * Validates userpass mount options: `lockout_threshold` (integer, 0 = off),
 * `lockout_duration` and `lockout_counter_reset` (durations), `login_rate_burst` and
 * `login_rate_per_second` (0 = off). Missing ones take the defaults.
 */
export function userpassSettings(options: Readonly<Record<string, string>>): UserpassSettings {
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.includes(key)) {
      throw invalidField(`options.${key}`, 'unknown option for userpass');
    }
  }
  const threshold = options['lockout_threshold'];
  if (threshold !== undefined && !/^\d+$/.test(threshold.trim())) {
    throw invalidField('options.lockout_threshold', 'must be a non-negative integer');
  }
  const duration = options['lockout_duration'];
  const reset = options['lockout_counter_reset'];
  const lockout = checkLockoutConfig({
    threshold: threshold === undefined ? DEFAULT_LOCKOUT.threshold : Number(threshold.trim()),
    durationSeconds:
      duration === undefined
        ? DEFAULT_LOCKOUT.durationSeconds
        : parseDurationSeconds(duration, 'options.lockout_duration'),
    counterResetSeconds:
      reset === undefined
        ? DEFAULT_LOCKOUT.counterResetSeconds
        : parseDurationSeconds(reset, 'options.lockout_counter_reset'),
  });
  return { lockout, rateLimit: rateLimitFromOptions(options, DEFAULT_USERPASS_RATE_LIMIT) };
}

export interface UserpassEngineOptions extends Partial<UserpassSettings> {
  /** Defaults to argon2id at the OWASP minimum; tests inject a counting one. */
  readonly hasher?: PasswordHasher;
}

/** A userpass engine; settings not given take the defaults. */
export function createUserpassEngine(options: UserpassEngineOptions = {}): SecretEngine {
  const hasher = options.hasher ?? argon2Hasher();
  const deps: UserpassDeps = {
    hasher,
    lockout: new Lockout(options.lockout ?? DEFAULT_LOCKOUT),
    limiter: new LoginRateLimiter(options.rateLimit ?? DEFAULT_USERPASS_RATE_LIMIT),
    mutex: new KeyedMutex(),
  };
  // Computed now, so the first login for an unknown user costs no more than any other.
  hasher.dummyHash().catch(() => undefined);
  const paths = createPathEngine([
    pathLogin(deps),
    pathUsersList(),
    pathUserPassword(deps),
    pathUserPolicies(deps),
    pathUser(deps),
  ]);
  return {
    ...paths,
    unauthenticatedPaths: ['login/*'],
    async runScheduled(ctx: EngineContext, name: string): Promise<void> {
      if (name === LOCKOUT_SWEEP_JOB) await deps.lockout.sweep(ctx);
    },
  };
}

export const userpassAuthFactory: EngineFactory = {
  type: 'userpass',
  category: 'auth',
  description: 'Username and password logins; passwords are stored as argon2id hashes.',
  normaliseOptions(options) {
    userpassSettings(options);
    return { ...options };
  },
  create(mount: MountInfo): SecretEngine {
    return createUserpassEngine(userpassSettings(mount.options));
  },
};
