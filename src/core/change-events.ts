// Secret-change events: the core publishes one after every successful write, patch or delete
// through an engine mount, and subscribers (the server-sent event stream behind `coffer run
// --watch` and the agent) receive them. Events carry the path and version, never values.
import type { Operation } from '../sdk/engine.js';

export interface ChangeEvent {
  /** Sequence number, increasing per server process (the SSE `id`). */
  readonly seq: number;
  /** Full logical path written, e.g. "secret/data/app". */
  readonly path: string;
  /**
   * Full logical path whose read shows the secret changed (KV v2 `secret/delete/app` →
   * `secret/data/app`). SECURITY: subscribers see the event only if they may read it.
   */
  readonly readPath: string;
  /** The mount that served it, e.g. "secret/". */
  readonly mount: string;
  readonly operation: Exclude<Operation, 'read' | 'list'>;
  /** The KV v2 version written, when the engine said. */
  readonly version?: number;
  /** Epoch ms. */
  readonly time: number;
  /** Engine-announced events: the door's event type, e.g. Google's "SECRET_ROTATE". */
  readonly eventType?: string;
  /** Engine-announced events: the door's name of the secret. */
  readonly secretId?: string;
}

export type ChangeListener = (event: ChangeEvent) => void;

/** In-process fan-out. Listeners run synchronously and must not throw (failures are dropped). */
export class ChangeBus {
  readonly #listeners = new Set<ChangeListener>();
  #seq = 0;

  subscribe(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  get subscriberCount(): number {
    return this.#listeners.size;
  }

  publish(event: Omit<ChangeEvent, 'seq'>): void {
    if (this.#listeners.size === 0) return;
    this.#seq += 1;
    const full: ChangeEvent = Object.freeze({ ...event, seq: this.#seq });
    for (const listener of this.#listeners) {
      try {
        listener(full);
      } catch {
        // One failing subscriber does not stop the others or the write.
      }
    }
  }
}
