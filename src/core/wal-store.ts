// Write-ahead entries for engines' changes outside Coffer: an engine writes one before it
// creates a database user, and the entry is deleted once the user's lease is registered.
// Entries that outlive their request (a crash, a failed registration) are rolled back.
import { randomUUID } from 'node:crypto';
import type { WalEntry, WriteAheadLog } from '../sdk/engine.js';
import { isPlainObject, type JsonObject } from '../sdk/json.js';
import { getJson, putJson, type Storage } from '../sdk/storage.js';

const ID_PATTERN = /^[0-9a-f-]{36}$/;

interface StoredEntry {
  readonly kind: string;
  readonly data: JsonObject;
  readonly createdAt: number;
}

function isStoredEntry(value: unknown): value is StoredEntry {
  return (
    isPlainObject(value) &&
    typeof value['kind'] === 'string' &&
    isPlainObject(value['data']) &&
    Number.isSafeInteger(value['createdAt'])
  );
}

export class WalStore {
  readonly #storage: Storage;
  readonly #now: () => number;

  /** `storage` is the barrier view sys/wal/. */
  constructor(deps: { storage: Storage; now: () => number }) {
    this.#storage = deps.storage;
    this.#now = deps.now;
  }

  forMount(mountUuid: string): WriteAheadLog {
    return {
      put: async (kind, data) => {
        const id = randomUUID();
        await putJson(this.#storage, `${mountUuid}/${id}`, {
          kind,
          data,
          createdAt: this.#now(),
        });
        return id;
      },
      delete: async (id) => {
        if (!ID_PATTERN.test(id)) return;
        await this.#storage.delete(`${mountUuid}/${id}`);
      },
    };
  }

  /** Mount uuids that hold entries. */
  async mounts(): Promise<string[]> {
    return (await this.#storage.list(''))
      .filter((name) => name.endsWith('/'))
      .map((name) => name.slice(0, -1));
  }

  /** The named entries of a mount that still exist. */
  async entries(mountUuid: string, ids: readonly string[]): Promise<WalEntry[]> {
    const out: WalEntry[] = [];
    for (const id of ids) {
      const entry = await this.#read(mountUuid, id);
      if (entry !== undefined) out.push(entry);
    }
    return out;
  }

  /** A mount's entries created before `before` (epoch ms), oldest first. */
  async entriesBefore(mountUuid: string, before: number): Promise<WalEntry[]> {
    const out: WalEntry[] = [];
    for (const id of await this.#storage.list(`${mountUuid}/`)) {
      const entry = await this.#read(mountUuid, id);
      if (entry !== undefined && entry.createdAt < before) out.push(entry);
    }
    return out.sort((a, b) => a.createdAt - b.createdAt);
  }

  async #read(mountUuid: string, id: string): Promise<WalEntry | undefined> {
    if (!ID_PATTERN.test(id)) return undefined;
    const stored = await getJson<unknown>(this.#storage, `${mountUuid}/${id}`);
    if (!isStoredEntry(stored)) return undefined;
    return { id, kind: stored.kind, data: stored.data, createdAt: stored.createdAt };
  }

  async dropMount(mountUuid: string): Promise<void> {
    for (const id of await this.#storage.list(`${mountUuid}/`)) {
      await this.#storage.delete(`${mountUuid}/${id}`);
    }
  }
}
