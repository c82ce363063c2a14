// List, then watch from the list's resourceVersion with bookmarks: a small informer. It keeps a
// cache of the objects by namespace/name, reports add/update/delete, moves its resourceVersion
// forward on BOOKMARK events, relists on 410 Gone (the history it asked for is compacted; a
// relist reports what vanished meanwhile as deletes), and reconnects after a dropped watch with
// bounded backoff. client-node's own informer never asks for bookmarks and stops on errors.
import { Watch } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import { describeApiError, statusOf } from './kube.js';

export interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly uid?: string;
    readonly resourceVersion?: string;
    readonly generation?: number;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly ownerReferences?: readonly {
      readonly apiVersion: string;
      readonly kind: string;
      readonly name: string;
      readonly uid: string;
      readonly controller?: boolean;
    }[];
    readonly finalizers?: readonly string[];
    readonly deletionTimestamp?: string | Date;
  };
}

export interface ListResult<T> {
  readonly items: readonly T[];
  readonly metadata?: { readonly resourceVersion?: string };
}

export type WatchEvent = 'add' | 'update' | 'delete';

export interface ListWatchOptions<T extends KubeObject> {
  readonly config: KubeConfig;
  /** The collection path, e.g. "/apis/coffer.dev/v1alpha1/coffersecrets". */
  readonly path: string;
  readonly list: () => Promise<ListResult<T>>;
  readonly labelSelector?: string;
  readonly onEvent: (event: WatchEvent, object: T) => void;
  /** After each (re)list: the cache is complete. */
  readonly onSynced?: () => void;
  readonly log: (line: string) => void;
  /** Server-side watch timeout; the watch is reopened from the last resourceVersion. Default 300. */
  readonly timeoutSeconds?: number;
}

export function keyOf(object: KubeObject): string {
  return `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
}

const MIN_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 30_000;

export class ListWatch<T extends KubeObject> {
  readonly #o: ListWatchOptions<T>;
  readonly #cache = new Map<string, T>();
  #resourceVersion = '';
  #abort: AbortController | undefined;
  #stopped = false;
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;
  /** How many times the collection was listed (tests check restarts and 410 handling). */
  lists = 0;

  constructor(options: ListWatchOptions<T>) {
    this.#o = options;
  }

  get(key: string): T | undefined {
    return this.#cache.get(key);
  }

  values(): T[] {
    return [...this.#cache.values()];
  }

  get resourceVersion(): string {
    return this.#resourceVersion;
  }

  /** Lists, then watches; resolves after the first list (rejects if it fails). */
  async start(): Promise<void> {
    await this.#relist();
    this.#watch();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#abort?.abort();
  }

  async #relist(): Promise<void> {
    const result = await this.#o.list();
    this.lists += 1;
    const seen = new Set<string>();
    for (const item of result.items) {
      const key = keyOf(item);
      seen.add(key);
      this.#apply('ADDED', item);
    }
    for (const [key, old] of [...this.#cache]) {
      if (seen.has(key)) continue;
      this.#cache.delete(key);
      this.#o.onEvent('delete', old);
    }
    this.#resourceVersion = result.metadata?.resourceVersion ?? '';
    this.#o.onSynced?.();
  }

  #apply(type: string, object: T): void {
    const key = keyOf(object);
    if (type === 'DELETED') {
      this.#cache.delete(key);
      this.#o.onEvent('delete', object);
      return;
    }
    const old = this.#cache.get(key);
    this.#cache.set(key, object);
    if (old === undefined) this.#o.onEvent('add', object);
    else if (old.metadata?.resourceVersion !== object.metadata?.resourceVersion) {
      this.#o.onEvent('update', object);
    }
  }

  #watch(): void {
    if (this.#stopped) return;
    let gone = false;
    const query: Record<string, string | number | boolean> = {
      resourceVersion: this.#resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds: this.#o.timeoutSeconds ?? 300,
    };
    if (this.#o.labelSelector !== undefined) query['labelSelector'] = this.#o.labelSelector;
    const onEvent = (type: string, object: unknown) => {
      const obj = object as T & { code?: unknown };
      if (type === 'BOOKMARK') {
        const rv = obj.metadata?.resourceVersion;
        if (rv !== undefined && rv !== '') this.#resourceVersion = rv;
        return;
      }
      if (type === 'ERROR') {
        if (obj.code === 410) gone = true;
        return;
      }
      this.#failures = 0;
      this.#apply(type, obj);
      const rv = obj.metadata?.resourceVersion;
      if (rv !== undefined && rv !== '') this.#resourceVersion = rv;
    };
    const done = (error: unknown) => {
      this.#abort = undefined;
      if (this.#stopped) return;
      if (statusOf(error) === 410) gone = true;
      if (error !== null && error !== undefined && !gone) {
        this.#failures += 1;
        this.#o.log(`watch of ${this.#o.path} failed: ${describeApiError(error)}`);
      }
      const delay = gone
        ? 0
        : error === null || error === undefined
          ? 0
          : Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** Math.min(this.#failures, 10));
      this.#timer = setTimeout(() => {
        void this.#restart(gone);
      }, delay);
    };
    new Watch(this.#o.config)
      .watch(this.#o.path, query, onEvent, done)
      .then((abort) => {
        if (this.#stopped) abort.abort();
        else this.#abort = abort;
      })
      .catch(done);
  }

  async #restart(relist: boolean): Promise<void> {
    if (this.#stopped) return;
    if (relist) {
      this.#o.log(`the watch of ${this.#o.path} expired (410); listing again`);
      try {
        await this.#relist();
      } catch (error) {
        this.#failures += 1;
        this.#o.log(`list of ${this.#o.path} failed: ${describeApiError(error)}`);
        this.#timer = setTimeout(
          () => {
            void this.#restart(true);
          },
          Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** Math.min(this.#failures, 10)),
        );
        return;
      }
    }
    this.#watch();
  }
}
