// The core: seal state, initialisation, and the request pipeline every front door calls
// (sealed? → token → route → existence check → ACL → engine). It never sees HTTP.
import type { AesGcmBarrier } from '../barrier/aes-gcm-barrier.js';
import type { SealManager, SealStatus } from '../seal/seal-manager.js';
import type {
  EngineFactory,
  EngineRequest,
  EngineResult,
  MountInfo,
  Operation,
  SecretEngine,
} from '../sdk/engine.js';
import { CofferError } from '../sdk/errors.js';
import type { JsonObject } from '../sdk/json.js';
import { prefixedStorage, type Storage } from '../sdk/storage.js';
import { CORE_KEYS } from './keys.js';
import { MountTable } from './mount-table.js';
import { createSystemBackend } from './system-backend.js';
import { TokenStore, type TokenEntry } from './token-store.js';

/** One request as every front door hands it to the core. */
export interface CoreRequest {
  /** `update` for POST/PUT: the core decides between create and update. */
  readonly operation: Operation;
  /** Logical path without a leading slash, e.g. "secret/data/app". */
  readonly path: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly token: string | undefined;
  readonly requestId: string;
}

export interface CoreDeps {
  readonly barrier: AesGcmBarrier;
  readonly seal: SealManager;
  readonly engines: ReadonlyMap<string, EngineFactory>;
  readonly now: () => number;
  readonly defaultLeaseTtlSeconds: number;
  readonly maxLeaseTtlSeconds: number;
}

const SYSTEM_MOUNT: MountInfo = Object.freeze({
  path: 'sys/',
  uuid: '00000000-0000-0000-0000-000000000000',
  accessor: 'system_00000000',
  type: 'system',
  options: Object.freeze({}),
  config: Object.freeze({ defaultLeaseTtlSeconds: 0, maxLeaseTtlSeconds: 0 }),
});

const PERMISSION_DENIED = 'permission denied';

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export class Core {
  readonly #seal: SealManager;
  readonly #now: () => number;
  readonly #tokens: TokenStore;
  readonly #mounts: MountTable;
  readonly #system: SecretEngine;
  readonly #systemStorage: Storage;
  /** Set once the services behind the barrier are loaded after an unseal. */
  #ready = false;
  #opening: Promise<void> | undefined;

  constructor(deps: CoreDeps) {
    this.#seal = deps.seal;
    this.#now = deps.now;
    this.#tokens = new TokenStore({
      storage: prefixedStorage(deps.barrier, CORE_KEYS.tokenPrefix),
      now: deps.now,
    });
    this.#mounts = new MountTable({
      barrier: deps.barrier,
      engines: deps.engines,
      now: deps.now,
      defaultLeaseTtlSeconds: deps.defaultLeaseTtlSeconds,
      maxLeaseTtlSeconds: deps.maxLeaseTtlSeconds,
    });
    this.#system = createSystemBackend({ mounts: this.#mounts, barrier: deps.barrier });
    this.#systemStorage = prefixedStorage(deps.barrier, 'sys/system/');
  }

  get isSealed(): boolean {
    return !this.#ready;
  }

  get mounts(): MountTable {
    return this.#mounts;
  }

  sealStatus(): Promise<SealStatus> {
    return this.#seal.status();
  }

  isInitialized(): Promise<boolean> {
    return this.#seal.isInitialized();
  }

  /**
   * Initialises the seal and barrier and creates the root token. With Shamir the server is
   * sealed again afterwards (the operator unseals with the returned shares); with a static
   * seal it stays unsealed.
   */
  async initialize(options: {
    secretShares: number;
    secretThreshold: number;
    rootTokenId?: string;
  }): Promise<{ shares: Uint8Array[]; rootToken: string }> {
    const { shares } = await this.#seal.initialize(options);
    if (this.#seal.type === 'static') {
      await this.#seal.autoUnseal();
    } else {
      for (const share of shares.slice(0, options.secretThreshold)) {
        await this.#seal.submitShare(share);
      }
    }
    await this.#open();
    const { token } = await this.#tokens.create({
      ...(options.rootTokenId === undefined ? {} : { id: options.rootTokenId }),
      policies: ['root'],
      path: 'auth/token/root',
      displayName: 'root',
      ttlSeconds: 0,
    });
    if (this.#seal.type === 'shamir') this.#sealNow();
    return { shares, rootToken: token };
  }

  /** Submits one unseal share; loads the core's services once the barrier opens. */
  async unseal(share: Uint8Array): Promise<SealStatus> {
    const status = await this.#seal.submitShare(share);
    if (!status.sealed) await this.#open();
    return this.#seal.status();
  }

  resetUnseal(): Promise<SealStatus> {
    this.#seal.resetProgress();
    return this.#seal.status();
  }

  async autoUnseal(): Promise<void> {
    await this.#seal.autoUnseal();
    await this.#open();
  }

  /** `sys/seal`: needs a root token. */
  async seal(token: string | undefined): Promise<void> {
    if (!this.#ready) return;
    const entry = await this.#authenticate(token);
    if (!entry.policies.includes('root')) {
      throw new CofferError('permission_denied', PERMISSION_DENIED);
    }
    this.#sealNow();
  }

  /** Seals for shutdown without a token check. */
  sealForShutdown(): void {
    this.#sealNow();
  }

  #sealNow(): void {
    this.#ready = false;
    this.#tokens.close();
    this.#mounts.clear();
    this.#seal.seal();
  }

  async #open(): Promise<void> {
    if (this.#ready) return;
    this.#opening ??= (async () => {
      try {
        await this.#tokens.open();
        await this.#mounts.load();
        this.#ready = true;
      } finally {
        this.#opening = undefined;
      }
    })();
    await this.#opening;
  }

  async #authenticate(token: string | undefined): Promise<TokenEntry> {
    const entry = token === undefined ? undefined : await this.#tokens.lookup(token);
    if (entry === undefined) throw new CofferError('permission_denied', PERMISSION_DENIED);
    return entry;
  }

  /**
   * The pipeline. SECURITY: every logical request passes here; nothing reaches an engine
   * while sealed or without a valid token allowed by policy.
   */
  async handleRequest(req: CoreRequest): Promise<EngineResult> {
    if (!this.#ready) throw new CofferError('sealed', 'Vault is sealed');
    const entry = await this.#authenticate(req.token);

    if (req.path === 'auth/token/lookup-self') {
      if (req.operation !== 'read') {
        throw new CofferError('unsupported_operation', 'unsupported operation');
      }
      return { kind: 'data', data: this.#renderLookupSelf(req.token!, entry) };
    }

    const target = this.#resolve(req.path);
    let engineRequest: EngineRequest = Object.freeze({
      operation: req.operation,
      path: target.relativePath,
      data: Object.freeze({ ...req.data }),
      storage: target.storage,
      mount: target.info,
      requestId: req.requestId,
      now: this.#now,
    });
    if (req.operation === 'update') {
      const exists = await target.engine.exists(engineRequest);
      if (exists === false)
        engineRequest = Object.freeze({ ...engineRequest, operation: 'create' });
    }
    this.#authorize(entry);
    return target.engine.handle(engineRequest);
  }

  /**
   * Until path policies exist every token is a root token; anything else is denied (fail
   * closed), so a future non-root token can never slip through this check.
   */
  #authorize(entry: TokenEntry): void {
    if (!entry.policies.includes('root')) {
      throw new CofferError('permission_denied', PERMISSION_DENIED);
    }
  }

  #resolve(path: string): {
    engine: SecretEngine;
    storage: Storage;
    info: MountInfo;
    relativePath: string;
  } {
    if (path === 'sys' || path.startsWith('sys/')) {
      return {
        engine: this.#system,
        storage: this.#systemStorage,
        info: SYSTEM_MOUNT,
        relativePath: path.slice(4),
      };
    }
    const routed = this.#mounts.route(path);
    if (routed === undefined) {
      throw new CofferError('no_route', `no handler for route "${path}". route entry not found.`);
    }
    return { ...routed.mount, relativePath: routed.relativePath };
  }

  #renderLookupSelf(token: string, entry: TokenEntry): JsonObject {
    const ttl =
      entry.expiresAt === undefined
        ? 0
        : Math.max(0, Math.floor((entry.expiresAt - this.#now()) / 1000));
    return {
      accessor: entry.accessor,
      creation_time: Math.floor(entry.createdAt / 1000),
      creation_ttl: entry.ttlSeconds,
      display_name: entry.displayName,
      entity_id: '',
      expire_time: entry.expiresAt === undefined ? null : iso(entry.expiresAt),
      explicit_max_ttl: 0,
      id: token,
      issue_time: iso(entry.createdAt),
      meta: entry.meta === null ? null : { ...entry.meta },
      num_uses: 0,
      orphan: entry.orphan,
      path: entry.path,
      policies: [...entry.policies],
      renewable: entry.renewable,
      ttl,
      type: entry.type,
    };
  }
}
