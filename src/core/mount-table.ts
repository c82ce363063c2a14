// The mount table: which engine serves which path prefix, persisted through the barrier, and
// the longest-prefix router over it.
import { randomUUID } from 'node:crypto';
import type { EngineFactory, MountInfo, SecretEngine } from '../sdk/engine.js';
import { CofferError, invalidField } from '../sdk/errors.js';
import { getJson, prefixedStorage, putJson, type Storage, type StorageOp } from '../sdk/storage.js';
import { CORE_KEYS, mountViewPrefix } from './keys.js';
import { randomHex } from './random-id.js';

/** A persisted mount. TTLs of 0 mean "the system default". */
export interface MountEntry {
  readonly path: string;
  readonly type: string;
  readonly description: string;
  readonly uuid: string;
  readonly accessor: string;
  readonly config: {
    readonly defaultLeaseTtlSeconds: number;
    readonly maxLeaseTtlSeconds: number;
    readonly forceNoCache: boolean;
  };
  readonly options: Readonly<Record<string, string>>;
  readonly local: boolean;
  readonly sealWrap: boolean;
  /** Epoch ms. */
  readonly createdAt: number;
}

export interface MountOptions {
  readonly type: string;
  readonly description?: string;
  readonly defaultLeaseTtlSeconds?: number;
  readonly maxLeaseTtlSeconds?: number;
  readonly forceNoCache?: boolean;
  readonly options?: Readonly<Record<string, string>>;
  readonly local?: boolean;
  readonly sealWrap?: boolean;
}

export interface TuneOptions {
  readonly description?: string;
  readonly defaultLeaseTtlSeconds?: number;
  readonly maxLeaseTtlSeconds?: number;
  readonly options?: Readonly<Record<string, string>>;
}

export interface RoutedMount {
  readonly entry: MountEntry;
  readonly engine: SecretEngine;
  readonly storage: Storage;
  readonly info: MountInfo;
}

/** Prefixes the core serves itself; no engine may be mounted on or under them. */
const RESERVED = ['sys/', 'auth/', 'cubbyhole/', 'identity/'];

/** Normalises a user-given mount path to "a/b/" form; rejects path tricks. */
export function normaliseMountPath(raw: string, field = 'path'): string {
  const trimmed = raw.replace(/^\/+/, '').replace(/\/+$/, '');
  if (trimmed === '') throw invalidField(field, 'must not be empty');
  for (const segment of trimmed.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw invalidField(field, 'must not contain empty, "." or ".." segments');
    }
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f*+]/.test(segment)) {
      throw invalidField(field, 'contains a character that is not allowed in a mount path');
    }
  }
  return `${trimmed}/`;
}

/**
 * Secret engines live in one table (core/mounts, routed at their own path); auth methods in
 * another (core/auth, routed under auth/). Each table accepts only its category of engine.
 */
export type MountTableKind = 'secret' | 'auth';

export class MountTable {
  readonly #barrier: Storage;
  readonly #factories: ReadonlyMap<string, EngineFactory>;
  readonly #now: () => number;
  readonly #system: { defaultLeaseTtlSeconds: number; maxLeaseTtlSeconds: number };
  readonly #kind: MountTableKind;
  /** What routed paths start with before an entry's path: '' or 'auth/'. */
  readonly #routePrefix: string;
  readonly #tableKey: string;
  #entries: MountEntry[] = [];
  #routes = new Map<string, RoutedMount>();

  constructor(deps: {
    barrier: Storage;
    engines: ReadonlyMap<string, EngineFactory>;
    now: () => number;
    defaultLeaseTtlSeconds: number;
    maxLeaseTtlSeconds: number;
    /** Default 'secret'. */
    kind?: MountTableKind;
  }) {
    this.#barrier = deps.barrier;
    this.#factories = deps.engines;
    this.#now = deps.now;
    this.#system = {
      defaultLeaseTtlSeconds: deps.defaultLeaseTtlSeconds,
      maxLeaseTtlSeconds: deps.maxLeaseTtlSeconds,
    };
    this.#kind = deps.kind ?? 'secret';
    this.#routePrefix = this.#kind === 'auth' ? 'auth/' : '';
    this.#tableKey = this.#kind === 'auth' ? CORE_KEYS.authMounts : CORE_KEYS.mounts;
  }

  get kind(): MountTableKind {
    return this.#kind;
  }

  /** Loads the persisted table after unseal and instantiates every engine. */
  async load(): Promise<void> {
    const stored = await getJson<MountEntry[]>(this.#barrier, this.#tableKey);
    this.#entries = stored ?? [];
    this.#routes = new Map();
    for (const entry of this.#entries) this.#instantiate(entry);
  }

  /** Drops routes and engines (on seal), letting each engine release its connections. */
  clear(): void {
    for (const routed of this.#routes.values()) closeEngine(routed.engine);
    this.#entries = [];
    this.#routes = new Map();
  }

  /** The routed mount whose entry has this uuid (lease, job and rollback calls). */
  byUuid(uuid: string): RoutedMount | undefined {
    for (const routed of this.#routes.values()) if (routed.entry.uuid === uuid) return routed;
    return undefined;
  }

  /** The routed mount at a full logical mount path, e.g. "database/" or "auth/userpass/". */
  byPath(path: string): RoutedMount | undefined {
    return this.#routes.get(path);
  }

  entries(): readonly MountEntry[] {
    return this.#entries;
  }

  /** The entry at a path as the table stores it (without the 'auth/' route prefix). */
  get(path: string): MountEntry | undefined {
    return this.#entries.find((e) => e.path === path);
  }

  /**
   * TTLs as configured (what tune reads show): a mount's 0 means the system value. A mount's
   * maximum may be above the system maximum, as Vault allows; effectiveConfig caps it.
   */
  configuredConfig(entry: MountEntry): {
    defaultLeaseTtlSeconds: number;
    maxLeaseTtlSeconds: number;
  } {
    return {
      defaultLeaseTtlSeconds:
        entry.config.defaultLeaseTtlSeconds || this.#system.defaultLeaseTtlSeconds,
      maxLeaseTtlSeconds: entry.config.maxLeaseTtlSeconds || this.#system.maxLeaseTtlSeconds,
    };
  }

  /**
   * TTLs the engine and lease manager work with. SECURITY: never above the system maximum,
   * whatever a tune said.
   */
  effectiveConfig(entry: MountEntry): {
    defaultLeaseTtlSeconds: number;
    maxLeaseTtlSeconds: number;
  } {
    const configured = this.configuredConfig(entry);
    const max = Math.min(configured.maxLeaseTtlSeconds, this.#system.maxLeaseTtlSeconds);
    return {
      defaultLeaseTtlSeconds: Math.min(configured.defaultLeaseTtlSeconds, max),
      maxLeaseTtlSeconds: max,
    };
  }

  /** The mount serving `path` by longest prefix, and the path relative to it. */
  route(path: string): { mount: RoutedMount; relativePath: string } | undefined {
    let best: RoutedMount | undefined;
    for (const [prefix, mount] of this.#routes) {
      const matches = path.startsWith(prefix) || `${path}/` === prefix;
      if (matches && (best === undefined || prefix.length > best.info.path.length)) best = mount;
    }
    if (best === undefined) return undefined;
    return { mount: best, relativePath: path.slice(best.info.path.length) };
  }

  async enable(rawPath: string, options: MountOptions): Promise<MountEntry> {
    const path = normaliseMountPath(rawPath);
    const reserved = this.#kind === 'auth' ? ['token/'] : RESERVED;
    if (reserved.some((r) => path.startsWith(r) || r.startsWith(path))) {
      throw invalidField('path', `cannot mount under the reserved path "${path}"`);
    }
    const clash = this.#entries.find((e) => path.startsWith(e.path) || e.path.startsWith(path));
    if (clash !== undefined) {
      throw new CofferError('invalid_request', `path is already in use at ${clash.path}`, {
        field: 'path',
      });
    }
    const factory = this.#factories.get(options.type);
    if (factory === undefined || (factory.category ?? 'secret') !== this.#kind) {
      const what = this.#kind === 'auth' ? 'auth method' : 'secret engine';
      throw invalidField('type', `unknown ${what} type "${options.type}"`);
    }
    const engineOptions = factory.normaliseOptions?.(options.options ?? {}) ?? {
      ...options.options,
    };
    const config = {
      defaultLeaseTtlSeconds: options.defaultLeaseTtlSeconds ?? 0,
      maxLeaseTtlSeconds: options.maxLeaseTtlSeconds ?? 0,
      forceNoCache: options.forceNoCache ?? false,
    };
    this.#checkTtls(config.defaultLeaseTtlSeconds, config.maxLeaseTtlSeconds);
    const entry: MountEntry = {
      path,
      type: options.type,
      description: options.description ?? '',
      uuid: randomUUID(),
      accessor: `${this.#kind === 'auth' ? 'auth_' : ''}${options.type}_${randomHex(4)}`,
      config,
      options: engineOptions,
      local: options.local ?? false,
      sealWrap: options.sealWrap ?? false,
      createdAt: this.#now(),
    };
    await this.#persist([...this.#entries, entry]);
    this.#instantiate(entry);
    return entry;
  }

  /** Removes a mount and deletes every entry in its storage view. */
  async disable(rawPath: string): Promise<void> {
    const path = normaliseMountPath(rawPath);
    const entry = this.get(path);
    if (entry === undefined) return; // idempotent, as in Vault
    await this.#persist(this.#entries.filter((e) => e !== entry));
    const routed = this.#routes.get(this.#routePrefix + entry.path);
    if (routed !== undefined) closeEngine(routed.engine);
    this.#routes.delete(this.#routePrefix + entry.path);
    await deleteTree(this.#barrier, mountViewPrefix(entry.uuid));
  }

  /**
   * Moves a mount to a new path (`sys/remount`). The entry keeps its uuid, so its storage view
   * (its data), accessor, jobs and settings come along without a copy; only the route changes.
   * The caller revokes the leases under the old path first (their ids name it).
   */
  async move(rawFrom: string, rawTo: string): Promise<MountEntry> {
    const from = normaliseMountPath(rawFrom, 'from');
    const to = normaliseMountPath(rawTo, 'to');
    const entry = this.get(from);
    if (entry === undefined) {
      throw new CofferError('invalid_request', `no matching mount at "${from}"`, { field: 'from' });
    }
    const reserved = this.#kind === 'auth' ? ['token/'] : RESERVED;
    if (reserved.some((r) => to.startsWith(r) || r.startsWith(to))) {
      throw invalidField('to', `cannot mount under the reserved path "${to}"`);
    }
    const clash = this.#entries.find(
      (e) => e !== entry && (to.startsWith(e.path) || e.path.startsWith(to)),
    );
    if (clash !== undefined || to === from) {
      throw new CofferError('invalid_request', `path already in use at ${clash?.path ?? to}`, {
        field: 'to',
      });
    }
    const moved: MountEntry = { ...entry, path: to };
    await this.#persist(this.#entries.map((e) => (e === entry ? moved : e)));
    const routed = this.#routes.get(this.#routePrefix + entry.path);
    if (routed !== undefined) closeEngine(routed.engine);
    this.#routes.delete(this.#routePrefix + entry.path);
    this.#instantiate(moved);
    return moved;
  }

  async tune(rawPath: string, tune: TuneOptions): Promise<void> {
    const path = normaliseMountPath(rawPath);
    const entry = this.get(path);
    if (entry === undefined) throw new CofferError('invalid_request', `no mount at ${path}`);
    let options = entry.options;
    if (tune.options !== undefined) {
      const factory = this.#factories.get(entry.type);
      const merged = { ...entry.options, ...tune.options };
      options = factory?.normaliseOptions?.(merged) ?? merged;
      if (options.version !== entry.options.version) {
        const existing = await this.#barrier.list(mountViewPrefix(entry.uuid));
        if (existing.length > 0) {
          throw invalidField(
            'options.version',
            'changing the KV version of a mount that holds data is not supported',
          );
        }
      }
    }
    const config = {
      ...entry.config,
      ...(tune.defaultLeaseTtlSeconds === undefined
        ? {}
        : { defaultLeaseTtlSeconds: tune.defaultLeaseTtlSeconds }),
      ...(tune.maxLeaseTtlSeconds === undefined
        ? {}
        : { maxLeaseTtlSeconds: tune.maxLeaseTtlSeconds }),
    };
    this.#checkTtls(config.defaultLeaseTtlSeconds, config.maxLeaseTtlSeconds);
    const updated: MountEntry = {
      ...entry,
      description: tune.description ?? entry.description,
      config,
      options,
    };
    await this.#persist(this.#entries.map((e) => (e === entry ? updated : e)));
    this.#instantiate(updated);
  }

  #checkTtls(defaultTtl: number, maxTtl: number): void {
    // As Vault: only default ≤ max is checked; a maximum above the system's is stored and
    // capped when used (effectiveConfig).
    const effectiveMax = maxTtl || this.#system.maxLeaseTtlSeconds;
    if (defaultTtl > effectiveMax) {
      throw invalidField('default_lease_ttl', 'is larger than max_lease_ttl');
    }
  }

  async #persist(entries: MountEntry[]): Promise<void> {
    await putJson(this.#barrier, this.#tableKey, entries);
    this.#entries = entries;
  }

  #instantiate(entry: MountEntry): void {
    const factory = this.#factories.get(entry.type);
    if (factory === undefined) {
      throw new CofferError(
        'internal',
        `mount ${entry.path} has unknown engine type ${entry.type}`,
      );
    }
    const routePath = this.#routePrefix + entry.path;
    const info: MountInfo = Object.freeze({
      path: routePath,
      uuid: entry.uuid,
      accessor: entry.accessor,
      type: entry.type,
      options: Object.freeze({ ...entry.options }),
      config: Object.freeze(this.effectiveConfig(entry)),
    });
    const previous = this.#routes.get(routePath);
    if (previous !== undefined) closeEngine(previous.engine);
    this.#routes.set(routePath, {
      entry,
      info,
      engine: factory.create(info),
      storage: prefixedStorage(this.#barrier, mountViewPrefix(entry.uuid)),
    });
  }
}

/** Lets an engine release pools and timers; a failure there only loses the engine's own. */
function closeEngine(engine: SecretEngine): void {
  engine.close?.().catch(() => undefined);
}

/** Deletes every key under `prefix` (a folder), in batches. */
export async function deleteTree(storage: Storage, prefix: string): Promise<void> {
  const keys: string[] = [];
  const walk = async (folder: string): Promise<void> => {
    for (const child of await storage.list(folder)) {
      if (child.endsWith('/')) await walk(folder + child);
      else keys.push(folder + child);
    }
  };
  await walk(prefix);
  for (let i = 0; i < keys.length; i += 500) {
    const ops: StorageOp[] = keys.slice(i, i + 500).map((key) => ({ op: 'delete', key }));
    await storage.batch(ops);
  }
}
