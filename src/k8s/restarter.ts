// Rollout restarts on secret change: the pod template of a Deployment, StatefulSet or DaemonSet
// gets an annotation holding the Secret's HMAC, so the controller rolls it exactly when the
// value differs (a restarted operator writing the same HMAC changes nothing, and GitOps tools
// see a stable value between real changes). Per workload, changes are debounced and at most one
// restart happens per interval: a burst of changes is one restart with the last value.
import type { WorkloadKind } from './crd.js';

/** `coffer.dev/restart-<resource>`: one annotation per CofferSecret that restarts the workload. */
export function restartAnnotation(resourceName: string): string {
  const name = `restart-${resourceName}`;
  return `coffer.dev/${name.length <= 63 ? name : name.slice(0, 63).replace(/[-.]+$/, '')}`;
}

export interface RestartTarget {
  readonly namespace: string;
  readonly kind: WorkloadKind;
  readonly name: string;
}

export interface RestarterOptions {
  /** Sets the annotation (a merge patch); resolves with false when it was already that value. */
  readonly apply: (target: RestartTarget, annotation: string, value: string) => Promise<boolean>;
  /** At most one restart per workload in this window. */
  readonly intervalMs: number;
  /** Changes this close together are one restart. */
  readonly debounceMs: number;
  readonly log: (line: string) => void;
  readonly now?: () => number;
}

interface Pending {
  annotation: string;
  value: string;
  timer: NodeJS.Timeout | undefined;
  lastRestart: number;
}

export class Restarter {
  readonly #o: RestarterOptions;
  readonly #now: () => number;
  readonly #workloads = new Map<string, Pending>();
  #closed = false;
  /** Restarts that changed a workload (tests and logs). */
  restarts = 0;

  constructor(options: RestarterOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** Asks for `target` to run with `value` in `annotation`; the restart follows the rules above. */
  request(target: RestartTarget, annotation: string, value: string): void {
    if (this.#closed) return;
    const key = `${target.namespace}/${target.kind}/${target.name}/${annotation}`;
    const entry = this.#workloads.get(key) ?? {
      annotation,
      value,
      timer: undefined,
      lastRestart: Number.NEGATIVE_INFINITY,
    };
    entry.value = value;
    this.#workloads.set(key, entry);
    if (entry.timer !== undefined) return;
    const earliest = entry.lastRestart + this.#o.intervalMs;
    const delay = Math.max(this.#o.debounceMs, earliest - this.#now());
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      void this.#fire(target, entry);
    }, delay);
  }

  async #fire(target: RestartTarget, entry: Pending): Promise<void> {
    if (this.#closed) return;
    try {
      const changed = await this.#o.apply(target, entry.annotation, entry.value);
      if (changed) {
        entry.lastRestart = this.#now();
        this.restarts += 1;
        this.#o.log(`restarted ${target.kind} ${target.namespace}/${target.name}`);
      }
    } catch (error) {
      this.#o.log(
        `cannot restart ${target.kind} ${target.namespace}/${target.name}: ${(error as Error).message}`,
      );
    }
  }

  close(): void {
    this.#closed = true;
    for (const entry of this.#workloads.values()) clearTimeout(entry.timer);
  }
}
