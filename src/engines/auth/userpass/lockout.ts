// User lockout for userpass (Vault's user lockout): after `threshold` failed logins for one
// canonical username within `counterResetSeconds` of each other, that name is refused for
// `durationSeconds` without running the password KDF. Counters live in storage, so they
// survive restarts and are shared by nodes on one store; names that are not users are counted
// the same way, so a lockout reveals nothing about which names exist.
import type { EngineContext } from '../../../sdk/engine.js';
import { invalidField } from '../../../sdk/errors.js';
import { isPlainObject } from '../../../sdk/json.js';
import { getJson, putJson, type Storage } from '../../../sdk/storage.js';
import { LOCKOUT_PREFIX, LOCKOUT_SWEEP_JOB, lockoutKey } from './keys.js';

export interface LockoutConfig {
  /** Failed logins that lock a name; 0 turns lockout off. */
  readonly threshold: number;
  readonly durationSeconds: number;
  /** A failure older than this no longer counts. */
  readonly counterResetSeconds: number;
}

/** Vault's defaults: 5 failures, 15 minutes locked, counter reset after 15 minutes. */
export const DEFAULT_LOCKOUT: LockoutConfig = Object.freeze({
  threshold: 5,
  durationSeconds: 900,
  counterResetSeconds: 900,
});

/** How often stale lockout records are swept from storage. */
const SWEEP_INTERVAL_MS = 3_600_000;

interface LockoutState {
  failures: number;
  /** Epoch ms. */
  lastFailureAt: number;
  /** Epoch ms; 0 = not locked. */
  lockedUntil: number;
}

export function checkLockoutConfig(config: LockoutConfig): LockoutConfig {
  if (!Number.isSafeInteger(config.threshold) || config.threshold < 0) {
    throw invalidField('lockout_threshold', 'must be a non-negative integer');
  }
  if (config.threshold > 0 && config.durationSeconds <= 0) {
    throw invalidField('lockout_duration', 'must be positive');
  }
  if (config.threshold > 0 && config.counterResetSeconds <= 0) {
    throw invalidField('lockout_counter_reset', 'must be positive');
  }
  return config;
}

function readState(value: unknown): LockoutState | undefined {
  if (!isPlainObject(value)) return undefined;
  const { failures, lastFailureAt, lockedUntil } = value;
  if (
    typeof failures !== 'number' ||
    typeof lastFailureAt !== 'number' ||
    typeof lockedUntil !== 'number'
  ) {
    return undefined;
  }
  return { failures, lastFailureAt, lockedUntil };
}

/**
 * Callers serialise calls per canonical name (check, KDF, record), or parallel attempts would
 * all pass the check before any failure is recorded.
 */
export class Lockout {
  readonly #config: LockoutConfig;

  constructor(config: LockoutConfig) {
    this.#config = checkLockoutConfig(config);
  }

  get enabled(): boolean {
    return this.#config.threshold > 0;
  }

  async #load(storage: Storage, canonical: string): Promise<LockoutState | undefined> {
    return readState(await getJson<unknown>(storage, lockoutKey(canonical)));
  }

  #stale(state: LockoutState, nowMs: number): boolean {
    const lockOver = state.lockedUntil === 0 || state.lockedUntil <= nowMs;
    return lockOver && nowMs - state.lastFailureAt >= this.#config.counterResetSeconds * 1000;
  }

  /** Whether the name is locked now. */
  async isLocked(storage: Storage, canonical: string, nowMs: number): Promise<boolean> {
    if (!this.enabled) return false;
    const state = await this.#load(storage, canonical);
    return state !== undefined && state.lockedUntil > nowMs;
  }

  /** Counts one failed login; locks the name when the threshold is reached. */
  async recordFailure(ctx: EngineContext, canonical: string): Promise<void> {
    if (!this.enabled) return;
    const nowMs = ctx.now();
    let state = await this.#load(ctx.storage, canonical);
    const expiredLock =
      state !== undefined && state.lockedUntil !== 0 && state.lockedUntil <= nowMs;
    if (state === undefined || expiredLock || this.#stale(state, nowMs)) {
      state = { failures: 0, lastFailureAt: nowMs, lockedUntil: 0 };
    }
    state.failures += 1;
    state.lastFailureAt = nowMs;
    if (state.failures >= this.#config.threshold) {
      state.lockedUntil = nowMs + this.#config.durationSeconds * 1000;
    }
    await putJson(ctx.storage, lockoutKey(canonical), state);
    if ((await ctx.schedule.get(LOCKOUT_SWEEP_JOB)) === undefined) {
      await ctx.schedule.set(LOCKOUT_SWEEP_JOB, nowMs + SWEEP_INTERVAL_MS);
    }
  }

  /** Forgets the failures of a name (a successful login, or the user deleted). */
  async clear(storage: Storage, canonical: string): Promise<void> {
    if ((await storage.get(lockoutKey(canonical))) !== undefined) {
      await storage.delete(lockoutKey(canonical));
    }
  }

  /** Drops records whose lock and counter windows have passed; re-arms while any remain. */
  async sweep(ctx: EngineContext): Promise<number> {
    const nowMs = ctx.now();
    let dropped = 0;
    let left = 0;
    for (const name of await ctx.storage.list(LOCKOUT_PREFIX)) {
      const key = `${LOCKOUT_PREFIX}${name}`;
      const state = readState(await getJson<unknown>(ctx.storage, key));
      if (state === undefined || this.#stale(state, nowMs)) {
        await ctx.storage.delete(key);
        dropped += 1;
      } else {
        left += 1;
      }
    }
    if (left > 0) await ctx.schedule.set(LOCKOUT_SWEEP_JOB, nowMs + SWEEP_INTERVAL_MS);
    return dropped;
  }
}
