// The scheduler: one queue of timed engine jobs for every mount (static-role password
// rotation today; cloud rotation schedules later). Jobs are persisted behind the barrier at
// sys/schedule/<mount uuid>/<name> and loaded on unseal, so a schedule survives restarts.
import type { Schedule } from '../sdk/engine.js';
import { CofferError, isCofferError } from '../sdk/errors.js';
import { isPlainObject } from '../sdk/json.js';
import { getJson, putJson, type Storage } from '../sdk/storage.js';

/** Backoff after a failed run: 5 s doubling, at most 10 minutes. */
export const SCHEDULE_RETRY_BASE_MS = 5_000;
export const SCHEDULE_RETRY_MAX_MS = 600_000;
const MAX_TIMER_DELAY_MS = 2_147_483_647;
const MAX_NAME_LENGTH = 512;

interface StoredJob {
  readonly dueAt: number;
  /** Failed runs since the engine last set the job itself. */
  readonly attempts: number;
}

interface Job extends StoredJob {
  readonly mountUuid: string;
  readonly name: string;
}

export interface SchedulerTimers {
  setTimeout(callback: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface SchedulerDeps {
  /** The barrier view sys/schedule/. */
  readonly storage: Storage;
  readonly now: () => number;
  /**
   * Runs a due job in its mount's engine. Resolves false when the mount (or its engine's
   * runScheduled) no longer exists: the job is dropped.
   */
  readonly run: (mountUuid: string, name: string) => Promise<boolean>;
  readonly timers?: SchedulerTimers;
  readonly logger?: { warn(obj: object, msg: string): void };
}

const SYSTEM_TIMERS: SchedulerTimers = {
  setTimeout(callback, delayMs) {
    const handle = setTimeout(callback, delayMs);
    handle.unref();
    return handle;
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

function jobKey(mountUuid: string, name: string): string {
  return `${mountUuid}/${encodeURIComponent(name)}`;
}

function checkName(name: string): void {
  if (name === '' || name.length > MAX_NAME_LENGTH) {
    throw new CofferError('internal', 'scheduler: a job name must be 1-512 characters');
  }
}

function isStoredJob(value: unknown): value is StoredJob {
  return (
    isPlainObject(value) &&
    Number.isSafeInteger(value['dueAt']) &&
    Number.isSafeInteger(value['attempts'])
  );
}

export class Scheduler {
  readonly #storage: Storage;
  readonly #now: () => number;
  readonly #run: SchedulerDeps['run'];
  readonly #timers: SchedulerTimers;
  readonly #logger: SchedulerDeps['logger'];
  /** Every job, by jobKey. Jobs are few (one per static role), so all are held. */
  readonly #jobs = new Map<string, Job>();
  /** Jobs running now: a job is not started twice, and a `set` during its run is kept. */
  readonly #running = new Set<string>();
  #timer: unknown;
  #open = false;
  #generation = 0;

  constructor(deps: SchedulerDeps) {
    this.#storage = deps.storage;
    this.#now = deps.now;
    this.#run = deps.run;
    this.#timers = deps.timers ?? SYSTEM_TIMERS;
    this.#logger = deps.logger;
  }

  /** Loads every stored job (after unseal) and arms the timer; overdue jobs run at once. */
  async open(): Promise<void> {
    this.#jobs.clear();
    for (const folder of await this.#storage.list('')) {
      if (!folder.endsWith('/')) continue;
      const mountUuid = folder.slice(0, -1);
      for (const entry of await this.#storage.list(folder)) {
        const stored = await getJson<unknown>(this.#storage, folder + entry);
        if (!isStoredJob(stored)) continue;
        const name = decodeURIComponent(entry);
        this.#jobs.set(jobKey(mountUuid, name), { ...stored, mountUuid, name });
      }
    }
    this.#open = true;
    this.#arm();
  }

  /** Stops running jobs (on seal); stored jobs stay. */
  close(): void {
    this.#open = false;
    this.#generation += 1;
    this.#clearTimer();
    this.#jobs.clear();
  }

  /** The Schedule an engine on one mount sees. */
  forMount(mountUuid: string): Schedule {
    return {
      set: (name, dueAt) => this.#set(mountUuid, name, dueAt, 0),
      cancel: (name) => this.#cancel(mountUuid, name),
      get: (name) => {
        checkName(name);
        return Promise.resolve(this.#jobs.get(jobKey(mountUuid, name))?.dueAt);
      },
    };
  }

  /** Drops every job of a mount (when it is disabled). */
  async dropMount(mountUuid: string): Promise<void> {
    for (const job of [...this.#jobs.values()]) {
      if (job.mountUuid === mountUuid) await this.#cancel(mountUuid, job.name);
    }
    for (const entry of await this.#storage.list(`${mountUuid}/`)) {
      await this.#storage.delete(`${mountUuid}/${entry}`);
    }
  }

  /** Jobs currently known, soonest first (sys endpoints and tests). */
  jobs(): readonly { mountUuid: string; name: string; dueAt: number; attempts: number }[] {
    return [...this.#jobs.values()].sort((a, b) => a.dueAt - b.dueAt);
  }

  async #set(mountUuid: string, name: string, dueAt: number, attempts: number): Promise<void> {
    checkName(name);
    if (!Number.isSafeInteger(dueAt) || dueAt < 0) {
      throw new CofferError('internal', 'scheduler: dueAt must be epoch ms');
    }
    const job: Job = { mountUuid, name, dueAt, attempts };
    await putJson(this.#storage, jobKey(mountUuid, name), { dueAt, attempts });
    this.#jobs.set(jobKey(mountUuid, name), job);
    this.#arm();
  }

  async #cancel(mountUuid: string, name: string): Promise<void> {
    checkName(name);
    this.#jobs.delete(jobKey(mountUuid, name));
    await this.#storage.delete(jobKey(mountUuid, name));
    this.#arm();
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    this.#clearTimer();
    if (!this.#open) return;
    let next: Job | undefined;
    for (const job of this.#jobs.values()) {
      if (this.#running.has(jobKey(job.mountUuid, job.name))) continue;
      if (next === undefined || job.dueAt < next.dueAt) next = job;
    }
    if (next === undefined) return;
    const delay = Math.min(Math.max(0, next.dueAt - this.#now()), MAX_TIMER_DELAY_MS);
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = undefined;
      void this.#tick();
    }, delay);
  }

  /** Runs every due job (each once, concurrently), then re-arms. */
  async #tick(): Promise<void> {
    const generation = this.#generation;
    const now = this.#now();
    const due = [...this.#jobs.values()].filter(
      (job) => job.dueAt <= now && !this.#running.has(jobKey(job.mountUuid, job.name)),
    );
    await Promise.all(due.map((job) => this.#runJob(job, generation)));
    if (generation === this.#generation) this.#arm();
  }

  async #runJob(job: Job, generation: number): Promise<void> {
    const key = jobKey(job.mountUuid, job.name);
    this.#running.add(key);
    try {
      // Out of memory for the run: the engine re-arms it with `set` (a periodic job always
      // does). SECURITY (crash safety): the stored entry stays until the run has ended, so a
      // process that dies mid-run finds the job again on the next unseal (at least once).
      this.#jobs.delete(key);
      let known: boolean;
      try {
        known = await this.#run(job.mountUuid, job.name);
      } catch (err) {
        if (generation !== this.#generation) return;
        const attempts = job.attempts + 1;
        const delay = Math.min(
          SCHEDULE_RETRY_BASE_MS * 2 ** Math.min(attempts - 1, 20),
          SCHEDULE_RETRY_MAX_MS,
        );
        // SECURITY: the error code only; an engine's message could name a statement.
        this.#logger?.warn(
          { job: job.name, attempts, error: isCofferError(err) ? err.code : 'error' },
          'scheduled job failed; retrying later',
        );
        // A time the engine set during the failed run wins over the backoff.
        if (!this.#jobs.has(key)) {
          await this.#set(job.mountUuid, job.name, this.#now() + delay, attempts);
        }
        return;
      }
      if (!known) this.#logger?.warn({ job: job.name }, 'scheduled job dropped: no such mount');
      // Done: the stored entry goes, unless the engine set a new time during the run.
      if (generation === this.#generation && !this.#jobs.has(key)) {
        await this.#storage.delete(key);
        // A `set` from elsewhere (a request) that landed during the delete is stored again.
        const again = this.#jobs.get(key);
        if (again !== undefined) {
          await putJson(this.#storage, key, { dueAt: again.dueAt, attempts: again.attempts });
        }
      }
    } finally {
      this.#running.delete(key);
    }
  }
}
