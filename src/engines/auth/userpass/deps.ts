// What the userpass paths of one mount share: the hasher, the lockout policy, the login rate
// limiter and the per-user mutex. Built once per mount by the engine.
import type { KeyedMutex } from '../keyed-mutex.js';
import type { LoginRateLimiter } from '../rate-limit.js';
import type { PasswordHasher } from './hasher.js';
import type { Lockout } from './lockout.js';

export interface UserpassDeps {
  readonly hasher: PasswordHasher;
  readonly lockout: Lockout;
  readonly limiter: LoginRateLimiter;
  /** Serialises writes and logins per canonical username (key `user:<name>`). */
  readonly mutex: KeyedMutex;
}
