// The CofferSecret operator: one Secret per resource, kept in step with Coffer.
//   - Pushed: Coffer's change-event stream names the paths written; their resources reconcile
//     at once. A periodic resync and every stream (re)connect are the safety net.
//   - Idempotent: a reconcile reads the sources, computes the Secret and its HMAC, and writes
//     only when the HMAC, labels or annotations differ; status is patched only when it changes.
//   - Leases: dynamic credentials are renewed at 2/3 of their TTL (LeaseKeeper); when a lease
//     cannot be renewed further, new credentials are read 2/3 into its last stretch, the Secret
//     is updated, workloads are restarted, and the old lease is revoked after a grace period.
//   - Restart-safe: its token and leased reads live in its state Secret (state-store.ts).
// SECURITY: log lines and status messages name resources, paths and keys, never values.
import type { V1ObjectMeta, V1Secret } from '@kubernetes/client-node';
import {
  ApiError,
  CofferClient,
  ConnectionError,
  LeaseKeeper,
  readSecrets,
  ResolveError,
  subscribeChanges,
} from '../client/index.js';
import type { ChangeSubscription, SecretLease, SecretRead } from '../client/index.js';
import {
  API_VERSION,
  FINALIZER,
  GROUP,
  KIND,
  MAC_ANNOTATION,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  OWNER_ANNOTATION,
  parseSpec,
  PLURAL,
  scopesFor,
  SpecError,
  VERSION,
} from './crd.js';
import type {
  CofferSecret,
  CofferSecretSpec,
  CofferSecretStatus,
  Condition,
  LeaseStatus,
} from './crd.js';
import { describeApiError, MERGE_PATCH, statusOf } from './kube.js';
import type { KubeApis } from './kube.js';
import { keyOf, ListWatch } from './list-watch.js';
import type { KubeObject, ListResult } from './list-watch.js';
import { restartAnnotation, Restarter } from './restarter.js';
import type { RestartTarget } from './restarter.js';
import { buildSecretData, dataMac, sourceTarget } from './secret-data.js';
import { StateStore } from './state-store.js';
import type { StoredRead } from './state-store.js';

export interface OperatorToken {
  readonly token: string;
  readonly ttlSeconds: number;
  readonly renewable: boolean;
}

export interface OperatorOptions {
  readonly apis: KubeApis;
  /** The operator's own namespace (its state Secret lives there). */
  readonly namespace: string;
  readonly address: string;
  /** Logs in (Kubernetes auth method with the operator's service-account token). */
  readonly login: () => Promise<OperatorToken>;
  /** Keeps a token renewed; calls `onExpiring` when a new login is needed. */
  readonly keepToken: (token: OperatorToken, onExpiring: () => void) => void;
  readonly resyncMs: number;
  readonly restartIntervalMs: number;
  readonly restartDebounceMs?: number;
  readonly revokeGraceMs: number;
  /** Allowed source prefixes ({namespace} expanded per resource); empty = no limit. */
  readonly scopes: readonly string[];
  readonly log: (line: string) => void;
  readonly fetch?: typeof fetch;
}

type SecretObject = V1Secret & KubeObject;

/** What the operator holds for one resource between reconciles. */
interface Entry {
  readonly uid: string;
  key: string;
  readonly keeper: LeaseKeeper;
  /** Leased reads, by targetId (reused while their lease is kept). */
  reads: Map<string, StoredRead>;
  /** targetIds a change event named since the last read. */
  stale: Set<string>;
  watchPaths: Set<string>;
  lastMac: string | undefined;
  /** The resourceVersion of the Secret as we last wrote or checked it. */
  secretVersion: string | undefined;
}

const MAX_CONFLICT_RETRIES = 5;
const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 60_000;
const WORKERS = 4;
/** Resources dropped from the event stream's prefixes are re-read this long after a change. */
const DEBOUNCE_MS = 20;

function isGone(error: unknown): boolean {
  return statusOf(error) === 404;
}

function ownedBy(secret: SecretObject, uid: string): boolean {
  return (secret.metadata?.ownerReferences ?? []).some((ref) => ref.uid === uid);
}

function sameMap(
  a: Readonly<Record<string, string>> | undefined,
  b: Readonly<Record<string, string>>,
) {
  const left = a ?? {};
  const keys = Object.keys(b);
  return keys.length === Object.keys(left).length && keys.every((k) => left[k] === b[k]);
}

export class Operator {
  readonly #o: OperatorOptions;
  readonly #state: StateStore;
  readonly #restarter: Restarter;
  readonly #entries = new Map<string, Entry>();
  readonly #resources: ListWatch<CofferSecret>;
  readonly #secrets: ListWatch<SecretObject>;
  #token: OperatorToken | undefined;
  #client: CofferClient | undefined;
  #subscription: ChangeSubscription | undefined;
  #subscribedTo = '';
  #resync: NodeJS.Timeout | undefined;
  #relogin: NodeJS.Timeout | undefined;
  readonly #revocations = new Set<NodeJS.Timeout>();
  readonly #queue: string[] = [];
  readonly #queued = new Set<string>();
  readonly #running = new Set<string>();
  readonly #again = new Set<string>();
  readonly #failures = new Map<string, number>();
  readonly #retryTimers = new Map<string, NodeJS.Timeout>();
  #debounce: NodeJS.Timeout | undefined;
  #pendingEvents = new Set<string>();
  #stopped = false;
  /** Counters for logs and tests. */
  readonly stats = { reconciles: 0, secretWrites: 0, conflicts: 0, revoked: 0 };

  constructor(options: OperatorOptions) {
    this.#o = options;
    const { core, custom } = options.apis;
    this.#state = new StateStore(core, options.namespace);
    this.#restarter = new Restarter({
      apply: (target, annotation, value) => this.#applyRestart(target, annotation, value),
      intervalMs: options.restartIntervalMs,
      debounceMs: options.restartDebounceMs ?? 1_000,
      log: options.log,
    });
    this.#resources = new ListWatch<CofferSecret>({
      config: options.apis.config,
      path: `/apis/${GROUP}/${VERSION}/${PLURAL}`,
      list: async () =>
        (await custom.listClusterCustomObject({
          group: GROUP,
          version: VERSION,
          plural: PLURAL,
        })) as ListResult<CofferSecret>,
      onEvent: (event, resource) => {
        this.#onResource(event, resource);
      },
      log: options.log,
    });
    const selector = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;
    this.#secrets = new ListWatch<SecretObject>({
      config: options.apis.config,
      path: '/api/v1/secrets',
      labelSelector: selector,
      list: async () =>
        await core.listSecretForAllNamespaces({
          labelSelector: selector,
        }),
      onEvent: (event, secret) => {
        this.#onSecret(event, secret);
      },
      log: options.log,
    });
  }

  /** Loads the state, gets a token, lists and watches; resolves once everything was listed. */
  async start(): Promise<void> {
    await this.#state.load();
    await this.#ensureToken();
    await this.#secrets.start();
    await this.#resources.start();
    this.#dropOrphanedLeases();
    this.#resync = setInterval(() => {
      this.#enqueueAll();
    }, this.#o.resyncMs);
  }

  /** Stops watching and reconciling. Leases are kept: a new operator continues with them. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#resync);
    clearTimeout(this.#relogin);
    clearTimeout(this.#debounce);
    for (const timer of this.#retryTimers.values()) clearTimeout(timer);
    for (const timer of this.#revocations) clearTimeout(timer);
    this.#resources.stop();
    this.#secrets.stop();
    this.#subscription?.close();
    this.#restarter.close();
    for (const entry of this.#entries.values()) entry.keeper.close();
    await this.#state.flush().catch(() => undefined);
  }

  get restarts(): number {
    return this.#restarter.restarts;
  }

  // ---- token -------------------------------------------------------------------------------

  async #ensureToken(): Promise<void> {
    const kept = this.#state.token;
    if (kept !== undefined) {
      try {
        const client = this.#newClient(kept);
        const info = (await client.lookupSelf()).info;
        this.#useToken({ token: kept, ttlSeconds: info.ttl, renewable: info.renewable === true });
        this.#o.log(`continuing with the stored token (TTL ${info.ttl}s)`);
        return;
      } catch (error) {
        if (error instanceof ConnectionError) throw error;
        this.#o.log('the stored token is no longer valid; logging in');
      }
    }
    await this.#login();
  }

  async #login(): Promise<void> {
    const token = await this.#o.login();
    this.#useToken(token);
    this.#state.setToken(token.token);
    await this.#state.flush();
    this.#o.log(`logged in (token TTL ${token.ttlSeconds}s)`);
  }

  #useToken(token: OperatorToken): void {
    this.#token = token;
    this.#client = this.#newClient(token.token);
    this.#o.keepToken(token, () => {
      this.#scheduleRelogin(0, RETRY_MIN_MS);
    });
  }

  #newClient(token: string): CofferClient {
    return new CofferClient({
      address: this.#o.address,
      token,
      ...(this.#o.fetch === undefined ? {} : { fetch: this.#o.fetch }),
    });
  }

  #scheduleRelogin(delayMs: number, nextMs: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#relogin);
    this.#relogin = setTimeout(() => {
      this.#login()
        .then(() => {
          // Leases end with the token that made them: read every credential again.
          for (const entry of this.#entries.values()) {
            entry.keeper.track([]);
            entry.reads = new Map();
          }
          this.#subscribe(true);
          this.#enqueueAll();
        })
        .catch((error: unknown) => {
          this.#o.log(`login failed, will retry in ${nextMs / 1000}s: ${messageOf(error)}`);
          this.#scheduleRelogin(nextMs, Math.min(RETRY_MAX_MS, nextMs * 2));
        });
    }, delayMs);
  }

  // ---- events ------------------------------------------------------------------------------

  #onResource(event: 'add' | 'update' | 'delete', resource: CofferSecret): void {
    const key = keyOf(resource);
    if (event === 'delete') {
      // Deleted while we had no finalizer on it (or after ours was removed): forget it.
      const uid = resource.metadata?.uid ?? '';
      const entry = this.#entries.get(uid);
      if (entry !== undefined) {
        entry.keeper.close();
        this.#entries.delete(uid);
        this.#subscribe(false);
      }
      return;
    }
    this.#enqueue(key);
  }

  #onSecret(event: 'add' | 'update' | 'delete', secret: SecretObject): void {
    const owner = secret.metadata?.annotations?.[OWNER_ANNOTATION];
    if (owner === undefined) return;
    const resource = this.#resources.get(owner);
    if (resource === undefined) return;
    const entry = this.#entries.get(resource.metadata?.uid ?? '');
    // Our own writes come back as events: nothing to do when the Secret is as we left it.
    if (event !== 'delete' && entry?.secretVersion === secret.metadata?.resourceVersion) return;
    this.#enqueue(owner);
  }

  #enqueueAll(): void {
    for (const resource of this.#resources.values()) this.#enqueue(keyOf(resource));
  }

  #enqueue(key: string): void {
    if (this.#stopped) return;
    if (this.#running.has(key)) {
      this.#again.add(key);
      return;
    }
    if (this.#queued.has(key)) return;
    this.#queued.add(key);
    this.#queue.push(key);
    this.#pump();
  }

  #pump(): void {
    while (this.#running.size < WORKERS && this.#queue.length > 0) {
      const key = this.#queue.shift()!;
      this.#queued.delete(key);
      if (this.#running.has(key)) {
        this.#again.add(key);
        continue;
      }
      this.#running.add(key);
      void this.#work(key);
    }
  }

  async #work(key: string): Promise<void> {
    let retryMs: number | undefined;
    try {
      await this.#reconcile(key);
      this.#failures.delete(key);
    } catch (error) {
      const failures = (this.#failures.get(key) ?? 0) + 1;
      this.#failures.set(key, failures);
      retryMs = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(failures - 1, 10));
      this.#o.log(
        `reconcile of ${key} failed, retrying in ${retryMs / 1000}s: ${messageOf(error)}`,
      );
    } finally {
      this.#running.delete(key);
      if (!this.#stopped) {
        if (this.#again.delete(key)) this.#enqueue(key);
        else if (retryMs !== undefined) {
          clearTimeout(this.#retryTimers.get(key));
          this.#retryTimers.set(
            key,
            setTimeout(() => {
              this.#retryTimers.delete(key);
              this.#enqueue(key);
            }, retryMs),
          );
        }
        this.#pump();
      }
    }
  }

  // ---- change events -----------------------------------------------------------------------

  #subscribe(force: boolean): void {
    if (this.#stopped || this.#token === undefined) return;
    const paths = [
      ...new Set([...this.#entries.values()].flatMap((e) => [...e.watchPaths])),
    ].sort();
    const key = paths.join('\n');
    if (!force && key === this.#subscribedTo) return;
    this.#subscription?.close();
    this.#subscription = undefined;
    this.#subscribedTo = key;
    if (paths.length === 0) return;
    this.#subscription = subscribeChanges({
      address: this.#o.address,
      token: this.#token.token,
      prefixes: paths,
      ...(this.#o.fetch === undefined ? {} : { fetch: this.#o.fetch }),
      onChange: (event) => {
        for (const entry of this.#entries.values()) {
          if (!entry.watchPaths.has(event.path)) continue;
          for (const [id, read] of entry.reads) {
            if (read.watchPaths.includes(event.path)) entry.stale.add(id);
          }
          this.#pendingEvents.add(entry.key);
        }
        if (this.#debounce === undefined) {
          this.#debounce = setTimeout(() => {
            this.#debounce = undefined;
            const keys = this.#pendingEvents;
            this.#pendingEvents = new Set();
            for (const k of keys) this.#enqueue(k);
          }, DEBOUNCE_MS);
        }
      },
      onReady: ({ reconnected }) => {
        // Changes made while the stream was down were missed.
        if (reconnected) this.#enqueueAll();
      },
      onError: (error, { fatal }) => {
        if (!fatal) return;
        if (/HTTP 40[13]/.test(error.message)) {
          this.#o.log('the event stream refused the token; logging in again');
          this.#scheduleRelogin(0, RETRY_MIN_MS);
        } else this.#o.log(`not following change events: ${error.message}`);
      },
    });
  }

  // ---- reconcile ---------------------------------------------------------------------------

  #entryFor(resource: CofferSecret, key: string): Entry {
    const uid = resource.metadata?.uid ?? '';
    const existing = this.#entries.get(uid);
    if (existing !== undefined) {
      existing.key = key;
      return existing;
    }
    const now = Date.now();
    // Credentials held before a restart, still valid for a while: keep using them.
    const kept = new Map(
      [...this.#state.leasesOf(uid)].filter(([, read]) => read.expiresAt - now > 5_000),
    );
    const entry: Entry = {
      uid,
      key,
      keeper: new LeaseKeeper({
        client: () => this.#client!,
        onExhausted: (lease) => {
          this.#o.log(
            `lease ${lease.leaseId} of ${entry.key} cannot be renewed further; replacing the credentials`,
          );
          this.#enqueue(entry.key);
        },
        onError: (error) => {
          this.#o.log(`lease renewal for ${entry.key} failed, will retry: ${error.message}`);
        },
        onRenewed: (lease, granted) => {
          this.#o.log(`renewed lease ${lease.leaseId} of ${entry.key} for ${granted}s`);
          const id = [...entry.reads].find(([, r]) => r.lease?.leaseId === lease.leaseId)?.[0];
          const read = id === undefined ? undefined : entry.reads.get(id);
          if (id !== undefined && read !== undefined) {
            entry.reads.set(id, { ...read, expiresAt: Date.now() + granted * 1000 });
            this.#state.setLeases(entry.uid, entry.reads);
            this.#state.flush().catch(() => undefined);
            // The status shows the new expiry.
            this.#enqueue(entry.key);
          }
        },
      }),
      reads: kept,
      stale: new Set(),
      watchPaths: new Set(),
      lastMac: resource.status?.dataMac,
      secretVersion: undefined,
    };
    entry.keeper.track([...kept.values()].map((r) => remainingLease(r, now)));
    this.#entries.set(uid, entry);
    return entry;
  }

  async #reconcile(key: string): Promise<void> {
    const resource = this.#resources.get(key);
    if (resource === undefined) return;
    this.stats.reconciles += 1;
    const uid = resource.metadata?.uid ?? '';
    if (resource.metadata?.deletionTimestamp !== undefined) {
      await this.#finalize(resource, key);
      return;
    }
    if (!(resource.metadata?.finalizers ?? []).includes(FINALIZER)) {
      await this.#patchResource(resource, {
        metadata: {
          finalizers: [...(resource.metadata?.finalizers ?? []), FINALIZER],
          resourceVersion: resource.metadata?.resourceVersion,
        },
      });
      return; // The update event brings it back.
    }
    const namespace = resource.metadata?.namespace ?? '';
    let spec: CofferSecretSpec;
    try {
      spec = parseSpec(resource, scopesFor(this.#o.scopes, namespace));
    } catch (error) {
      if (!(error instanceof SpecError)) throw error;
      await this.#setStatus(resource, {
        ready: 'False',
        reason: 'InvalidSpec',
        message: error.message,
      });
      return;
    }
    const entry = this.#entryFor(resource, key);
    const reuse = new Map<string, SecretRead>();
    for (const [id, read] of entry.reads) {
      if (
        read.lease !== undefined &&
        !entry.stale.has(id) &&
        entry.keeper.isKept(read.lease.leaseId)
      ) {
        reuse.set(id, read);
      }
    }
    const stale = new Set(entry.stale);
    let reads: Map<string, SecretRead>;
    try {
      reads = await readSecrets(this.#client!, spec.sources.map(sourceTarget), reuse);
    } catch (error) {
      if (error instanceof ResolveError || (error instanceof ApiError && error.status < 500)) {
        await this.#setStatus(resource, {
          ready: 'False',
          reason:
            error instanceof ApiError && error.status === 403
              ? 'PermissionDenied'
              : 'SourceUnavailable',
          message: messageOf(error),
        });
      }
      throw error;
    }
    for (const id of stale) entry.stale.delete(id);
    let data: Record<string, string>;
    try {
      data = buildSecretData(spec, reads);
    } catch (error) {
      if (!(error instanceof SpecError)) throw error;
      await this.#setStatus(resource, {
        ready: 'False',
        reason: 'InvalidSpec',
        message: error.message,
      });
      return;
    }
    const mac = dataMac(this.#state.hmacKey, spec.target.type, data);
    // Leases: keep the new ones, revoke the replaced ones after the grace period.
    const now = Date.now();
    const leased = new Map<string, StoredRead>();
    for (const [id, read] of reads) {
      if (read.lease === undefined) continue;
      const previous = entry.reads.get(id);
      leased.set(
        id,
        previous !== undefined && previous.lease?.leaseId === read.lease.leaseId
          ? previous
          : { ...read, expiresAt: now + read.lease.leaseDurationSeconds * 1000 },
      );
    }
    const replaced = [...entry.reads.values()]
      .map((r) => r.lease)
      .filter(
        (l): l is SecretLease =>
          l !== undefined && ![...leased.values()].some((r) => r.lease?.leaseId === l.leaseId),
      );
    entry.reads = leased;
    entry.keeper.track([...leased.values()].map((r) => remainingLease(r, Date.now())));
    this.#state.setLeases(uid, leased);
    await this.#state.flush();
    entry.watchPaths = new Set([...reads.values()].flatMap((r) => r.watchPaths));
    this.#subscribe(false);

    const { outcome, version } = await this.#syncSecret(resource, spec, data, mac);
    entry.secretVersion = version;
    if (outcome === 'not-owned') {
      await this.#setStatus(resource, {
        ready: 'False',
        reason: 'SecretNotOwned',
        message: `Secret ${spec.target.name} exists and is not managed by this CofferSecret`,
      });
      return;
    }
    entry.lastMac = mac;
    for (const lease of replaced) this.#revokeLater(lease.leaseId, key);
    const changed = resource.status?.dataMac !== mac;
    if (changed) {
      for (const target of spec.rolloutRestartTargets) {
        this.#restarter.request(
          { namespace, ...target },
          restartAnnotation(resource.metadata?.name ?? ''),
          mac,
        );
      }
    }
    const keys = Object.keys(data).length;
    await this.#setStatus(resource, {
      ready: 'True',
      reason: 'SecretSynced',
      message: `Secret ${spec.target.name} holds ${keys} key${keys === 1 ? '' : 's'} from ${spec.sources.length} source${spec.sources.length === 1 ? '' : 's'}`,
      secretName: spec.target.name,
      dataMac: mac,
      leases: [...leased.values()].map((r): LeaseStatus => ({
        path: r.apiPath,
        leaseId: r.lease!.leaseId,
        expireTime: new Date(r.expiresAt).toISOString(),
        renewable: r.lease!.renewable,
      })),
      ...(changed ? { lastChangeTime: new Date().toISOString() } : {}),
    });
    if (outcome !== 'unchanged')
      this.#o.log(`${outcome} Secret ${namespace}/${spec.target.name} for ${key}`);
  }

  /** Creates or replaces the Secret when it differs; retries on 409 with a fresh read. */
  async #syncSecret(
    resource: CofferSecret,
    spec: CofferSecretSpec,
    data: Record<string, string>,
    mac: string,
  ): Promise<{ outcome: 'created' | 'updated' | 'unchanged' | 'not-owned'; version?: string }> {
    const { core } = this.#o.apis;
    const namespace = resource.metadata?.namespace ?? '';
    const name = spec.target.name;
    const labels = { ...spec.target.labels, [MANAGED_BY_LABEL]: MANAGED_BY };
    const annotations = {
      ...spec.target.annotations,
      [MAC_ANNOTATION]: mac,
      [OWNER_ANNOTATION]: `${namespace}/${resource.metadata?.name ?? ''}`,
    };
    const encoded = Object.fromEntries(
      Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')]),
    );
    const ownerReferences = [
      {
        apiVersion: API_VERSION,
        kind: KIND,
        name: resource.metadata?.name ?? '',
        uid: resource.metadata?.uid ?? '',
        controller: true,
        blockOwnerDeletion: true,
      },
    ];
    for (let attempt = 0; ; attempt++) {
      let existing: SecretObject | undefined;
      try {
        existing = await core.readNamespacedSecret({ name, namespace });
      } catch (error) {
        if (!isGone(error)) throw error;
      }
      try {
        if (existing === undefined) {
          const created = await core.createNamespacedSecret({
            namespace,
            body: {
              apiVersion: 'v1',
              kind: 'Secret',
              metadata: { name, namespace, labels, annotations, ownerReferences },
              type: spec.target.type,
              data: encoded,
            },
          });
          this.stats.secretWrites += 1;
          return { outcome: 'created', ...versionOf(created) };
        }
        if (!ownedBy(existing, resource.metadata?.uid ?? '')) return { outcome: 'not-owned' };
        if (
          existing.type === spec.target.type &&
          existing.metadata?.annotations?.[MAC_ANNOTATION] === mac &&
          sameMap(existing.metadata?.labels, labels) &&
          sameMap(existing.metadata?.annotations, annotations) &&
          sameMap(existing.data, encoded)
        ) {
          return { outcome: 'unchanged', ...versionOf(existing) };
        }
        if (existing.type !== spec.target.type) {
          // The type of a Secret cannot change: replace it.
          await core.deleteNamespacedSecret({
            name,
            namespace,
            body: { preconditions: { resourceVersion: existing.metadata?.resourceVersion ?? '' } },
          });
          continue;
        }
        const replaced = await core.replaceNamespacedSecret({
          name,
          namespace,
          body: {
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: {
              ...existing.metadata,
              labels,
              annotations,
              ownerReferences,
              resourceVersion: existing.metadata?.resourceVersion,
            } as V1ObjectMeta,
            type: spec.target.type,
            data: encoded,
          },
        });
        this.stats.secretWrites += 1;
        return { outcome: 'updated', ...versionOf(replaced) };
      } catch (error) {
        const status = statusOf(error);
        if ((status === 409 || status === 404) && attempt < MAX_CONFLICT_RETRIES) {
          this.stats.conflicts += 1;
          this.#o.log(`Secret ${namespace}/${name} changed under us (${status}); reading it again`);
          continue;
        }
        throw error;
      }
    }
  }

  async #finalize(resource: CofferSecret, key: string): Promise<void> {
    const uid = resource.metadata?.uid ?? '';
    const finalizers = resource.metadata?.finalizers ?? [];
    if (!finalizers.includes(FINALIZER)) return;
    const entry = this.#entries.get(uid);
    const spec = resource.spec as
      { revokeOnDelete?: unknown; target?: { name?: unknown } } | undefined;
    if (spec?.revokeOnDelete !== false) {
      const leases = [...(entry?.reads ?? this.#state.leasesOf(uid)).values()].flatMap((r) =>
        r.lease === undefined ? [] : [r.lease.leaseId],
      );
      for (const leaseId of leases) await this.#revoke(leaseId, key);
    }
    entry?.keeper.close();
    this.#entries.delete(uid);
    this.#state.setLeases(uid, new Map());
    await this.#state.flush();
    this.#subscribe(false);
    // Owner references let the garbage collector remove the Secret too; deleting it here
    // means it is gone when the resource is, even where the collector lags.
    const namespace = resource.metadata?.namespace ?? '';
    const name =
      typeof spec?.target?.name === 'string' && spec.target.name !== ''
        ? spec.target.name
        : (resource.metadata?.name ?? '');
    try {
      const secret = (await this.#o.apis.core.readNamespacedSecret({
        name,
        namespace,
      })) as SecretObject;
      if (ownedBy(secret, uid)) {
        await this.#o.apis.core.deleteNamespacedSecret({
          name,
          namespace,
          body: { preconditions: { uid: secret.metadata?.uid ?? '' } },
        });
        this.#o.log(`deleted Secret ${namespace}/${name} of ${key}`);
      }
    } catch (error) {
      if (!isGone(error)) throw error;
    }
    await this.#patchResource(resource, {
      metadata: {
        finalizers: finalizers.filter((f) => f !== FINALIZER),
        resourceVersion: resource.metadata?.resourceVersion,
      },
    });
  }

  #revokeLater(leaseId: string, key: string): void {
    const timer = setTimeout(() => {
      this.#revocations.delete(timer);
      void this.#revoke(leaseId, key);
    }, this.#o.revokeGraceMs);
    this.#revocations.add(timer);
  }

  async #revoke(leaseId: string, key: string): Promise<void> {
    try {
      await this.#client!.revokeLease({ kind: 'lease', leaseId });
      this.stats.revoked += 1;
      this.#o.log(`revoked lease ${leaseId} of ${key}`);
    } catch (error) {
      this.#o.log(`cannot revoke lease ${leaseId} of ${key}: ${messageOf(error)}`);
    }
  }

  async #patchResource(resource: CofferSecret, body: unknown): Promise<void> {
    try {
      await this.#o.apis.custom.patchNamespacedCustomObject(
        {
          group: GROUP,
          version: VERSION,
          plural: PLURAL,
          namespace: resource.metadata?.namespace ?? '',
          name: resource.metadata?.name ?? '',
          body,
        },
        MERGE_PATCH,
      );
    } catch (error) {
      // A newer version is on its way to us through the watch; that event reconciles again.
      if (statusOf(error) === 409 || isGone(error)) return;
      throw error;
    }
  }

  /** Patches the status subresource when what it says differs from what it said. */
  async #setStatus(
    resource: CofferSecret,
    change: {
      ready: Condition['status'];
      reason: string;
      message: string;
      secretName?: string;
      dataMac?: string;
      leases?: readonly LeaseStatus[];
      lastChangeTime?: string;
    },
  ): Promise<void> {
    const current: CofferSecretStatus = resource.status ?? {};
    const generation = resource.metadata?.generation;
    const old = (current.conditions ?? []).find((c) => c.type === 'Ready');
    const transition = old === undefined || old.status !== change.ready;
    const condition: Condition = {
      type: 'Ready',
      status: change.ready,
      ...(generation === undefined ? {} : { observedGeneration: generation }),
      lastTransitionTime: transition ? new Date().toISOString() : old.lastTransitionTime,
      reason: change.reason,
      message: change.message,
    };
    const next: CofferSecretStatus = {
      ...current,
      ...(generation === undefined ? {} : { observedGeneration: generation }),
      ...(change.secretName === undefined ? {} : { secretName: change.secretName }),
      ...(change.dataMac === undefined ? {} : { dataMac: change.dataMac }),
      ...(change.leases === undefined ? {} : { leases: change.leases }),
      ...(change.lastChangeTime === undefined ? {} : { lastChangeTime: change.lastChangeTime }),
      conditions: [...(current.conditions ?? []).filter((c) => c.type !== 'Ready'), condition],
    };
    if (JSON.stringify(next) === JSON.stringify(current)) return;
    try {
      await this.#o.apis.custom.patchNamespacedCustomObjectStatus(
        {
          group: GROUP,
          version: VERSION,
          plural: PLURAL,
          namespace: resource.metadata?.namespace ?? '',
          name: resource.metadata?.name ?? '',
          body: { status: next },
        },
        MERGE_PATCH,
      );
    } catch (error) {
      if (!isGone(error)) throw error;
    }
  }

  async #applyRestart(target: RestartTarget, annotation: string, value: string): Promise<boolean> {
    const { apps } = this.#o.apis;
    const ref = { name: target.name, namespace: target.namespace };
    const read =
      target.kind === 'Deployment'
        ? apps.readNamespacedDeployment(ref)
        : target.kind === 'StatefulSet'
          ? apps.readNamespacedStatefulSet(ref)
          : apps.readNamespacedDaemonSet(ref);
    const workload = await read;
    if (workload.spec?.template.metadata?.annotations?.[annotation] === value) return false;
    const body = { spec: { template: { metadata: { annotations: { [annotation]: value } } } } };
    const patch = { ...ref, body };
    if (target.kind === 'Deployment') await apps.patchNamespacedDeployment(patch, MERGE_PATCH);
    else if (target.kind === 'StatefulSet')
      await apps.patchNamespacedStatefulSet(patch, MERGE_PATCH);
    else await apps.patchNamespacedDaemonSet(patch, MERGE_PATCH);
    return true;
  }

  #dropOrphanedLeases(): void {
    const live = new Set(this.#resources.values().map((r) => r.metadata?.uid ?? ''));
    let dropped = false;
    for (const uid of this.#state.uids()) {
      if (live.has(uid)) continue;
      this.#state.setLeases(uid, new Map());
      dropped = true;
    }
    if (dropped) this.#state.flush().catch(() => undefined);
  }
}

function versionOf(secret: V1Secret): { version?: string } {
  const version = secret.metadata?.resourceVersion;
  return version === undefined ? {} : { version };
}

function remainingLease(read: StoredRead, now: number): SecretLease {
  const lease = read.lease!;
  return { ...lease, leaseDurationSeconds: Math.max(1, Math.floor((read.expiresAt - now) / 1000)) };
}

export function messageOf(error: unknown): string {
  if (error instanceof ApiError) {
    return `${error.errors.length > 0 ? error.errors.join('; ') : 'request failed'} (${error.status})`;
  }
  if (error instanceof ConnectionError) return error.message;
  if (error instanceof ResolveError || error instanceof SpecError) return error.message;
  if (
    statusOf(error) !== undefined ||
    (error as { code?: unknown } | undefined)?.code !== undefined
  ) {
    return describeApiError(error);
  }
  // Not an API answer (those can embed bodies): our own errors and network failures.
  return error instanceof Error ? `${error.name}: ${error.message}` : 'unexpected failure';
}
