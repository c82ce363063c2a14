// Keeping leased secrets alive while a program uses them: renew each lease at 2/3 of its TTL,
// and say when one cannot be kept any longer (not renewable, max TTL reached, renewal refused),
// early enough for the caller to read fresh values before the old ones expire.
import type { CofferClient } from './client.js';
import { ConnectionError } from './errors.js';
import type { SecretLease } from './resolve.js';

/** Fraction of a TTL after which a lease is renewed (or, when it cannot be, replaced). */
export const RENEW_AT_FRACTION = 2 / 3;
/** Delay between renewal attempts while the server cannot be reached. */
const RETRY_MS = 5_000;

export interface LeaseKeeperOptions {
  /** The client renewals go through, or a function giving the current one (after a re-login). */
  readonly client: CofferClient | (() => CofferClient);
  /**
   * The lease will expire and cannot be renewed: re-read the secret now. Called once per lease,
   * about 2/3 into its last TTL (at once if the server refused a renewal).
   */
  readonly onExhausted: (lease: SecretLease) => void;
  /** A renewal failed in a way that is retried; for logging. */
  readonly onError?: (error: Error, lease: SecretLease) => void;
  /** A renewal succeeded; `grantedSeconds` is the TTL the server gave. */
  readonly onRenewed?: (lease: SecretLease, grantedSeconds: number) => void;
  /** Epoch ms; injected for tests. */
  readonly now?: () => number;
}

interface Tracked {
  readonly lease: SecretLease;
  timer: NodeJS.Timeout | undefined;
  /** Epoch ms the lease runs out if nothing more happens. */
  expiresAt: number;
  done: boolean;
}

export class LeaseKeeper {
  readonly #options: LeaseKeeperOptions;
  readonly #now: () => number;
  #tracked = new Map<string, Tracked>();
  #closed = false;

  constructor(options: LeaseKeeperOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Replaces the tracked set with `leases` (leases without a TTL need no care). A lease already
   * tracked keeps its state (next renewal, expiry, exhausted or not): its `leaseDurationSeconds`
   * is from when it was read, not from now.
   */
  track(leases: readonly SecretLease[]): void {
    const previous = this.#tracked;
    this.#tracked = new Map();
    if (!this.#closed) {
      for (const lease of leases) {
        const kept = previous.get(lease.leaseId);
        if (kept === undefined) continue;
        previous.delete(lease.leaseId);
        this.#tracked.set(lease.leaseId, kept);
      }
    }
    for (const dropped of previous.values()) {
      dropped.done = true;
      clearTimeout(dropped.timer);
    }
    if (this.#closed) return;
    for (const lease of leases) {
      if (lease.leaseDurationSeconds <= 0 || this.#tracked.has(lease.leaseId)) continue;
      const tracked: Tracked = {
        lease,
        timer: undefined,
        expiresAt: this.#now() + lease.leaseDurationSeconds * 1000,
        done: false,
      };
      this.#tracked.set(lease.leaseId, tracked);
      const dueMs = lease.leaseDurationSeconds * 1000 * RENEW_AT_FRACTION;
      if (lease.renewable) this.#schedule(tracked, dueMs, () => this.#renew(tracked));
      else {
        this.#schedule(tracked, dueMs, () => {
          this.#exhaust(tracked);
        });
      }
    }
  }

  /** Whether `leaseId` is tracked and still being renewed (not exhausted, not expired). */
  isKept(leaseId: string): boolean {
    const tracked = this.#tracked.get(leaseId);
    return tracked !== undefined && !tracked.done && tracked.expiresAt > this.#now();
  }

  /** How many leases are being kept (for tests and status lines). */
  get size(): number {
    return this.#tracked.size;
  }

  close(): void {
    this.#closed = true;
    this.#clear();
  }

  #clear(): void {
    for (const tracked of this.#tracked.values()) {
      tracked.done = true;
      clearTimeout(tracked.timer);
    }
    this.#tracked = new Map();
  }

  #schedule(tracked: Tracked, delayMs: number, action: () => void | Promise<void>): void {
    clearTimeout(tracked.timer);
    tracked.timer = setTimeout(
      () => {
        if (!tracked.done) void action();
      },
      Math.max(0, Math.round(delayMs)),
    );
  }

  #exhaust(tracked: Tracked): void {
    if (tracked.done) return;
    tracked.done = true;
    clearTimeout(tracked.timer);
    this.#options.onExhausted(tracked.lease);
  }

  async #renew(tracked: Tracked): Promise<void> {
    const requested = tracked.lease.leaseDurationSeconds;
    try {
      const client = this.#options.client;
      const current = typeof client === 'function' ? client() : client;
      const renewal = await current.renewLease(tracked.lease.leaseId, requested);
      if (tracked.done) return;
      const granted = renewal.leaseDurationSeconds;
      tracked.expiresAt = this.#now() + granted * 1000;
      this.#options.onRenewed?.(tracked.lease, granted);
      const dueMs = granted * 1000 * RENEW_AT_FRACTION;
      // Less than asked means the max TTL caps it: this is the lease's last stretch.
      if (granted <= 0) this.#exhaust(tracked);
      else if (granted < requested || !renewal.renewable) {
        this.#schedule(tracked, dueMs, () => {
          this.#exhaust(tracked);
        });
      } else this.#schedule(tracked, dueMs, () => this.#renew(tracked));
    } catch (error) {
      if (tracked.done) return;
      if (!(error instanceof ConnectionError)) {
        // Refused (expired, revoked, not renewable after all): the values must be replaced.
        this.#exhaust(tracked);
        return;
      }
      this.#options.onError?.(error, tracked.lease);
      const leftMs = tracked.expiresAt - this.#now();
      if (leftMs <= 0) this.#exhaust(tracked);
      else this.#schedule(tracked, Math.min(RETRY_MS, leftMs / 3), () => this.#renew(tracked));
    }
  }
}
