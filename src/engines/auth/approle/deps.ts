// What the approle paths of one mount share: the login rate limiter and the in-process locks.
// Built once per mount by the engine.
import type { KeyedMutex } from '../keyed-mutex.js';
import type { LoginRateLimiter } from '../rate-limit.js';

export interface AppRoleDeps {
  readonly limiter: LoginRateLimiter;
  /**
   * Lock keys: `role:<name>` (a role's writes, deletion and secret-ID issue), `role-ids` (the
   * role-ID index, taken inside a role lock), `sid:<role uuid>/<hmac>` (one secret ID's use
   * count), `hmac-key` (creating the mount's key).
   */
  readonly mutex: KeyedMutex;
}
