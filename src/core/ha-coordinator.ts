// HA leadership for several nodes on one store: contends for the fenced leader lease while
// unsealed, renews it, activates the core on winning and demotes it on losing (deposed, lost
// storage, step-down, seal). The fence itself lives in the storage backend; this loop only
// decides when the core may run.
import type { FencedHaBackend, LeaderRecord } from '../physical/physical.js';

/** What the coordinator drives in the core. */
export interface HaCore {
  /** Unsealed and waiting for the lease (or active). */
  readonly isStandby: boolean;
  readonly isSealed: boolean;
  activate(): Promise<void>;
  deactivate(): Promise<void>;
}

export interface HaCoordinatorOptions {
  readonly backend: FencedHaBackend;
  readonly core: HaCore;
  /** This process's random id in the lease row. */
  readonly holderId: string;
  /** api_addr: where other nodes forward or redirect. */
  readonly apiAddr: string;
  readonly clusterAddr?: string | undefined;
  /** Lease length on the database clock. Default 2500. */
  readonly leaseTtlMs?: number;
  /** How often the leader renews and standbys try. Default 500. */
  readonly intervalMs?: number;
  /** After a step-down, how long this node leaves the lease to others. Default 2 × TTL. */
  readonly stepDownHoldOffMs?: number;
  readonly now: () => number;
  readonly logger?: {
    info(obj: object, msg: string): void;
    warn(obj: object, msg: string): void;
  };
}

export interface HaStatus {
  readonly isSelf: boolean;
  /** The active node's api_addr, '' when none is known. */
  readonly leaderAddress: string;
  readonly leaderClusterAddress: string;
  /** When the current leadership began, epoch ms; undefined when none. */
  readonly activeSince: number | undefined;
}

const NOTIFY_RELEASED = 'released';
const NOTIFY_ACQUIRED = 'acquired';

export class HaCoordinator {
  readonly #backend: FencedHaBackend;
  readonly #core: HaCore;
  readonly #holderId: string;
  readonly #apiAddr: string;
  readonly #clusterAddr: string;
  readonly #ttlMs: number;
  readonly #intervalMs: number;
  readonly #holdOffMs: number;
  readonly #now: () => number;
  readonly #logger: HaCoordinatorOptions['logger'];
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #ticking: Promise<void> | undefined;
  #wakeAgain = false;
  /** Our epoch while we hold the lease. */
  #epoch: string | undefined;
  /** Local time the last successful renewal (or acquisition) was sent. */
  #renewedAt = 0;
  #activeSince: number | undefined;
  /** True between winning the lease and the core finishing activation. */
  #activating = false;
  #holdOffUntil = 0;
  #leader: LeaderRecord | undefined;
  #stopListening: (() => void) | undefined;

  constructor(options: HaCoordinatorOptions) {
    this.#backend = options.backend;
    this.#core = options.core;
    this.#holderId = options.holderId;
    this.#apiAddr = options.apiAddr;
    this.#clusterAddr = options.clusterAddr ?? '';
    this.#ttlMs = options.leaseTtlMs ?? 2500;
    this.#intervalMs = options.intervalMs ?? 500;
    this.#holdOffMs = options.stepDownHoldOffMs ?? 2 * this.#ttlMs;
    this.#now = options.now;
    this.#logger = options.logger;
  }

  get isActive(): boolean {
    return this.#epoch !== undefined;
  }

  /** Starts the loop; standbys also wake on the other nodes' NOTIFY. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#stopListening = this.#backend.onNotify(() => {
      this.wake();
    });
    this.#schedule();
  }

  /** Runs a round now (after unseal, a NOTIFY, a step-down elsewhere). */
  wake(): void {
    if (!this.#running) return;
    if (this.#ticking !== undefined) {
      this.#wakeAgain = true;
      return;
    }
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#ticking = this.#tick().finally(() => {
      this.#ticking = undefined;
      if (this.#wakeAgain) {
        this.#wakeAgain = false;
        this.wake();
      } else this.#schedule();
    });
  }

  #schedule(): void {
    if (!this.#running || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.wake();
    }, this.#intervalMs);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    try {
      if (this.#epoch !== undefined) await this.#renew();
      else await this.#contend();
    } catch (err) {
      this.#logger?.warn({ err: errorCode(err) }, 'HA round failed');
    }
  }

  async #renew(): Promise<void> {
    const epoch = this.#epoch!;
    if (this.#core.isSealed && !this.#core.isStandby) {
      // Sealed by an operator: give the lease up at once.
      await this.#demote('sealed', true);
      return;
    }
    const sentAt = this.#now();
    let renewed: boolean | undefined;
    try {
      renewed = await this.#backend.renewLeadership(this.#holderId, epoch, this.#ttlMs);
    } catch {
      renewed = undefined;
    }
    if (this.#epoch !== epoch) return;
    if (renewed === true) {
      this.#renewedAt = sentAt;
    } else if (renewed === false) {
      await this.#demote('another node holds the lease (deposed)', false);
    } else if (this.#now() - this.#renewedAt >= this.#ttlMs) {
      // SECURITY: without storage we cannot know whether the lease is still ours; the fence
      // would refuse our writes anyway, but stop serving too.
      await this.#demote('lost contact with storage for longer than the lease', false);
    }
  }

  async #contend(): Promise<void> {
    if (!this.#core.isStandby) {
      this.#leader = undefined;
      return;
    }
    if (this.#now() < this.#holdOffUntil) {
      await this.#refreshLeader();
      return;
    }
    const sentAt = this.#now();
    const epoch = await this.#backend.tryAcquireLeadership(
      this.#holderId,
      this.#apiAddr,
      this.#ttlMs,
    );
    if (epoch === undefined) {
      await this.#refreshLeader();
      return;
    }
    // SECURITY: the fence goes up before the core can write anything.
    this.#backend.setFence({ epoch });
    this.#epoch = epoch;
    this.#renewedAt = sentAt;
    this.#activeSince = this.#now();
    this.#leader = {
      holder: this.#holderId,
      address: this.#apiAddr,
      epoch,
      acquiredAt: this.#activeSince,
    };
    this.#logger?.info({ epoch }, 'HA: acquired the leader lease; becoming active');
    this.#activating = true;
    try {
      await this.#core.activate();
    } catch (err) {
      this.#logger?.warn({ err: errorCode(err) }, 'HA: activation failed; stepping down');
      await this.#demote('activation failed', true);
      return;
    } finally {
      this.#activating = false;
    }
    void this.#backend.notify(NOTIFY_ACQUIRED).catch(() => undefined);
  }

  async #refreshLeader(): Promise<void> {
    try {
      this.#leader = await this.#backend.readLeader();
    } catch {
      this.#leader = undefined;
    }
  }

  async #demote(why: string, release: boolean): Promise<void> {
    const epoch = this.#epoch;
    if (epoch === undefined) return;
    this.#epoch = undefined;
    this.#activeSince = undefined;
    this.#leader = undefined;
    this.#backend.setFence('standby');
    this.#logger?.warn({ reason: why }, 'HA: no longer the active node');
    await this.#core.deactivate().catch(() => undefined);
    if (release) {
      await this.#backend.releaseLeadership(this.#holderId, epoch).catch(() => undefined);
      void this.#backend.notify(NOTIFY_RELEASED).catch(() => undefined);
    }
  }

  /** `sys/step-down`: release the lease and leave it to another node for a while. */
  async stepDown(): Promise<void> {
    if (this.#epoch === undefined) return;
    this.#holdOffUntil = this.#now() + this.#holdOffMs;
    await this.#waitRound();
    await this.#demote('step-down requested', true);
  }

  /** Waits for a running round, so a demotion never interleaves with one. */
  async #waitRound(): Promise<void> {
    while (this.#ticking !== undefined) await this.#ticking;
  }

  /**
   * Like status(), but a standby that knows no leader yet (just unsealed, or between rounds)
   * asks the database first.
   */
  async currentStatus(): Promise<HaStatus> {
    if (this.#epoch === undefined && !this.#activating && this.#leader === undefined) {
      await this.#refreshLeader();
    }
    return this.status();
  }

  /** For sys/leader and the standbys' forwarding. */
  status(): HaStatus {
    if (this.#activating) {
      // Neither serving nor able to name another leader yet: callers retry shortly.
      return { isSelf: false, leaderAddress: '', leaderClusterAddress: '', activeSince: undefined };
    }
    if (this.#epoch !== undefined) {
      return {
        isSelf: true,
        leaderAddress: this.#apiAddr,
        leaderClusterAddress: this.#clusterAddr,
        activeSince: this.#activeSince,
      };
    }
    const leader = this.#leader;
    return {
      isSelf: false,
      leaderAddress: leader?.address ?? '',
      leaderClusterAddress: '',
      activeSince: leader?.acquiredAt,
    };
  }

  /** Stops the loop; releases the lease (graceful shutdown: the next node takes over now). */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#stopListening?.();
    await this.#waitRound();
    await this.#demote('shutting down', true);
  }
}

function errorCode(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err) return String(err.code);
  return 'error';
}
