// The core: seal state, initialisation, and the request pipeline every front door calls
// (sealed? → token → route → existence check → ACL → backend). It never sees HTTP.
import { hkdfSync } from 'node:crypto';
import type { AesGcmBarrier } from '../barrier/aes-gcm-barrier.js';
import type { SealManager, SealStatus } from '../seal/seal-manager.js';
import type {
  DoorMethod,
  EngineContext,
  EngineFactory,
  EngineRequest,
  EngineResult,
  LeaseGrant,
  LeaseInfo,
  LoginGrant,
  MountInfo,
  Operation,
  SecretEngine,
} from '../sdk/engine.js';
import { CofferError, invalidField, isCofferError } from '../sdk/errors.js';
import { parseFields } from '../sdk/fields.js';
import type { JsonObject } from '../sdk/json.js';
import { prefixedStorage, type Storage } from '../sdk/storage.js';
import { AuditBroker } from './audit/audit-broker.js';
import { auditAuthOf, auditResponseOf, type AuditAuth, type AuditRequest } from './audit/format.js';
import type { Caller, InternalBackend } from './caller.js';
import { ChangeBus, type ChangeEvent } from './change-events.js';
import { createCubbyholeBackend, destroyCubbyhole } from './cubbyhole-backend.js';
import { DoorCredentialStore } from './door-credentials.js';
import { CORE_KEYS, TOKEN_KEYS } from './keys.js';
import { LEASE_KEYS } from './lease-keys.js';
import { LeaseManager, type LeaseRecord, type LeaseRenewal } from './lease-manager.js';
import type { Metrics, RequestMetric } from './metrics.js';
import { MountTable, type RoutedMount } from './mount-table.js';
import type { Acl } from './policy/acl.js';
import { PolicyStore } from './policy/policy-store.js';
import { Scheduler } from './scheduler.js';
import { isSudoPath } from './sudo-paths.js';
import { createSystemBackend } from './system-backend.js';
import { authResult, createTokenBackend } from './token-backend.js';
import { TokenStore, type TokenEntry } from './token-store.js';
import { WalStore } from './wal-store.js';
import { KeyCeremonies } from '../seal/ceremonies.js';
import { createIdentityBackend } from './identity/backend.js';
import {
  handleOidcUnauthenticated,
  OIDC_UNAUTHENTICATED_PATHS,
  OidcIssuer,
  oidcPaths,
} from './identity/oidc.js';
import { IDENTITY_KEYS } from './identity/records.js';
import type { AuthMountRef } from './identity/records.js';
import { IdentityStore, type ResolvedIdentity } from './identity/store.js';
import type { TemplateIdentity } from './policy/template.js';
import { INVALID_WRAPPING_TOKEN, ResponseWrapper, requireWrapTtl } from './wrapping.js';

/** Where handleRequest routed a request, filled in as it goes (for metrics). */
interface RoutedFor {
  mount?: MountInfo;
  operation?: string;
}

/** One request as every front door hands it to the core. */
export interface CoreRequest {
  /** `update` for POST/PUT: the core decides between create and update. */
  readonly operation: Operation;
  /** Logical path without a leading slash, e.g. "secret/data/app". */
  readonly path: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly token: string | undefined;
  readonly requestId: string;
  /** The client's IP address, for tokens bound to CIDRs. */
  readonly remoteAddress?: string;
  /** X-Vault-Wrap-TTL: wrap the response in a single-use token with this TTL. */
  readonly wrapTtlSeconds?: number;
  /**
   * A cloud door's caller: the door credential (already verified by the door's signature
   * check) the core resolves to its token instead of `token`. See door-credentials.ts.
   */
  readonly credential?: { readonly api: string; readonly id: string };
  /**
   * Which door and which of its methods this request is (`{api: 'aws', method:
   * 'secretsmanager.GetSecretValue'}`): recorded in the audit entry and handed to the engine.
   * Absent for the Vault door.
   */
  readonly door?: DoorMethod;
}

export interface CoreDeps {
  readonly barrier: AesGcmBarrier;
  readonly seal: SealManager;
  readonly engines: ReadonlyMap<string, EngineFactory>;
  readonly now: () => number;
  readonly defaultLeaseTtlSeconds: number;
  readonly maxLeaseTtlSeconds: number;
  /** Where audit devices report their own failures (never request contents). */
  readonly logger?: { warn(obj: object, msg: string): void };
  /** Request, audit and scheduled-job metrics (see metrics.ts); absent = none recorded. */
  readonly metrics?: Metrics;
  /**
   * HA: after unseal the node stays a standby (no services, no background jobs) until the
   * HA coordinator calls activate(). Default false (one node: active on unseal).
   */
  readonly standbyUntilActivated?: boolean;
  /** Takes a storage snapshot (sys/storage/raft/snapshot); absent when storage cannot. */
  readonly snapshot?: () => Promise<Buffer>;
  /** This server's API address (`api_addr`): the identity token issuer's default base. */
  readonly apiAddr?: string | undefined;
}

/** What the core needs from the HA coordinator (set with attachHa). */
export interface HaControl {
  /** Gives up leadership; another node takes over. */
  stepDown(): Promise<void>;
}

function internalMount(path: string, type: string, uuid: string): MountInfo {
  return Object.freeze({
    path,
    uuid,
    accessor: `${type}_00000000`,
    type,
    options: Object.freeze({}),
    config: Object.freeze({ defaultLeaseTtlSeconds: 0, maxLeaseTtlSeconds: 0 }),
  });
}

/** T with its fields writable, to set optional fields after building a literal. */
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const SYSTEM_MOUNT = internalMount('sys/', 'system', '00000000-0000-0000-0000-000000000000');
const TOKEN_MOUNT = internalMount('auth/token/', 'token', '00000000-0000-0000-0000-000000000001');
const CUBBYHOLE_MOUNT = internalMount(
  'cubbyhole/',
  'cubbyhole',
  '00000000-0000-0000-0000-000000000002',
);
/** Vault's identity store: mounted by default, never disabled or moved. */
const IDENTITY_MOUNT = internalMount(
  'identity/',
  'identity',
  '00000000-0000-0000-0000-000000000003',
);

const WRAPPING_LOOKUP_PATH = 'sys/wrapping/lookup';
/** Paths where the calling token may itself be the wrapping token. */
const WRAPPING_TOKEN_PATHS = new Set(['sys/wrapping/unwrap', 'sys/wrapping/rewrap']);

/** Answered for any token that may use the path through its mount (the handler checks). */
const UI_MOUNTS_PREFIX = 'sys/internal/ui/mounts/';

const PERMISSION_DENIED = 'permission denied';

/** Write-ahead entries older than this are rolled back by the periodic sweep. */
export const WAL_ROLLBACK_AGE_MS = 600_000;
const WAL_SWEEP_INTERVAL_MS = 300_000;

/** Operations that change a secret and so publish a change event. */
function isChange(operation: Operation): operation is ChangeEvent['operation'] {
  return operation !== 'read' && operation !== 'list';
}

type AuthedCaller = Caller & { readonly acl: Acl };

/** The values a token's entity offers to templated policy paths. */
function templateIdentity(identity: ResolvedIdentity, version: number): TemplateIdentity {
  return {
    cacheKey: `${identity.entity.id}@${version}`,
    entity: identity.entity,
    aliases: new Map(identity.aliases.map((alias) => [alias.mountAccessor, alias])),
    groups: identity.groups,
  };
}

/** Whether an engine serves `relativePath` without a token (an auth method's login). */
function isUnauthenticatedPath(engine: SecretEngine, relativePath: string): boolean {
  const path = relativePath.replace(/\/+$/, '');
  return (engine.unauthenticatedPaths ?? []).some((pattern) =>
    pattern.endsWith('*') ? path.startsWith(pattern.slice(0, -1)) : path === pattern,
  );
}

type Target =
  | {
      readonly kind: 'internal';
      readonly backend: InternalBackend;
      readonly info: MountInfo;
      readonly storage: Storage;
      readonly relativePath: string;
    }
  | {
      readonly kind: 'engine';
      readonly engine: SecretEngine;
      readonly info: MountInfo;
      readonly storage: Storage;
      readonly relativePath: string;
    };

interface Prepared {
  readonly target: Target;
  readonly request: EngineRequest;
}

/** What the audit line says went wrong: our own messages only, never a thrown value's text. */
function auditError(err: unknown): string {
  return isCofferError(err) ? err.message : 'internal error';
}

/**
 * A token's lease id: the path that created it plus its hash (as in Vault), so the token
 * store finds it from the entry, and revoke-prefix on an auth mount revokes its logins.
 */
function tokenLeaseId(hash: string, entry: TokenEntry): string {
  return `${entry.path.replace(/\/+$/, '')}/${hash}`;
}

/** HKDF info of the key that signs forwarded client addresses (see forwardingKey). */
const FORWARDING_KEY_INFO = 'coffer forwarded client address v1';

export class Core {
  readonly #seal: SealManager;
  readonly #now: () => number;
  readonly #tokens: TokenStore;
  readonly #policies: PolicyStore;
  readonly #audit: AuditBroker;
  readonly #leases: LeaseManager;
  readonly #wrapper: ResponseWrapper;
  readonly #mounts: MountTable;
  readonly #authMounts: MountTable;
  readonly #scheduler: Scheduler;
  /** Engine contexts by mount (see #contextOf). */
  readonly #contexts = new WeakMap<MountInfo, EngineContext>();
  readonly #wal: WalStore;
  readonly #doorCredentials: DoorCredentialStore;
  readonly #identity: IdentityStore;
  /** The system maximum TTL; also the bound on a wrap TTL. */
  readonly #maxLeaseTtlSeconds: number;
  readonly #changes = new ChangeBus();
  /** The `auth` block of a login's response line: the token it made (see #login). */
  readonly #loginAudit = new WeakMap<EngineResult, AuditAuth>();
  /** Ends every open change subscription (called on seal). */
  readonly #subscriptionEnds = new Set<(reason: string) => void>();
  readonly #logger: CoreDeps['logger'];
  readonly #metrics: Metrics | undefined;
  #walSweep: ReturnType<typeof setInterval> | undefined;
  readonly #system: InternalBackend;
  readonly #tokenBackend: InternalBackend;
  readonly #cubbyhole: InternalBackend;
  readonly #internalMounts: readonly (readonly [MountInfo, InternalBackend, Storage])[];
  readonly #systemStorage: Storage;
  readonly #tokenStorage: Storage;
  /** Set once the services behind the barrier are loaded after an unseal. */
  #ready = false;
  #opening: Promise<void> | undefined;
  readonly #barrier: AesGcmBarrier;
  readonly #standbyUntilActivated: boolean;
  /** HA: unsealed, but not the active node (services closed). */
  #standby = false;
  #forwardingKey: Buffer | undefined;
  #active = false;
  #ha: HaControl | undefined;

  /** `sys/generate-root` and `sys/rekey`, authorised by unseal key shares. */
  readonly ceremonies: KeyCeremonies;

  constructor(deps: CoreDeps) {
    this.#maxLeaseTtlSeconds = deps.maxLeaseTtlSeconds;
    this.#seal = deps.seal;
    this.#barrier = deps.barrier;
    this.#standbyUntilActivated = deps.standbyUntilActivated ?? false;
    this.ceremonies = new KeyCeremonies({
      seal: deps.seal,
      mintRootToken: async () => {
        if (!this.#ready) throw new CofferError('sealed', 'Vault is sealed');
        const { token } = await this.#tokens.create({
          policies: ['root'],
          path: 'auth/token/root',
          displayName: 'root',
          ttlSeconds: 0,
        });
        return token;
      },
    });
    this.#now = deps.now;
    this.#logger = deps.logger;
    this.#metrics = deps.metrics;
    this.#tokenStorage = prefixedStorage(deps.barrier, CORE_KEYS.tokenPrefix);
    this.#tokens = new TokenStore({
      storage: this.#tokenStorage,
      now: deps.now,
      defaultLeaseTtlSeconds: deps.defaultLeaseTtlSeconds,
      maxLeaseTtlSeconds: deps.maxLeaseTtlSeconds,
      // Not awaited either, for the same lock-order reason as below. If it is lost (a crash
      // in between), the token still expires: every lookup checks the expiry itself.
      onWritten: (hash, entry) => {
        this.#trackTokenLease(hash, entry).catch((err: unknown) => {
          deps.logger?.warn(
            { err: isCofferError(err) ? err.code : 'error' },
            'token lease update failed',
          );
        });
        return Promise.resolve();
      },
      // A token's cubbyhole and lease go with it; a failure leaves only unreachable data.
      onDeleted: async (hash, entry) => {
        // Not awaited: this runs under the token store's lock, and the lease manager may be
        // holding this very lease's lock while it revokes the token (a lock cycle otherwise).
        // A lease already being expired is found gone and skipped. The secrets the token
        // obtained are revoked with it (marked due now; expiry revokes them with retries).
        this.#leases.forget(tokenLeaseId(hash, entry)).catch(() => undefined);
        this.#leases.revokeByToken(hash).catch((err: unknown) => {
          deps.logger?.warn(
            { err: isCofferError(err) ? err.code : 'error' },
            'revoking the leases of a revoked token failed',
          );
        });
        try {
          await destroyCubbyhole(deps.barrier, hash);
        } catch (err) {
          deps.logger?.warn(
            { err: isCofferError(err) ? err.code : 'error' },
            'cubbyhole cleanup failed',
          );
        }
      },
    });
    this.#leases = new LeaseManager({
      storage: prefixedStorage(deps.barrier, LEASE_KEYS.prefix),
      now: deps.now,
      revoker: (lease) => this.#revokeLease(lease),
      renewer: (lease, incrementSeconds) => this.#renewLease(lease, incrementSeconds),
      ...(deps.logger === undefined ? {} : { logger: deps.logger }),
    });
    this.#policies = new PolicyStore({
      storage: prefixedStorage(deps.barrier, CORE_KEYS.policyPrefix),
    });
    this.#audit = new AuditBroker({
      storage: prefixedStorage(deps.barrier, CORE_KEYS.auditPrefix),
      now: deps.now,
      ...(deps.logger === undefined ? {} : { logger: deps.logger }),
      onFailure: (failure) => {
        if (failure.refused) this.#metrics?.auditRefused();
        else this.#metrics?.auditDeviceFailure(failure.deviceType ?? 'unknown');
      },
    });
    this.#mounts = new MountTable({
      barrier: deps.barrier,
      engines: deps.engines,
      now: deps.now,
      defaultLeaseTtlSeconds: deps.defaultLeaseTtlSeconds,
      maxLeaseTtlSeconds: deps.maxLeaseTtlSeconds,
    });
    this.#authMounts = new MountTable({
      barrier: deps.barrier,
      engines: deps.engines,
      now: deps.now,
      defaultLeaseTtlSeconds: deps.defaultLeaseTtlSeconds,
      maxLeaseTtlSeconds: deps.maxLeaseTtlSeconds,
      kind: 'auth',
    });
    this.#scheduler = new Scheduler({
      storage: prefixedStorage(deps.barrier, CORE_KEYS.schedulePrefix),
      now: deps.now,
      run: (mountUuid, name) => this.#runJob(mountUuid, name),
      ...(deps.logger === undefined ? {} : { logger: deps.logger }),
    });
    this.#wal = new WalStore({
      storage: prefixedStorage(deps.barrier, CORE_KEYS.walPrefix),
      now: deps.now,
    });
    this.#wrapper = new ResponseWrapper({ tokens: this.#tokens, barrier: deps.barrier });
    this.#doorCredentials = new DoorCredentialStore({
      storage: prefixedStorage(deps.barrier, CORE_KEYS.doorCredentialPrefix),
      tokens: this.#tokens,
      now: deps.now,
    });
    this.#identity = new IdentityStore({
      storage: prefixedStorage(deps.barrier, CORE_KEYS.identityPrefix),
      now: deps.now,
      authMount: (accessor) => this.#authMountRef(accessor),
    });
    this.#system = createSystemBackend({
      mounts: this.#mounts,
      authMounts: this.#authMounts,
      beforeUnmount: (info) => this.#beforeUnmount(info),
      barrier: deps.barrier,
      snapshot: deps.snapshot,
      policies: this.#policies,
      tokens: this.#tokens,
      aclOfEntry: async (entry) => (await this.#aclOf(entry)).acl,
      audit: this.#audit,
      leases: this.#leases,
      wrapper: this.#wrapper,
      doorCredentials: this.#doorCredentials,
    });
    this.#tokenBackend = createTokenBackend({
      tokens: this.#tokens,
      now: deps.now,
      policyExists: async (name) => (await this.#policies.get(name)) !== undefined,
      identityPolicies: async (entry) =>
        entry.entityId === undefined
          ? []
          : ((await this.#identity.resolve(entry.entityId))?.policies ?? []),
    });
    const oidc = new OidcIssuer({
      storage: prefixedStorage(
        deps.barrier,
        `${CORE_KEYS.identityPrefix}${IDENTITY_KEYS.oidcPrefix}`,
      ),
      identity: this.#identity,
      now: deps.now,
      apiAddr: deps.apiAddr,
    });
    const identityBackend: InternalBackend = {
      ...createIdentityBackend({ store: this.#identity, extraPaths: oidcPaths(oidc) }),
      unauthenticatedPaths: OIDC_UNAUTHENTICATED_PATHS,
      handleUnauthenticated: (req) => handleOidcUnauthenticated(oidc, req),
    };
    this.#systemStorage = prefixedStorage(deps.barrier, 'sys/system/');
    this.#cubbyhole = createCubbyholeBackend({
      barrier: deps.barrier,
      hashToken: (token) => this.#tokens.hashToken(token),
    });
    this.#internalMounts = [
      [SYSTEM_MOUNT, this.#system, this.#systemStorage],
      [TOKEN_MOUNT, this.#tokenBackend, this.#tokenStorage],
      // The cubbyhole derives each caller's area itself; it gets no shared view.
      [CUBBYHOLE_MOUNT, this.#cubbyhole, this.#systemStorage],
      [IDENTITY_MOUNT, identityBackend, this.#systemStorage],
    ];
  }

  get isSealed(): boolean {
    return !this.#ready;
  }

  /** HA: unsealed but not active; the HTTP layer forwards or redirects its requests. */
  get isStandby(): boolean {
    return this.#standby && !this.#ready;
  }

  /**
   * HA: the key that authenticates a standby's statement of a forwarded request's client
   * address. Derived from the token store's salt, which lives under the barrier: every unsealed
   * node of the cluster derives the same key, and nobody without the unseal keys can. Undefined
   * while the barrier is sealed, or before any node has been active (no salt yet).
   */
  async forwardingKey(): Promise<Buffer | undefined> {
    if (this.#forwardingKey !== undefined) return this.#forwardingKey;
    if (this.#barrier.isSealed()) return undefined;
    const salt = await this.#tokenStorage.get(TOKEN_KEYS.salt);
    if (salt === undefined) return undefined;
    this.#forwardingKey = Buffer.from(
      hkdfSync('sha256', Buffer.from(salt), Buffer.alloc(0), FORWARDING_KEY_INFO, 32),
    );
    return this.#forwardingKey;
  }

  attachHa(control: HaControl): void {
    this.#ha = control;
  }

  /**
   * HA: this node now holds the leader lease (its writes are fenced by the new epoch). Reloads
   * the keyring (another node may have rotated it), drops cached ciphertext, then loads every
   * service and starts lease expiry, the rotation scheduler and the WAL rollback.
   */
  async activate(): Promise<void> {
    if (!this.#standby || this.#ready) return;
    await this.#barrier.reload();
    this.#active = true;
    try {
      await this.#open();
    } catch (err) {
      this.#active = false;
      this.#closeServices();
      throw err;
    }
    this.#standby = false;
  }

  /**
   * HA: lost or gave up the lease. Stops every background job and drops every cache; the
   * barrier stays unsealed so the node can become active again without new unseal keys.
   */
  async deactivate(): Promise<void> {
    if (!this.#ready) return;
    this.#active = false;
    this.#standby = true;
    this.endChangeStreams('this node is no longer active');
    await this.#audit.close().catch(() => undefined);
    this.#closeServices();
    this.#barrier.invalidateCache();
  }

  /** `sys/step-down`: needs sudo; a no-op without HA (as in Vault). */
  async stepDown(token: string | undefined, remoteAddress?: string): Promise<void> {
    if (!this.#ready) throw new CofferError('sealed', 'Vault is sealed');
    const caller = await this.#authenticate(token, remoteAddress);
    if (!caller.isRoot && !caller.sudoOn('sys/step-down')) {
      throw new CofferError('permission_denied', PERMISSION_DENIED);
    }
    await this.#ha?.stepDown();
  }

  get mounts(): MountTable {
    return this.#mounts;
  }

  get authMounts(): MountTable {
    return this.#authMounts;
  }

  /** Due scheduled jobs run on their own; tests and `sys` read the queue here. */
  get scheduler(): Scheduler {
    return this.#scheduler;
  }

  /**
   * Door credentials (AWS access keys): the doors look up verification material here before
   * they call handleRequest with `credential`; the dev server issues its fixed key pair here.
   */
  get doorCredentials(): DoorCredentialStore {
    if (!this.#ready) throw new CofferError('sealed', 'Vault is sealed');
    return this.#doorCredentials;
  }

  /** The lease manager, for tests and benchmarks that wait for expiry to settle. */
  get leases(): LeaseManager {
    return this.#leases;
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
    // HA: initialisation runs before any lease exists (the store was empty, so no node can
    // be active); it opens the services just long enough to create the root token.
    this.#active = true;
    await this.#open();
    const { token } = await this.#tokens.create({
      ...(options.rootTokenId === undefined ? {} : { id: options.rootTokenId }),
      policies: ['root'],
      path: 'auth/token/root',
      displayName: 'root',
      ttlSeconds: 0,
    });
    if (this.#seal.type === 'shamir') this.#sealNow();
    else if (this.#standbyUntilActivated) {
      this.#closeServices();
      this.#active = false;
      this.#standby = true;
    }
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

  /** `sys/seal`: needs sudo on sys/seal (a root token, or a policy granting it). */
  async seal(token: string | undefined, remoteAddress?: string): Promise<void> {
    if (!this.#ready) return;
    const caller = await this.#authenticate(token, remoteAddress);
    if (!caller.isRoot && !caller.sudoOn('sys/seal')) {
      throw new CofferError('permission_denied', PERMISSION_DENIED);
    }
    await this.#closeAndSeal();
  }

  /** Seals for shutdown without a token check, closing audit devices first. */
  async sealForShutdown(): Promise<void> {
    await this.#closeAndSeal();
  }

  /** Ends every change-event stream (shutdown, before waiting for requests to finish). */
  endChangeStreams(reason = 'server shutting down'): void {
    for (const endSubscription of [...this.#subscriptionEnds]) endSubscription(reason);
  }

  /** Reopens audit files after an operator rotated them (SIGHUP). */
  async reopenAudit(): Promise<void> {
    if (this.#ready) await this.#audit.reopen();
  }

  /** Devices write their closing checkpoint while the barrier can still save their state. */
  async #closeAndSeal(): Promise<void> {
    if (this.#ready) await this.#audit.close();
    this.#sealNow();
  }

  #sealNow(): void {
    this.#forwardingKey?.fill(0);
    this.#forwardingKey = undefined;
    this.#closeServices();
    this.#standby = false;
    this.#active = false;
    this.#seal.seal();
  }

  /** Stops background jobs and forgets every loaded service (not the barrier's keys). */
  #closeServices(): void {
    this.#ready = false;
    this.endChangeStreams('sealed');
    if (this.#walSweep !== undefined) clearInterval(this.#walSweep);
    this.#walSweep = undefined;
    this.#scheduler.close();
    this.#authMounts.clear();
    this.#leases.close();
    this.#tokens.close();
    this.#doorCredentials.close();
    this.#identity.close();
    this.#policies.close();
    this.#mounts.clear();
  }

  async #open(): Promise<void> {
    if (this.#ready) return;
    if (this.#standbyUntilActivated && !this.#active) {
      // SECURITY: a standby loads nothing and runs no job; the coordinator activates it
      // once it holds the fenced lease.
      this.#standby = true;
      return;
    }
    this.#opening ??= (async () => {
      try {
        await this.#tokens.open();
        await this.#policies.open();
        this.#identity.open();
        await this.#mounts.load();
        await this.#authMounts.load();
        await this.#audit.open();
        // Leases due while the server was down are revoked right after this.
        await this.#leases.open();
        await this.#scheduler.open();
        this.#ready = true;
        // Changes a crash left half done (a database user without its lease) are undone in
        // the background, then periodically for entries that outlived their request.
        const openedAt = this.#now();
        void this.#rollbackSweep(openedAt);
        this.#walSweep = setInterval(() => {
          void this.#rollbackSweep(this.#now() - WAL_ROLLBACK_AGE_MS);
        }, WAL_SWEEP_INTERVAL_MS);
        this.#walSweep.unref();
      } finally {
        this.#opening = undefined;
      }
    })();
    await this.#opening;
  }

  /** Resolves the presented token (counting a use) into a caller with its compiled ACL. */
  async #authenticate(
    token: string | undefined,
    remoteAddress: string | undefined,
  ): Promise<Caller & { readonly acl: Acl }> {
    const entry =
      token === undefined || token === ''
        ? undefined
        : await this.#tokens.authenticate(
            token,
            remoteAddress === undefined ? {} : { remoteAddress },
          );
    // `field: 'token'` lets a door tell "who are you?" (Google's UNAUTHENTICATED) from "no".
    if (entry === undefined) {
      throw new CofferError('permission_denied', PERMISSION_DENIED, { field: 'token' });
    }
    const { acl, identityPolicies } = await this.#aclOf(entry);
    const isRoot = entry.policies.includes('root');
    return {
      token: token!,
      entry,
      acl,
      isRoot,
      identityPolicies,
      sudoOn: (path) => isRoot || acl.capabilities(path).includes('sudo'),
    };
  }

  /**
   * A token's ACL at this moment: its own policies plus what its entity and every group the
   * entity is in (directly or nested) add, with templated paths filled in from the entity.
   * Resolved on each request, so an identity change applies to the token's next request.
   * SECURITY: a token whose entity is disabled is refused; identity never grants root.
   */
  async #aclOf(entry: TokenEntry): Promise<{ acl: Acl; identityPolicies: readonly string[] }> {
    if (entry.entityId === undefined) {
      // No entity: the token's own policies, from the cache without a promise when compiled.
      const acl =
        this.#policies.cachedAcl(entry.policies) ?? (await this.#policies.acl(entry.policies));
      return { acl, identityPolicies: [] };
    }
    const version = this.#identity.version;
    const identity =
      entry.entityId === undefined ? undefined : await this.#identity.resolve(entry.entityId);
    if (identity?.entity.disabled === true) {
      throw new CofferError('permission_denied', PERMISSION_DENIED, { field: 'token' });
    }
    const identityPolicies = identity?.policies ?? [];
    const acl = await this.#policies.acl(
      [...entry.policies, ...identityPolicies],
      identity === undefined ? undefined : templateIdentity(identity, version),
    );
    return { acl, identityPolicies };
  }

  /** An auth mount as the identity store names it: by accessor, with its type and path. */
  #authMountRef(accessor: string): AuthMountRef | undefined {
    const entry = this.#authMounts.entries().find((e) => e.accessor === accessor);
    if (entry === undefined) return undefined;
    return { accessor, type: entry.type, path: `auth/${entry.path}`, local: entry.local };
  }

  /**
   * The pipeline. SECURITY: every logical request passes here; nothing reaches a backend
   * while sealed, without a valid token, or without the capability its policies grant. The
   * only requests served without a token are the paths an auth method declares
   * unauthenticated (its login), and `sys/wrapping/lookup`.
   */
  async handleRequest(original: CoreRequest): Promise<EngineResult> {
    const metrics = this.#metrics;
    if (metrics === undefined) return this.#handleRequest(original, {});
    const routed: RoutedFor = {};
    const done = metrics.startRequest();
    // SECURITY: labels name the mount and operation, never the path below it or the token.
    const labels = (outcome: string): Omit<RequestMetric, 'seconds'> => ({
      mount: routed.mount?.path ?? 'none',
      mountType: routed.mount?.type ?? 'none',
      operation: routed.operation ?? original.operation,
      outcome,
    });
    try {
      const result = await this.#handleRequest(original, routed);
      done(labels('ok'));
      return result;
    } catch (err) {
      done(labels(isCofferError(err) ? err.code : 'internal'));
      throw err;
    }
  }

  async #handleRequest(original: CoreRequest, routed: RoutedFor): Promise<EngineResult> {
    if (!this.#ready) throw new CofferError('sealed', 'Vault is sealed');
    try {
      return await this.#handle(original, routed);
    } catch (err) {
      // HA: a request caught by a demotion fails on closed services; it is the node's state,
      // not a bug, so the client learns to retry (on the active node), never sees a 500.
      if (this.#standby && !this.#ready && isCofferError(err) && err.code === 'internal') {
        throw new CofferError('not_active', 'this node stopped being the active node; retry', {
          cause: err,
        });
      }
      throw err;
    }
  }

  async #handle(original: CoreRequest, routed: RoutedFor): Promise<EngineResult> {
    const req = original.credential === undefined ? original : await this.#withCredential(original);
    const request = auditRequestOf(req, req.operation);
    if (req.path === WRAPPING_LOOKUP_PATH) return this.#wrappingLookup(req, request);
    let caller: AuthedCaller | undefined;
    if (!this.#isUnauthenticated(req.path) || req.credential !== undefined) {
      try {
        caller = await this.#authenticate(req.token, req.remoteAddress);
      } catch (err) {
        let refusal = req.credential === undefined ? err : credentialRefused();
        // As Vault: a used or unknown wrapping token presented as the calling token to
        // unwrap/rewrap is the same 400 as in the body form, not a 403.
        if (
          req.credential === undefined &&
          WRAPPING_TOKEN_PATHS.has(req.path) &&
          (req.data.token === undefined || req.data.token === '')
        ) {
          refusal = new CofferError('invalid_request', INVALID_WRAPPING_TOKEN, { field: 'token' });
        }
        await this.#auditRefusal({ request }, refusal);
        throw refusal;
      }
    }
    try {
      const auth = caller === undefined ? {} : { auth: auditAuthOf(caller) };
      let prepared: Prepared;
      try {
        prepared = await this.#prepare(req, caller, routed);
      } catch (err) {
        await this.#auditRefusal({ ...auth, request }, err);
        throw err;
      }
      // Built only for an audit line (none is written with no device).
      const { info } = prepared.target;
      const operation = prepared.request.operation;
      let auditedRequest: AuditRequest | undefined;
      const audited = (): AuditRequest => {
        if (auditedRequest !== undefined) return auditedRequest;
        const made = auditRequestOf(req, operation);
        made.mountType = info.type;
        made.mountAccessor = info.accessor;
        if (caller !== undefined) made.clientTokenAccessor = caller.entry.accessor;
        if (req.door !== undefined) made.door = doorOf(req.door, caller);
        return (auditedRequest = made);
      };
      // SECURITY: fail closed. With audit devices enabled, nothing runs unless one of them
      // recorded the request, and nothing is returned unless one recorded the response.
      // `idle` (open, no device) is exactly when logRequest/logResponse would resolve at once
      // having recorded nothing; the lines are then not built at all.
      if (!this.#audit.idle) await this.#audit.logRequest({ ...auth, request: audited() });
      let result: EngineResult;
      try {
        const { target } = prepared;
        if (target.kind === 'internal') {
          if (caller === undefined) {
            // Only a path the backend declares unauthenticated gets here (#prepare checked).
            if (target.backend.handleUnauthenticated === undefined) {
              throw new CofferError('permission_denied', PERMISSION_DENIED);
            }
            result = await target.backend.handleUnauthenticated(prepared.request);
          } else {
            result = await target.backend.handle(prepared.request, caller);
          }
        } else {
          result = await target.engine.handle(prepared.request);
          if (result.kind === 'lease' || result.kind === 'login') {
            result = await this.#settle(result, prepared, caller);
          }
          this.#publishChange(prepared, result);
        }
        if (req.wrapTtlSeconds !== undefined) {
          result = await this.#wrapper.wrap(result, req.path, req.wrapTtlSeconds);
        }
      } catch (err) {
        if (!this.#audit.idle) {
          await this.#audit.logResponse({ ...auth, request: audited(), error: auditError(err) });
        }
        throw err;
      }
      if (!this.#audit.idle) {
        // As Vault: a login's response line names the token it made in its `auth` block.
        const login = this.#loginAudit.get(result);
        await this.#audit.logResponse({
          ...(login === undefined ? auth : { auth: login }),
          request: audited(),
          response: auditResponseOf(result, prepared.target.info),
        });
      }
      return result;
    } finally {
      // A use-limited token is revoked after the request that used its last use (numUses -1;
      // completeUse is a no-op for every other entry).
      if (caller !== undefined && caller.entry.numUses === -1) {
        await this.#tokens.completeUse(caller.token, caller.entry);
      }
    }
  }

  /**
   * Whether a request may send a full-size body, decided from its path and token alone,
   * before the body is read: an unauthenticated path (a login), or a live token. Consumes no
   * token use and records nothing; the pipeline still authenticates the request itself.
   */
  async admitsBody(path: string, token: string | undefined): Promise<boolean> {
    if (!this.#ready) return false;
    if (this.#isUnauthenticated(path)) return true;
    if (token === undefined || token === '') return false;
    return (await this.#tokens.lookup(token)) !== undefined;
  }

  /**
   * A door's request names a credential: the core presents the credential's own token. An
   * unknown, revoked or expired credential is refused (and audited) like a bad token, with
   * `field: 'credential'` so the door can answer in its own words.
   */
  async #withCredential(req: CoreRequest): Promise<CoreRequest> {
    const { api, id } = req.credential!;
    const record = await this.#doorCredentials.lookup(api, id);
    if (record === undefined) {
      const err = credentialRefused();
      await this.#auditRefusal(
        {
          request: {
            id: req.requestId,
            operation: req.operation,
            path: req.path,
            data: req.data,
            ...(req.remoteAddress === undefined ? {} : { remoteAddress: req.remoteAddress }),
            ...(req.door === undefined ? {} : { door: req.door }),
          },
        },
        err,
      );
      throw err;
    }
    return { ...req, token: record.token };
  }

  /**
   * Streams change events for paths under `prefixes` that the token may read, until the
   * returned close() or the token stops being valid (checked at each event, so a revoked
   * token stops receiving). The subscription is audited as a read of sys/events/stream.
   */
  async subscribeChanges(options: {
    readonly token: string | undefined;
    readonly remoteAddress?: string;
    readonly requestId: string;
    readonly prefixes: readonly string[];
    readonly onEvent: (event: ChangeEvent) => void;
    readonly onEnd: (reason: string) => void;
  }): Promise<{ close(): void }> {
    if (!this.#ready) throw new CofferError('sealed', 'Vault is sealed');
    const request: AuditRequest = {
      id: options.requestId,
      operation: 'read',
      path: 'sys/events/stream',
      data: { prefix: [...options.prefixes] },
      ...(options.token === undefined ? {} : { clientToken: options.token }),
      ...(options.remoteAddress === undefined ? {} : { remoteAddress: options.remoteAddress }),
    };
    let caller: AuthedCaller;
    try {
      caller = await this.#authenticate(options.token, options.remoteAddress);
    } catch (err) {
      await this.#auditRefusal({ request }, err);
      throw err;
    }
    const auth = auditAuthOf(caller);
    const audited = { ...request, clientTokenAccessor: caller.entry.accessor };
    await this.#audit.logRequest({ auth, request: audited });
    await this.#audit.logResponse({
      auth,
      request: audited,
      response: auditResponseOf({ kind: 'empty' }, SYSTEM_MOUNT),
    });
    let closed = false;
    // Checks run one at a time so events reach the subscriber in order.
    let chain = Promise.resolve();
    const token = caller.token;
    const unsubscribe = this.#changes.subscribe((event) => {
      if (!options.prefixes.some((prefix) => event.path.startsWith(prefix))) return;
      chain = chain.then(async () => {
        if (closed) return;
        const entry = this.#ready ? await this.#tokens.lookup(token) : undefined;
        if (entry === undefined) {
          close();
          options.onEnd('token is no longer valid');
          return;
        }
        const isRoot = entry.policies.includes('root');
        const acl = isRoot ? undefined : (await this.#aclOf(entry)).acl;
        const allowed =
          acl === undefined ||
          acl.allowOperation({ operation: 'read', path: event.readPath, data: {} }).allowed;
        if (allowed && !closed) options.onEvent(event);
      });
      chain = chain.catch(() => undefined);
    });
    const endOnSeal = (reason: string): void => {
      close();
      options.onEnd(reason);
    };
    const close = (): void => {
      if (closed) return;
      closed = true;
      unsubscribe();
      this.#subscriptionEnds.delete(endOnSeal);
    };
    this.#subscriptionEnds.add(endOnSeal);
    return { close };
  }

  /**
   * A request refused before it reached a backend still gets its request and response
   * lines. If auditing fails too, the refusal stands (nothing was returned but an error).
   */
  async #auditRefusal(
    record: { auth?: ReturnType<typeof auditAuthOf>; request: AuditRequest },
    err: unknown,
  ): Promise<void> {
    const withError = { ...record, error: auditError(err) };
    try {
      await this.#audit.logRequest(withError);
      await this.#audit.logResponse(withError);
    } catch {
      // The original error is what the client gets.
    }
  }

  /**
   * `sys/wrapping/lookup` needs no token (as in Vault): presenting the wrapping token itself
   * would use up its single use. It is audited like any request.
   */
  async #wrappingLookup(req: CoreRequest, request: AuditRequest): Promise<EngineResult> {
    try {
      if (req.operation !== 'update') {
        throw new CofferError('unsupported_operation', 'unsupported operation');
      }
      const fields = parseFields(
        {
          token: {
            type: 'string',
            description: 'The wrapping token; default: the one in X-Vault-Token.',
          },
        },
        req.data,
      );
      const token = fields.token !== undefined && fields.token !== '' ? fields.token : req.token;
      if (token === undefined || token === '') throw invalidField('token', 'is required');
      const result: EngineResult = {
        kind: 'data',
        data: await this.#wrapper.lookup(token),
      };
      await this.#audit.logRequest({ request });
      await this.#audit.logResponse({ request, response: auditResponseOf(result, SYSTEM_MOUNT) });
      return result;
    } catch (err) {
      await this.#auditRefusal({ request }, err);
      throw err;
    }
  }

  /**
   * Routing, the existence check and authorisation: everything before the backend runs.
   * Without a caller (an auth method's login path) there is nothing to authorise.
   */
  async #prepare(
    req: CoreRequest,
    caller: AuthedCaller | undefined,
    routed: RoutedFor = {},
  ): Promise<Prepared> {
    requireWrapTtl(req.path, req.wrapTtlSeconds, this.#maxLeaseTtlSeconds);
    const target = this.#resolve(req.path);
    routed.mount = target.info;
    // Built field by field, not by spreading the context and optional parts: spreads made
    // this object a sixteenth of a KV read's server time (issue 17's profile).
    const context = this.#contextOf(target.info, target.storage);
    const fields: Mutable<EngineRequest> = {
      storage: context.storage,
      mount: context.mount,
      now: context.now,
      schedule: context.schedule,
      wal: context.wal,
      operation: req.operation,
      path: target.relativePath,
      data: Object.freeze({ ...req.data }),
      requestId: req.requestId,
    };
    if (context.publishEvent !== undefined) fields.publishEvent = context.publishEvent;
    if (req.remoteAddress !== undefined) fields.remoteAddress = req.remoteAddress;
    if (caller !== undefined) {
      fields.displayName = caller.entry.displayName;
      fields.mayRead = (path: string) => this.#allows(caller, 'read', `${target.info.path}${path}`);
    }
    if (req.door !== undefined) fields.door = doorOf(req.door, caller);
    let engineRequest: EngineRequest = Object.freeze(fields);
    if (req.operation === 'update') {
      const exists =
        target.kind === 'internal'
          ? await target.backend.exists(engineRequest)
          : await target.engine.exists(engineRequest);
      if (exists === false)
        engineRequest = Object.freeze({ ...engineRequest, operation: 'create' });
    }
    routed.operation = engineRequest.operation;
    if (caller === undefined) {
      // Only an unauthenticated path gets here; it must still be one after routing.
      const open =
        target.kind === 'engine'
          ? isUnauthenticatedPath(target.engine, target.relativePath)
          : (target.backend.unauthenticatedPaths?.has(target.relativePath.replace(/\/+$/, '')) ??
            false);
      if (!open) {
        throw new CofferError('permission_denied', PERMISSION_DENIED);
      }
    } else if (req.path.startsWith(UI_MOUNTS_PREFIX)) {
      this.#authorizeMountProbe(caller, req.path.slice(UI_MOUNTS_PREFIX.length));
    } else {
      this.#authorize(caller, engineRequest.operation, req.path, req.data);
    }
    return { target, request: engineRequest };
  }

  /**
   * What an engine gets besides a request: its storage, mount, clock, jobs and WAL. Made once
   * per mount (its info object) and storage view, not per request.
   */
  #contextOf(info: MountInfo, storage: Storage): EngineContext {
    const known = this.#contexts.get(info);
    if (known?.storage === storage) return known;
    const made = this.#newContext(info, storage);
    this.#contexts.set(info, made);
    return made;
  }

  #newContext(info: MountInfo, storage: Storage): EngineContext {
    return {
      storage,
      mount: info,
      now: this.#now,
      schedule: this.#scheduler.forMount(info.uuid),
      wal: this.#wal.forMount(info.uuid),
      publishEvent: (event) => {
        this.#changes.publish({
          path: `${info.path}${event.path}`.replace(/\/+$/, ''),
          readPath: `${info.path}${event.readPath}`.replace(/\/+$/, ''),
          mount: info.path,
          operation: event.operation,
          eventType: event.eventType,
          secretId: event.secretId,
          time: this.#now(),
        });
      },
    };
  }

  #isUnauthenticated(path: string): boolean {
    if (path.startsWith(IDENTITY_MOUNT.path)) {
      return OIDC_UNAUTHENTICATED_PATHS.has(
        path.slice(IDENTITY_MOUNT.path.length).replace(/\/+$/, ''),
      );
    }
    if (!path.startsWith('auth/') || path.startsWith(TOKEN_MOUNT.path)) return false;
    const routed = this.#authMounts.route(path);
    return routed !== undefined && isUnauthenticatedPath(routed.mount.engine, routed.relativePath);
  }

  /**
   * Turns what only engines return into what clients get: a lease grant is registered (owned
   * by the calling token) and rendered as leased data; a login grant becomes a token.
   */
  async #settle(
    result: EngineResult,
    prepared: Prepared,
    caller: AuthedCaller | undefined,
  ): Promise<EngineResult> {
    const { target } = prepared;
    if (result.kind === 'lease') {
      return this.#registerLease(result.data, result.lease, prepared, caller, result.warnings);
    }
    if (result.kind === 'login') {
      if (!target.info.path.startsWith('auth/')) {
        throw new CofferError('internal', 'only auth methods may log in');
      }
      return this.#login(result.login, prepared, result.warnings);
    }
    return result;
  }

  async #registerLease(
    data: JsonObject,
    grant: LeaseGrant,
    prepared: Prepared,
    caller: AuthedCaller | undefined,
    warnings: readonly string[] | undefined,
  ): Promise<EngineResult> {
    const { info } = prepared.target;
    const mountMax = info.config.maxLeaseTtlSeconds;
    const maxTtlSeconds =
      grant.maxTtlSeconds > 0 ? Math.min(grant.maxTtlSeconds, mountMax) : mountMax;
    const ttlSeconds = Math.max(
      1,
      Math.min(grant.ttlSeconds || info.config.defaultLeaseTtlSeconds, maxTtlSeconds),
    );
    // Batch tokens are never stored, so they cannot own leases (as in Vault).
    const tokenHash =
      caller !== undefined && caller.entry.type === 'service'
        ? this.#tokens.hashToken(caller.token)
        : undefined;
    let lease: LeaseRecord;
    try {
      lease = await this.#leases.register({
        path: `${info.path}${prepared.request.path}`,
        mountPath: info.path,
        secretType: grant.secretType,
        internal: grant.internal,
        ttlSeconds,
        maxTtlSeconds,
        renewable: grant.renewable,
        ...(tokenHash === undefined ? {} : { tokenHash }),
      });
    } catch (err) {
      // The secret exists but nothing would ever revoke it: undo it now.
      await this.#rollbackNow(prepared, grant.walIds ?? []);
      throw err;
    }
    for (const id of grant.walIds ?? []) await prepared.request.wal.delete(id);
    return {
      kind: 'data',
      data,
      leaseId: lease.id,
      leaseDurationSeconds: ttlSeconds,
      renewable: lease.renewable,
      ...(warnings === undefined ? {} : { warnings }),
    };
  }

  async #rollbackNow(prepared: Prepared, walIds: readonly string[]): Promise<void> {
    const { target } = prepared;
    if (target.kind !== 'engine' || walIds.length === 0) return;
    for (const entry of await this.#wal.entries(target.info.uuid, walIds)) {
      try {
        await target.engine.rollback?.(prepared.request, entry);
        await prepared.request.wal.delete(entry.id);
      } catch (err) {
        // Left for the sweep, which retries it.
        this.#logger?.warn(
          { err: isCofferError(err) ? err.code : 'error' },
          'rollback after a failed lease registration failed',
        );
      }
    }
  }

  /** Creates the token a login grant asks for: an orphan, within the auth mount's TTLs. */
  async #login(
    grant: LoginGrant,
    prepared: Prepared,
    warnings: readonly string[] | undefined,
  ): Promise<EngineResult> {
    const { info } = prepared.target;
    const mountMax = info.config.maxLeaseTtlSeconds;
    const maxTtlSeconds =
      grant.maxTtlSeconds > 0 ? Math.min(grant.maxTtlSeconds, mountMax) : mountMax;
    // SECURITY: no auth method may mint root tokens, whatever its role says.
    if (grant.policies.some((p) => p.trim().toLowerCase() === 'root')) {
      throw new CofferError('permission_denied', 'auth methods cannot create root tokens');
    }
    const policies = grant.noDefaultPolicy ? [...grant.policies] : [...grant.policies, 'default'];
    // Vault's display name: the mount path with '-' for '/', then the method's name for the user.
    const prefix = info.path.slice('auth/'.length).replace(/\//g, '-');
    // The entity behind the alias, found or created (and its external groups refreshed).
    const mount = this.#authMountRef(info.accessor) ?? {
      accessor: info.accessor,
      type: info.type,
      path: info.path,
      local: false,
    };
    const entity = await this.#identity.loginEntity({
      mount,
      aliasName: grant.alias.name,
      aliasMetadata: grant.alias.metadata ?? {},
      groupAliases: grant.groupAliases,
    });
    // SECURITY: a disabled entity cannot log in (as in Vault).
    if (entity.disabled) throw new CofferError('permission_denied', PERMISSION_DENIED);
    const identityPolicies = (await this.#identity.resolve(entity.id))?.policies ?? [];
    const created = await this.#tokens.create({
      type: grant.tokenType === 'batch' ? 'batch' : 'service',
      policies,
      path: `${info.path}${prepared.request.path}`.replace(/\/+$/, ''),
      displayName: `${prefix}${grant.displayName}`.replace(/-+$/, ''),
      meta: { ...grant.metadata },
      ttlSeconds: grant.ttlSeconds || info.config.defaultLeaseTtlSeconds,
      maxTtlSeconds,
      ...(grant.explicitMaxTtlSeconds > 0
        ? { explicitMaxTtlSeconds: grant.explicitMaxTtlSeconds }
        : {}),
      ...(grant.periodSeconds > 0 ? { periodSeconds: grant.periodSeconds } : {}),
      ...(grant.numUses > 0 ? { numUses: grant.numUses } : {}),
      ...(grant.renewable === undefined ? {} : { renewable: grant.renewable }),
      boundCidrs: grant.boundCidrs,
      entityId: entity.id,
    });
    const all = [...(warnings ?? []), ...created.warnings];
    const result: EngineResult = {
      kind: 'auth',
      auth: authResult(created.entry, created.token, created.entry.ttlSeconds, identityPolicies),
      ...(all.length === 0 ? {} : { warnings: all }),
    };
    if (!this.#audit.idle) {
      this.#loginAudit.set(
        result,
        auditAuthOf({ token: created.token, entry: created.entry, identityPolicies }),
      );
    }
    return result;
  }

  /** A successful change through a secret engine tells subscribers its path and version. */
  #publishChange(prepared: Prepared, result: EngineResult): void {
    const { operation } = prepared.request;
    const { info } = prepared.target;
    if (!isChange(operation) || info.path.startsWith('auth/')) return;
    const version = result.kind === 'data' ? result.data['version'] : undefined;
    const { target } = prepared;
    const relative = prepared.request.path;
    const secretPath =
      target.kind === 'engine' && target.engine.secretPathOf !== undefined
        ? target.engine.secretPathOf(relative)
        : relative;
    this.#changes.publish({
      path: `${info.path}${relative}`.replace(/\/+$/, ''),
      readPath: `${info.path}${secretPath}`.replace(/\/+$/, ''),
      mount: info.path,
      operation,
      ...(typeof version === 'number' ? { version } : {}),
      time: this.#now(),
    });
  }

  /**
   * Every service token with an expiry has a lease, so it is revoked when it expires even if
   * nobody presents it again; a renewal moves the lease.
   */
  async #trackTokenLease(hash: string, entry: TokenEntry): Promise<void> {
    if (entry.expiresAt === undefined) return;
    const id = tokenLeaseId(hash, entry);
    if ((await this.#leases.lookup(id)) !== undefined) {
      await this.#leases.reschedule(id, entry.expiresAt);
      return;
    }
    await this.#leases.register({
      id,
      kind: 'token',
      path: entry.path,
      mountPath: entry.path.startsWith('auth/')
        ? (this.#authMounts.route(entry.path)?.mount.info.path ?? TOKEN_MOUNT.path)
        : TOKEN_MOUNT.path,
      ttlSeconds: Math.max(1, Math.ceil((entry.expiresAt - this.#now()) / 1000)),
      maxTtlSeconds: 0,
      renewable: entry.renewable,
      tokenHash: hash,
    });
  }

  /** Where an expired or revoked lease goes: the token store, or the engine that issued it. */
  async #revokeLease(lease: LeaseRecord): Promise<void> {
    if (lease.kind === 'token' && lease.tokenHash !== undefined) {
      await this.#tokens.revokeHash(lease.tokenHash);
      return;
    }
    const routed = this.#routedAt(lease.mountPath);
    if (routed === undefined) {
      throw new CofferError('no_route', `no engine revokes leases issued at ${lease.mountPath}`);
    }
    // An engine without a revoke hook has nothing outside Coffer to undo.
    await routed.engine.revokeLease?.(
      this.#contextOf(routed.info, routed.storage),
      leaseInfo(lease),
    );
  }

  async #renewLease(lease: LeaseRecord, incrementSeconds: number): Promise<LeaseRenewal> {
    if (lease.kind === 'token') return {};
    const routed = this.#routedAt(lease.mountPath);
    if (routed === undefined) {
      throw new CofferError('no_route', `no engine renews leases issued at ${lease.mountPath}`);
    }
    if (routed.engine.renewLease === undefined) {
      throw new CofferError('invalid_request', 'lease is not renewable');
    }
    const context = this.#contextOf(routed.info, routed.storage);
    const grant = await routed.engine.renewLease(context, leaseInfo(lease), incrementSeconds);
    const mountMax = routed.info.config.maxLeaseTtlSeconds;
    return {
      ...(grant.ttlSeconds === undefined ? {} : { ttlSeconds: grant.ttlSeconds }),
      maxTtlSeconds:
        grant.maxTtlSeconds !== undefined && grant.maxTtlSeconds > 0
          ? Math.min(grant.maxTtlSeconds, mountMax)
          : mountMax,
      ...(grant.internal === undefined ? {} : { internal: grant.internal }),
    };
  }

  /** The mount at a full logical mount path, in either table. */
  #routedAt(mountPath: string): RoutedMount | undefined {
    return mountPath.startsWith('auth/')
      ? this.#authMounts.byPath(mountPath)
      : this.#mounts.byPath(mountPath);
  }

  async #runJob(mountUuid: string, name: string): Promise<boolean> {
    const routed = this.#mounts.byUuid(mountUuid) ?? this.#authMounts.byUuid(mountUuid);
    if (routed?.engine.runScheduled === undefined) return false;
    const { info } = routed;
    try {
      await routed.engine.runScheduled(this.#contextOf(info, routed.storage), name);
    } catch (err) {
      this.#metrics?.scheduledJob(info.path, info.type, name, 'failure');
      throw err;
    }
    this.#metrics?.scheduledJob(info.path, info.type, name, 'success');
    return true;
  }

  /** Rolls back every write-ahead entry created before `before` (epoch ms). */
  async #rollbackSweep(before: number): Promise<void> {
    try {
      for (const uuid of await this.#wal.mounts()) {
        const routed = this.#mounts.byUuid(uuid) ?? this.#authMounts.byUuid(uuid);
        if (routed === undefined) continue; // its mount is being disabled or was
        const context = this.#contextOf(routed.info, routed.storage);
        for (const entry of await this.#wal.entriesBefore(uuid, before)) {
          if (!this.#ready) return;
          try {
            await routed.engine.rollback?.(context, entry);
            await context.wal.delete(entry.id);
          } catch (err) {
            this.#logger?.warn(
              { err: isCofferError(err) ? err.code : 'error', kind: entry.kind },
              'rollback of a write-ahead entry failed; retrying on the next sweep',
            );
          }
        }
      }
    } catch (err) {
      this.#logger?.warn(
        { err: isCofferError(err) ? err.code : 'error' },
        'write-ahead sweep failed',
      );
    }
  }

  /**
   * Before a mount goes: its leases are revoked (a failure keeps the mount, as in Vault),
   * then its jobs and write-ahead entries are dropped.
   */
  async #beforeUnmount(info: MountInfo): Promise<void> {
    await this.#leases.revokePrefix(info.path);
    // An auth method's aliases go with it (as in Vault); its entities and groups stay.
    if (info.path.startsWith('auth/')) await this.#identity.deleteAliasesOfMount(info.accessor);
    await this.#scheduler.dropMount(info.uuid);
    await this.#wal.dropMount(info.uuid);
  }

  /** Capabilities from the caller's policies, plus sudo on root-protected paths. */
  #authorize(
    caller: AuthedCaller,
    operation: Operation,
    path: string,
    data: Readonly<Record<string, unknown>>,
  ): void {
    if (!this.#allows(caller, operation, path, data)) {
      throw new CofferError('permission_denied', PERMISSION_DENIED);
    }
  }

  #allows(
    caller: AuthedCaller,
    operation: Operation,
    path: string,
    data: Readonly<Record<string, unknown>> = {},
  ): boolean {
    if (caller.isRoot) return true;
    const decision = caller.acl.allowOperation({ operation, path, data });
    return decision.allowed && (!isSudoPath(path) || decision.sudo);
  }

  /**
   * The KV-version probe answers any token that has some capability inside the mount it
   * asks about (as Vault does), so limited tokens can use `kv` tooling; others get 403.
   */
  #authorizeMountProbe(caller: AuthedCaller, path: string): void {
    if (caller.isRoot) return;
    const routed = this.#mounts.route(path);
    if (routed !== undefined && caller.acl.hasAccessUnder(routed.mount.entry.path)) return;
    throw new CofferError('permission_denied', PERMISSION_DENIED);
  }

  #resolve(path: string): Target {
    // The core's own mounts come first; no engine can be mounted under their prefixes.
    for (const [info, backend, storage] of this.#internalMounts) {
      if (path.startsWith(info.path) || `${path}/` === info.path) {
        return {
          kind: 'internal',
          backend,
          storage,
          info,
          relativePath: path.slice(info.path.length),
        };
      }
    }
    const routed = path.startsWith('auth/')
      ? this.#authMounts.route(path)
      : this.#mounts.route(path);
    if (routed === undefined) {
      throw new CofferError('no_route', `no handler for route "${path}". route entry not found.`);
    }
    return { kind: 'engine', ...routed.mount, relativePath: routed.relativePath };
  }
}

/**
 * The request block of an audit line. Built as a literal with the optional fields set after,
 * not by spreading: see #prepare.
 */
function auditRequestOf(req: CoreRequest, operation: Operation): Mutable<AuditRequest> {
  const request: Mutable<AuditRequest> = {
    id: req.requestId,
    operation,
    path: req.path,
    data: req.data,
  };
  if (req.token !== undefined) request.clientToken = req.token;
  if (req.remoteAddress !== undefined) request.remoteAddress = req.remoteAddress;
  if (req.door !== undefined) request.door = req.door;
  return request;
}

/** The door as an engine sees it: the method, plus the caller's principal when it has one. */
function doorOf(
  door: DoorMethod,
  caller: AuthedCaller | undefined,
): NonNullable<EngineRequest['door']> {
  const principal = caller?.entry.meta?.['principal_arn'] ?? caller?.entry.meta?.['principal'];
  return Object.freeze({ ...door, ...(principal === undefined ? {} : { principal }) });
}

/** A door credential that does not resolve to a live token. */
function credentialRefused(): CofferError {
  return new CofferError('permission_denied', 'unknown, revoked or expired door credential', {
    field: 'credential',
  });
}

function leaseInfo(lease: LeaseRecord): LeaseInfo {
  return {
    id: lease.id,
    path: lease.path,
    secretType: lease.secretType ?? '',
    internal: lease.internal ?? null,
    issuedAt: lease.issuedAt,
    expiresAt: lease.expiresAt,
    ttlSeconds: lease.ttlSeconds,
  };
}
