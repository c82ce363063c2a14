// The core: seal state, initialisation, and the request pipeline every front door calls
// (sealed? → token → route → existence check → ACL → backend). It never sees HTTP.
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
import { CofferError, isCofferError } from '../sdk/errors.js';
import { parseFields } from '../sdk/fields.js';
import { prefixedStorage, type Storage } from '../sdk/storage.js';
import { AuditBroker } from './audit/audit-broker.js';
import { auditAuthOf, auditResponseOf, type AuditRequest } from './audit/format.js';
import type { Caller, InternalBackend } from './caller.js';
import { createCubbyholeBackend, destroyCubbyhole } from './cubbyhole-backend.js';
import { CORE_KEYS } from './keys.js';
import { LEASE_KEYS } from './lease-keys.js';
import { LeaseManager, type LeaseRecord } from './lease-manager.js';
import { MountTable } from './mount-table.js';
import type { Acl } from './policy/acl.js';
import { PolicyStore } from './policy/policy-store.js';
import { isSudoPath } from './sudo-paths.js';
import { createSystemBackend } from './system-backend.js';
import { createTokenBackend } from './token-backend.js';
import { TokenStore, type TokenEntry } from './token-store.js';
import { ResponseWrapper, requireWrapTtl } from './wrapping.js';

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

const SYSTEM_MOUNT = internalMount('sys/', 'system', '00000000-0000-0000-0000-000000000000');
const TOKEN_MOUNT = internalMount('auth/token/', 'token', '00000000-0000-0000-0000-000000000001');
const CUBBYHOLE_MOUNT = internalMount(
  'cubbyhole/',
  'cubbyhole',
  '00000000-0000-0000-0000-000000000002',
);

const WRAPPING_LOOKUP_PATH = 'sys/wrapping/lookup';

/** Answered for any token that may use the path through its mount (the handler checks). */
const UI_MOUNTS_PREFIX = 'sys/internal/ui/mounts/';

const PERMISSION_DENIED = 'permission denied';

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

/** A token's lease id: fixed per token, so the token store can find it from the hash. */
function tokenLeaseId(hash: string): string {
  return `${TOKEN_MOUNT.path}create/${hash}`;
}

export class Core {
  readonly #seal: SealManager;
  readonly #now: () => number;
  readonly #tokens: TokenStore;
  readonly #policies: PolicyStore;
  readonly #audit: AuditBroker;
  readonly #leases: LeaseManager;
  readonly #wrapper: ResponseWrapper;
  readonly #mounts: MountTable;
  readonly #system: InternalBackend;
  readonly #tokenBackend: InternalBackend;
  readonly #cubbyhole: InternalBackend;
  readonly #internalMounts: readonly (readonly [MountInfo, InternalBackend, Storage])[];
  readonly #systemStorage: Storage;
  readonly #tokenStorage: Storage;
  /** Set once the services behind the barrier are loaded after an unseal. */
  #ready = false;
  #opening: Promise<void> | undefined;

  constructor(deps: CoreDeps) {
    this.#seal = deps.seal;
    this.#now = deps.now;
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
      onDeleted: async (hash) => {
        // Not awaited: this runs under the token store's lock, and the lease manager may be
        // holding this very lease's lock while it revokes the token (a lock cycle otherwise).
        // A lease already being expired is found gone and skipped.
        this.#leases.forget(tokenLeaseId(hash)).catch(() => undefined);
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
      ...(deps.logger === undefined ? {} : { logger: deps.logger }),
    });
    this.#policies = new PolicyStore({
      storage: prefixedStorage(deps.barrier, CORE_KEYS.policyPrefix),
    });
    this.#audit = new AuditBroker({
      storage: prefixedStorage(deps.barrier, CORE_KEYS.auditPrefix),
      now: deps.now,
      ...(deps.logger === undefined ? {} : { logger: deps.logger }),
    });
    this.#mounts = new MountTable({
      barrier: deps.barrier,
      engines: deps.engines,
      now: deps.now,
      defaultLeaseTtlSeconds: deps.defaultLeaseTtlSeconds,
      maxLeaseTtlSeconds: deps.maxLeaseTtlSeconds,
    });
    this.#wrapper = new ResponseWrapper({ tokens: this.#tokens, barrier: deps.barrier });
    this.#system = createSystemBackend({
      mounts: this.#mounts,
      barrier: deps.barrier,
      policies: this.#policies,
      tokens: this.#tokens,
      audit: this.#audit,
      leases: this.#leases,
      wrapper: this.#wrapper,
    });
    this.#tokenBackend = createTokenBackend({
      tokens: this.#tokens,
      now: deps.now,
      policyExists: async (name) => (await this.#policies.get(name)) !== undefined,
    });
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
    ];
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
    this.#ready = false;
    this.#leases.close();
    this.#tokens.close();
    this.#policies.close();
    this.#mounts.clear();
    this.#seal.seal();
  }

  async #open(): Promise<void> {
    if (this.#ready) return;
    this.#opening ??= (async () => {
      try {
        await this.#tokens.open();
        await this.#policies.open();
        await this.#mounts.load();
        await this.#audit.open();
        // Leases due while the server was down are revoked right after this.
        await this.#leases.open();
        this.#ready = true;
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
    if (entry === undefined) throw new CofferError('permission_denied', PERMISSION_DENIED);
    const acl = await this.#policies.acl(entry.policies);
    const isRoot = entry.policies.includes('root');
    return {
      token: token!,
      entry,
      acl,
      isRoot,
      sudoOn: (path) => isRoot || acl.capabilities(path).includes('sudo'),
    };
  }

  /**
   * The pipeline. SECURITY: every logical request passes here; nothing reaches a backend
   * while sealed, without a valid token, or without the capability its policies grant.
   */
  async handleRequest(req: CoreRequest): Promise<EngineResult> {
    if (!this.#ready) throw new CofferError('sealed', 'Vault is sealed');
    const request: AuditRequest = {
      id: req.requestId,
      operation: req.operation,
      path: req.path,
      data: req.data,
      ...(req.token === undefined ? {} : { clientToken: req.token }),
      ...(req.remoteAddress === undefined ? {} : { remoteAddress: req.remoteAddress }),
    };
    if (req.path === WRAPPING_LOOKUP_PATH) return this.#wrappingLookup(req, request);
    let caller: Caller & { readonly acl: Acl };
    try {
      caller = await this.#authenticate(req.token, req.remoteAddress);
    } catch (err) {
      await this.#auditRefusal({ request }, err);
      throw err;
    }
    try {
      const auth = auditAuthOf(caller);
      let prepared: Prepared;
      try {
        prepared = await this.#prepare(req, caller);
      } catch (err) {
        await this.#auditRefusal({ auth, request }, err);
        throw err;
      }
      const audited: AuditRequest = {
        ...request,
        operation: prepared.request.operation,
        clientTokenAccessor: caller.entry.accessor,
        mountType: prepared.target.info.type,
        mountAccessor: prepared.target.info.accessor,
      };
      // SECURITY: fail closed. With audit devices enabled, nothing runs unless one of them
      // recorded the request, and nothing is returned unless one recorded the response.
      await this.#audit.logRequest({ auth, request: audited });
      let result: EngineResult;
      try {
        const { target } = prepared;
        result =
          target.kind === 'internal'
            ? await target.backend.handle(prepared.request, caller)
            : await target.engine.handle(prepared.request);
        if (req.wrapTtlSeconds !== undefined) {
          result = await this.#wrapper.wrap(result, req.path, req.wrapTtlSeconds);
        }
      } catch (err) {
        await this.#audit.logResponse({ auth, request: audited, error: auditError(err) });
        throw err;
      }
      await this.#audit.logResponse({
        auth,
        request: audited,
        response: auditResponseOf(result, prepared.target.info),
      });
      return result;
    } finally {
      // A use-limited token is revoked after the request that used its last use.
      await this.#tokens.completeUse(caller.token, caller.entry);
    }
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
        { token: { type: 'string', description: 'The wrapping token.', required: true } },
        req.data,
      );
      const result: EngineResult = {
        kind: 'data',
        data: await this.#wrapper.lookup(fields.token ?? ''),
      };
      await this.#audit.logRequest({ request });
      await this.#audit.logResponse({ request, response: auditResponseOf(result, SYSTEM_MOUNT) });
      return result;
    } catch (err) {
      await this.#auditRefusal({ request }, err);
      throw err;
    }
  }

  /** Routing, the existence check and authorisation: everything before the backend runs. */
  async #prepare(req: CoreRequest, caller: Caller & { readonly acl: Acl }): Promise<Prepared> {
    requireWrapTtl(req.path, req.wrapTtlSeconds);
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
      const exists =
        target.kind === 'internal'
          ? await target.backend.exists(engineRequest)
          : await target.engine.exists(engineRequest);
      if (exists === false)
        engineRequest = Object.freeze({ ...engineRequest, operation: 'create' });
    }
    if (req.path.startsWith(UI_MOUNTS_PREFIX)) {
      this.#authorizeMountProbe(caller, req.path.slice(UI_MOUNTS_PREFIX.length));
    } else {
      this.#authorize(caller, engineRequest.operation, req.path, req.data);
    }
    return { target, request: engineRequest };
  }

  /**
   * Every service token with an expiry has a lease, so it is revoked when it expires even if
   * nobody presents it again; a renewal moves the lease.
   */
  async #trackTokenLease(hash: string, entry: TokenEntry): Promise<void> {
    if (entry.expiresAt === undefined) return;
    const id = tokenLeaseId(hash);
    if ((await this.#leases.lookup(id)) !== undefined) {
      await this.#leases.reschedule(id, entry.expiresAt);
      return;
    }
    await this.#leases.register({
      id,
      kind: 'token',
      path: entry.path,
      mountPath: TOKEN_MOUNT.path,
      ttlSeconds: Math.max(1, Math.ceil((entry.expiresAt - this.#now()) / 1000)),
      maxTtlSeconds: 0,
      renewable: entry.renewable,
      tokenHash: hash,
    });
  }

  /** Where an expired or revoked lease goes: the token store, or (later) its engine. */
  async #revokeLease(lease: LeaseRecord): Promise<void> {
    if (lease.kind === 'token' && lease.tokenHash !== undefined) {
      await this.#tokens.revokeHash(lease.tokenHash);
      return;
    }
    throw new CofferError('no_route', `no engine revokes leases issued at ${lease.mountPath}`);
  }

  /** Capabilities from the caller's policies, plus sudo on root-protected paths. */
  #authorize(
    caller: Caller & { readonly acl: Acl },
    operation: Operation,
    path: string,
    data: Readonly<Record<string, unknown>>,
  ): void {
    if (caller.isRoot) return;
    const decision = caller.acl.allowOperation({ operation, path, data });
    if (!decision.allowed || (isSudoPath(path) && !decision.sudo)) {
      throw new CofferError('permission_denied', PERMISSION_DENIED);
    }
  }

  /**
   * The KV-version probe answers any token that has some capability inside the mount it
   * asks about (as Vault does), so limited tokens can use `kv` tooling; others get 403.
   */
  #authorizeMountProbe(caller: Caller & { readonly acl: Acl }, path: string): void {
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
    const routed = this.#mounts.route(path);
    if (routed === undefined) {
      throw new CofferError('no_route', `no handler for route "${path}". route entry not found.`);
    }
    return { kind: 'engine', ...routed.mount, relativePath: routed.relativePath };
  }
}
