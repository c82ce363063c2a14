// The typed HTTP client for Coffer's Vault-compatible API: request building, response and error
// decoding, sys/ helpers and the KV helpers with the Vault CLI's mount-version probe.
import { ApiError, ClientError, ConnectionError } from './errors.js';
import {
  encodePath,
  findCachedMount,
  isRecord,
  joinKvPath,
  kvApiPath,
  listPath,
  parseKvMountProbe,
  sanitizePath,
} from './kv-path.js';
import { leaseInfoOf, leaseRenewalOf, leaseRenewBody, leaseRevokeRequest } from './leases.js';
import type { LeaseLookup, LeaseRenewal, LeaseRevokeTarget } from './leases.js';
import { aclPolicyOf, explanationOf, policyPath } from './policies.js';
import type { AclPolicy, ExplainSubject, PolicyExplanation, PolicyOperation } from './policies.js';
import {
  authOf,
  capabilitiesOf,
  requireNonEmpty,
  tokenCreateRequest,
  tokenInfoOf,
} from './tokens.js';
import type {
  CapabilityReport,
  CapabilityTarget,
  TokenAuth,
  TokenCreateOptions,
  TokenLookup,
} from './tokens.js';
import type {
  ApiResponse,
  EnableMountOptions,
  HealthResponse,
  HttpMethod,
  InitOptions,
  InitResponse,
  KeyStatus,
  KvListResult,
  KvMetadata,
  KvMetadataInput,
  KvMetadataResult,
  KvMountInfo,
  KvSecret,
  KvTarget,
  KvVersionMetadata,
  KvWriteResult,
  MountEntry,
  MountTune,
  RequestOptions,
  SealStatus,
  TuneMountOptions,
} from './types.js';

export const DEFAULT_ADDRESS = 'http://127.0.0.1:8200';
/** Same default as the Vault CLI. */
export const DEFAULT_TIMEOUT_MS = 60_000;

export interface CofferClientOptions {
  /** Base URL such as "http://127.0.0.1:8200"; "" means DEFAULT_ADDRESS. */
  readonly address: string;
  readonly token?: string;
  /** Injected for tests; defaults to the global fetch. */
  readonly fetch?: typeof fetch;
  /** Whole-request deadline in milliseconds (connect, send, read the body). */
  readonly timeoutMs?: number;
  /**
   * Asks the server to wrap every response (X-Vault-Wrap-TTL), like the Vault CLI's
   * `-wrap-ttl`: a duration such as "5m" or whole seconds.
   */
  readonly wrapTtl?: string;
}

/** A raw exchange before it is judged: status and the decoded JSON body (undefined if empty). */
interface RawResponse {
  readonly status: number;
  readonly body: unknown;
  readonly requestId: string | undefined;
}

const ENVELOPE_KEYS = new Set([
  'request_id',
  'lease_id',
  'renewable',
  'lease_duration',
  'data',
  'wrap_info',
  'warnings',
  'auth',
  'mount_type',
]);

const REDIRECT_STATUSES = new Set([301, 302, 307, 308]);

/** A header value we can send: visible ASCII only (a token is never echoed if it is not). */
const HEADER_SAFE = /^[\x21-\x7e]+$/;

export class CofferClient {
  /** Normalised base URL without a trailing slash, safe to print (credentials are refused). */
  readonly address: string;
  readonly timeoutMs: number;
  readonly #token: string | undefined;
  readonly #wrapTtl: string | undefined;
  readonly #fetch: typeof fetch;
  /** KV mount probe results keyed by mount path ("secret/"); see findCachedMount. */
  readonly #kvMounts = new Map<string, KvMountInfo>();

  constructor(options: CofferClientOptions) {
    this.address = normaliseAddress(options.address === '' ? DEFAULT_ADDRESS : options.address);
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
      throw new ClientError('timeoutMs must be a positive whole number of milliseconds');
    }
    this.timeoutMs = timeoutMs;
    // SECURITY: refuse a token that fetch would reject; its error message would quote the value.
    if (options.token !== undefined && options.token !== '' && !HEADER_SAFE.test(options.token)) {
      throw new ClientError('token contains characters that cannot be sent in an HTTP header');
    }
    this.#token = options.token === '' ? undefined : options.token;
    if (options.wrapTtl !== undefined && !/^\d+[smh]?$/.test(options.wrapTtl)) {
      throw new ClientError('wrapTtl must be whole seconds or a duration such as "5m"');
    }
    this.#wrapTtl = options.wrapTtl;
    // Bound: a browser refuses fetch called as a method of another object ("Illegal invocation").
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /**
   * Sends one request to `/v1/<path>`. Resolves to the decoded body, or undefined for 204 (and
   * for a 2xx without a body); throws ApiError for any other status, ConnectionError when the
   * server cannot be reached. LIST goes out as `GET ?list=true`: Node's HTTP parser (and so a
   * Node server) rejects the LIST verb, and Vault treats both forms alike.
   */
  async request(
    method: HttpMethod,
    path: string,
    options: RequestOptions = {},
  ): Promise<ApiResponse | undefined> {
    return finish(await this.#send(method, path, options));
  }

  /** GET; undefined when there is nothing at `path` (404 without data, like the Go client). */
  async read(path: string, query?: Record<string, string>): Promise<ApiResponse | undefined> {
    return this.#readOrMissing('GET', path, query === undefined ? {} : { query });
  }

  /** PUT `data`; undefined when the server answers 204. */
  async write(path: string, data: Record<string, unknown> = {}): Promise<ApiResponse | undefined> {
    return this.request('PUT', path, { body: data });
  }

  /** Lists the keys under `path` (trailing slash added); undefined when there are none. */
  async list(path: string): Promise<ApiResponse | undefined> {
    return this.#readOrMissing('LIST', listPath(sanitizePath(path)), {});
  }

  async delete(path: string, query?: Record<string, string>): Promise<ApiResponse | undefined> {
    return this.request('DELETE', path, query === undefined ? {} : { query });
  }

  /** JSON merge patch (RFC 7386); the server demands this exact content type. */
  async patch(path: string, data: Record<string, unknown>): Promise<ApiResponse | undefined> {
    return this.request('PATCH', path, {
      body: data,
      headers: { 'Content-Type': 'application/merge-patch+json' },
    });
  }

  // ---- sys/ ----------------------------------------------------------------------------------

  /** `GET sys/health`. Its non-2xx statuses (429, 501, 503...) are answers, not errors. */
  async health(query?: Record<string, string>): Promise<HealthResponse> {
    const raw = await this.#send('GET', 'sys/health', query === undefined ? {} : { query });
    if (isRecord(raw.body) && typeof raw.body['initialized'] === 'boolean') {
      return { ...(raw.body as Omit<HealthResponse, 'httpStatus'>), httpStatus: raw.status };
    }
    finish(raw);
    throw unexpectedShape(raw, 'sys/health');
  }

  async sealStatus(): Promise<SealStatus> {
    const raw = await this.#send('GET', 'sys/seal-status', {});
    return expectRecord(raw, 'sys/seal-status') as unknown as SealStatus;
  }

  /** SECURITY: the answer holds every unseal key and the root token; never log it. */
  async init(options: InitOptions): Promise<InitResponse> {
    const raw = await this.#send('PUT', 'sys/init', {
      body: { secret_shares: options.secretShares, secret_threshold: options.secretThreshold },
    });
    return expectRecord(raw, 'sys/init') as unknown as InitResponse;
  }

  /** Submits one key share, or `{ reset: true }` to discard the shares given so far. */
  async unseal(key: string | { readonly reset: true }): Promise<SealStatus> {
    const body = typeof key === 'string' ? { key } : { reset: true };
    const raw = await this.#send('PUT', 'sys/unseal', { body });
    return expectRecord(raw, 'sys/unseal') as unknown as SealStatus;
  }

  async seal(): Promise<void> {
    await this.request('PUT', 'sys/seal');
  }

  /** HA: the active node gives up leadership; another node takes over (needs sudo). */
  async stepDown(): Promise<void> {
    await this.request('PUT', 'sys/step-down');
  }

  /** Adds a new barrier key term; later writes use it. */
  async rotate(): Promise<void> {
    await this.request('PUT', 'sys/rotate');
  }

  async keyStatus(): Promise<KeyStatus> {
    const raw = await this.#send('GET', 'sys/key-status', {});
    return dataOrTopLevel(raw, 'sys/key-status') as unknown as KeyStatus;
  }

  /** Mount table keyed by path with a trailing slash ("secret/"). */
  async mounts(): Promise<Record<string, MountEntry>> {
    const raw = await this.#send('GET', 'sys/mounts', {});
    return dataOrTopLevel(raw, 'sys/mounts') as unknown as Record<string, MountEntry>;
  }

  async enableMount(path: string, options: EnableMountOptions): Promise<void> {
    this.#kvMounts.clear();
    await this.request('POST', `sys/mounts/${sanitizePath(path)}`, { body: options });
  }

  async disableMount(path: string): Promise<void> {
    this.#kvMounts.clear();
    await this.request('DELETE', `sys/mounts/${sanitizePath(path)}`);
  }

  async tuneMount(path: string, options: TuneMountOptions): Promise<void> {
    this.#kvMounts.clear();
    await this.request('POST', `sys/mounts/${sanitizePath(path)}/tune`, { body: options });
  }

  async readMountTune(path: string): Promise<MountTune> {
    const where = `sys/mounts/${sanitizePath(path)}/tune`;
    return dataOrTopLevel(await this.#send('GET', where, {}), where) as unknown as MountTune;
  }

  // ---- tokens (auth/token/) -------------------------------------------------------------------
  // SECURITY: a token or accessor to act on always travels in the JSON body, never in the URL,
  // so it stays out of proxy and server access logs.

  /** Creates a child token (or an orphan, or from a role): see TokenCreateOptions. */
  async createToken(options: TokenCreateOptions = {}): Promise<TokenAuth> {
    const { path, body } = tokenCreateRequest(options);
    return authOf(await this.request('POST', path, { body }), path);
  }

  /** The calling token's own properties (`GET auth/token/lookup-self`). */
  async lookupSelf(): Promise<TokenLookup> {
    const path = 'auth/token/lookup-self';
    return tokenInfoOf(await this.request('GET', path), path);
  }

  async lookupToken(token: string): Promise<TokenLookup> {
    const path = 'auth/token/lookup';
    const body = { token: requireNonEmpty(token, 'token') };
    return tokenInfoOf(await this.request('POST', path, { body }), path);
  }

  /** A lookup by accessor; the answer's `id` is "" (the accessor cannot reveal the token). */
  async lookupAccessor(accessor: string): Promise<TokenLookup> {
    const path = 'auth/token/lookup-accessor';
    const body = { accessor: requireNonEmpty(accessor, 'accessor') };
    return tokenInfoOf(await this.request('POST', path, { body }), path);
  }

  /** Renews the calling token; `incrementSeconds` asks for that TTL (the server may cap it). */
  async renewSelf(incrementSeconds?: number): Promise<TokenAuth> {
    return this.#renew('auth/token/renew-self', {}, incrementSeconds);
  }

  async renewToken(token: string, incrementSeconds?: number): Promise<TokenAuth> {
    return this.#renew(
      'auth/token/renew',
      { token: requireNonEmpty(token, 'token') },
      incrementSeconds,
    );
  }

  async renewAccessor(accessor: string, incrementSeconds?: number): Promise<TokenAuth> {
    return this.#renew(
      'auth/token/renew-accessor',
      { accessor: requireNonEmpty(accessor, 'accessor') },
      incrementSeconds,
    );
  }

  /** Revokes the calling token and its children; this client is useless afterwards. */
  async revokeSelf(): Promise<void> {
    await this.request('POST', 'auth/token/revoke-self');
  }

  /** Revokes a token and all its children (and their leases). */
  async revokeToken(token: string): Promise<void> {
    await this.request('POST', 'auth/token/revoke', {
      body: { token: requireNonEmpty(token, 'token') },
    });
  }

  async revokeAccessor(accessor: string): Promise<void> {
    await this.request('POST', 'auth/token/revoke-accessor', {
      body: { accessor: requireNonEmpty(accessor, 'accessor') },
    });
  }

  /** Revokes a token but not its children, which become orphans (root or sudo only). */
  async revokeOrphan(token: string): Promise<void> {
    await this.request('POST', 'auth/token/revoke-orphan', {
      body: { token: requireNonEmpty(token, 'token') },
    });
  }

  /**
   * Capabilities on each of `paths` of the caller (`sys/capabilities-self`), of another token
   * (`sys/capabilities`) or of the token behind an accessor (`sys/capabilities-accessor`).
   */
  async capabilities(
    paths: readonly string[],
    target: CapabilityTarget = { kind: 'self' },
  ): Promise<CapabilityReport> {
    if (paths.length === 0) throw new ClientError('at least one path is required');
    const list = paths.map((p) => requireNonEmpty(p, 'path'));
    let route = 'sys/capabilities-self';
    const body: Record<string, unknown> = { paths: list };
    if (target.kind === 'token') {
      route = 'sys/capabilities';
      body['token'] = requireNonEmpty(target.token, 'token');
    } else if (target.kind === 'accessor') {
      route = 'sys/capabilities-accessor';
      body['accessor'] = requireNonEmpty(target.accessor, 'accessor');
    }
    return capabilitiesOf(await this.request('POST', route, { body }), list);
  }

  // ---- leases (sys/leases/) and response wrapping (sys/wrapping/) ------------------------------

  /** A lease's times and TTL (`PUT sys/leases/lookup {lease_id}`). */
  async lookupLease(leaseId: string): Promise<LeaseLookup> {
    const body = { lease_id: requireNonEmpty(leaseId, 'lease id') };
    return leaseInfoOf(await this.request('PUT', 'sys/leases/lookup', { body }));
  }

  /** Renews a lease; `incrementSeconds` asks for that TTL from now (the server may cap it). */
  async renewLease(leaseId: string, incrementSeconds?: number): Promise<LeaseRenewal> {
    const body = leaseRenewBody(leaseId, incrementSeconds);
    return leaseRenewalOf(await this.request('PUT', 'sys/leases/renew', { body }));
  }

  /** Revokes one lease, or every lease under a prefix (see LeaseRevokeTarget). */
  async revokeLease(target: LeaseRevokeTarget): Promise<void> {
    const { path, body } = leaseRevokeRequest(target);
    await this.request('PUT', path, body === undefined ? {} : { body });
  }

  /**
   * Returns the response a wrapping token holds (single use: the token is spent). With
   * `wrappingToken` it goes in the body and the client's token authenticates the call; without,
   * the client's own token is the wrapping token and no body is sent. Undefined when the
   * wrapped response was empty.
   */
  async unwrap(wrappingToken?: string): Promise<ApiResponse | undefined> {
    const options =
      wrappingToken === undefined
        ? {}
        : { body: { token: requireNonEmpty(wrappingToken, 'wrapping token') } };
    return this.request('POST', 'sys/wrapping/unwrap', options);
  }

  // ---- ACL policies (sys/policies/) ---------------------------------------------------------

  /** Policy names, sorted as the server returns them (including "root"). */
  async listPolicies(): Promise<string[]> {
    const response = await this.list('sys/policies/acl');
    const keys = response?.data?.['keys'];
    return Array.isArray(keys) ? keys.filter((k): k is string => typeof k === 'string') : [];
  }

  /** One policy's text as written; undefined when there is no such policy. */
  async readPolicy(name: string): Promise<AclPolicy | undefined> {
    const path = policyPath(name);
    try {
      const response = await this.read(path);
      return response === undefined ? undefined : aclPolicyOf(response, name.trim());
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return undefined;
      throw error;
    }
  }

  /**
   * Creates or replaces a policy with `text` (HCL or JSON). Resolves to the answer when the
   * server sent one (its warnings say, e.g., that the name was lower-cased).
   */
  async writePolicy(name: string, text: string): Promise<ApiResponse | undefined> {
    if (text.trim() === '') throw new ClientError('policy text must not be empty');
    return this.request('PUT', policyPath(name), { body: { policy: text } });
  }

  async deletePolicy(name: string): Promise<void> {
    await this.request('DELETE', policyPath(name));
  }

  /**
   * Asks which rule of which of the caller's policies decides `path` (and, with `operation`,
   * whether that operation is allowed). With `subject`, explains for the token behind an
   * accessor or for a set of policies (a role's) instead; the server checks the caller may.
   */
  async explainPolicy(
    path: string,
    operation?: PolicyOperation,
    subject?: ExplainSubject,
  ): Promise<PolicyExplanation> {
    const body: Record<string, unknown> = { path: requireNonEmpty(path, 'path') };
    if (operation !== undefined) body['operation'] = operation;
    if (subject !== undefined && 'accessor' in subject) {
      body['accessor'] = requireNonEmpty(subject.accessor, 'accessor');
    } else if (subject !== undefined) {
      if (subject.policies.length === 0) throw new ClientError('name at least one policy');
      body['policies'] = subject.policies.map((p) => requireNonEmpty(p, 'policy'));
    }
    return explanationOf(await this.request('POST', 'sys/policies/explain', { body }));
  }

  // ---- KV --------------------------------------------------------------------------------------
  // Every KV helper takes (mount, path). With mount "" the path is path-style ("secret/app/db")
  // and the mount is whatever the probe reports; otherwise the key is `path` inside `mount`.

  /**
   * Finds the mount holding `path` and its KV version with `GET sys/internal/ui/mounts/<path>`
   * (404 ⇒ v1), exactly like the Vault CLI. Cached per client; mount changes made through this
   * client clear the cache.
   */
  async resolveKvMount(
    mount: string,
    path: string,
  ): Promise<{ readonly fullPath: string; readonly mount: KvMountInfo }> {
    const fullPath = joinKvPath(mount, path);
    if (fullPath === '') throw new ClientError('a KV path is required');
    const cached = findCachedMount(this.#kvMounts, fullPath);
    if (cached !== undefined) return { fullPath, mount: cached };
    const probePath = sanitizePath(mount) === '' ? fullPath : sanitizePath(mount);
    const raw = await this.#send('GET', `sys/internal/ui/mounts/${probePath}`, {});
    const info = raw.status === 404 ? parseKvMountProbe(undefined) : parseKvMountProbe(finish(raw));
    this.#kvMounts.set(info.path === '' ? `${probePath}/` : info.path, info);
    return { fullPath, mount: info };
  }

  /** Reads the latest (or `version`) of a key; undefined when it never existed. */
  async kvGet(
    mount: string,
    path: string,
    options: { readonly version?: number } = {},
  ): Promise<KvSecret | undefined> {
    const target = await this.#kvTarget(mount, path, 'data');
    const query: Record<string, string> = {};
    if (options.version !== undefined) {
      requireV2(target, 'reading a specific version');
      query['version'] = String(requireVersionNumber(options.version));
    }
    const response = await this.#readOrMissing('GET', target.apiPath, { query });
    if (response === undefined) return undefined;
    const body = response.data ?? null;
    if (target.mount.version === 1) return { ...target, data: body, metadata: null, response };
    const data = body !== null && isRecord(body['data']) ? body['data'] : null;
    const metadata = body !== null && isRecord(body['metadata']) ? body['metadata'] : null;
    return { ...target, data, metadata: metadata as KvVersionMetadata | null, response };
  }

  /** Writes a new version (v2) or replaces the key (v1). `cas` is v2 only (0 = create only). */
  async kvPut(
    mount: string,
    path: string,
    data: Record<string, unknown>,
    options: { readonly cas?: number } = {},
  ): Promise<KvWriteResult> {
    const target = await this.#kvTarget(mount, path, 'data');
    if (target.mount.version === 1) {
      if (options.cas !== undefined) requireV2(target, 'check-and-set');
      return { ...target, metadata: null, response: await this.write(target.apiPath, data) };
    }
    const response = await this.request('PUT', target.apiPath, { body: kvBody(data, options) });
    return { ...target, metadata: versionMetadata(response), response };
  }

  /** Merges `data` into the latest version, creating a new one (KV v2 only). */
  async kvPatch(
    mount: string,
    path: string,
    data: Record<string, unknown>,
    options: { readonly cas?: number } = {},
  ): Promise<KvWriteResult> {
    const target = await this.#kvTarget(mount, path, 'data');
    requireV2(target, 'patch');
    const response = await this.patch(target.apiPath, kvBody(data, options));
    return { ...target, metadata: versionMetadata(response), response };
  }

  /** Keys under a folder ("dir/" for sub-folders); undefined when there are none. */
  async kvList(mount: string, path: string): Promise<KvListResult | undefined> {
    const target = await this.#kvTarget(mount, path, 'metadata');
    const apiPath = listPath(target.apiPath);
    const response = await this.#readOrMissing('LIST', apiPath, {});
    if (response === undefined) return undefined;
    const keys = response.data?.['keys'];
    const list = Array.isArray(keys) ? keys.filter((k): k is string => typeof k === 'string') : [];
    return { apiPath, mount: target.mount, keys: list, response };
  }

  /** Soft-deletes the latest version, or the listed `versions` (v2); deletes the key on v1. */
  async kvDelete(
    mount: string,
    path: string,
    options: { readonly versions?: readonly number[] } = {},
  ): Promise<KvTarget> {
    if (options.versions === undefined) {
      const target = await this.#kvTarget(mount, path, 'data');
      await this.request('DELETE', target.apiPath);
      return target;
    }
    return this.#kvVersionsCall(mount, path, 'delete', 'POST', options.versions);
  }

  async kvUndelete(mount: string, path: string, versions: readonly number[]): Promise<KvTarget> {
    return this.#kvVersionsCall(mount, path, 'undelete', 'POST', versions);
  }

  /** Removes the listed versions' data for good (KV v2 only). */
  async kvDestroy(mount: string, path: string, versions: readonly number[]): Promise<KvTarget> {
    return this.#kvVersionsCall(mount, path, 'destroy', 'PUT', versions);
  }

  async kvMetadataGet(mount: string, path: string): Promise<KvMetadataResult | undefined> {
    const target = await this.#kvTarget(mount, path, 'metadata');
    requireV2(target, 'metadata');
    const response = await this.#readOrMissing('GET', target.apiPath, {});
    if (response === undefined) return undefined;
    if (!isRecord(response.data)) {
      throw new ApiError(200, [`unexpected response shape from ${target.apiPath}`]);
    }
    return { ...target, metadata: response.data as unknown as KvMetadata, response };
  }

  /** Sets only the fields given in `input`. */
  async kvMetadataPut(mount: string, path: string, input: KvMetadataInput): Promise<KvTarget> {
    const target = await this.#kvTarget(mount, path, 'metadata');
    requireV2(target, 'metadata');
    const body: Record<string, unknown> = {};
    if (input.maxVersions !== undefined) body['max_versions'] = input.maxVersions;
    if (input.casRequired !== undefined) body['cas_required'] = input.casRequired;
    if (input.deleteVersionAfter !== undefined) {
      body['delete_version_after'] = input.deleteVersionAfter;
    }
    if (input.customMetadata !== undefined) body['custom_metadata'] = input.customMetadata;
    await this.request('POST', target.apiPath, { body });
    return target;
  }

  /** Deletes the key with every version and its metadata. */
  async kvMetadataDelete(mount: string, path: string): Promise<KvTarget> {
    const target = await this.#kvTarget(mount, path, 'metadata');
    requireV2(target, 'metadata');
    await this.request('DELETE', target.apiPath);
    return target;
  }

  // ---- internals -----------------------------------------------------------------------------

  async #kvTarget(
    mount: string,
    path: string,
    segment: 'data' | 'metadata' | 'delete' | 'undelete' | 'destroy',
  ): Promise<KvTarget> {
    const resolved = await this.resolveKvMount(mount, path);
    return {
      apiPath: kvApiPath(resolved.fullPath, resolved.mount, segment),
      mount: resolved.mount,
    };
  }

  async #kvVersionsCall(
    mount: string,
    path: string,
    segment: 'delete' | 'undelete' | 'destroy',
    method: 'POST' | 'PUT',
    versions: readonly number[],
  ): Promise<KvTarget> {
    const target = await this.#kvTarget(mount, path, segment);
    requireV2(target, segment);
    if (versions.length === 0) throw new ClientError(`${segment} needs at least one version`);
    await this.request(method, target.apiPath, {
      body: { versions: versions.map(requireVersionNumber) },
    });
    return target;
  }

  async #renew(
    path: string,
    body: Record<string, unknown>,
    incrementSeconds: number | undefined,
  ): Promise<TokenAuth> {
    if (incrementSeconds !== undefined) {
      if (!Number.isSafeInteger(incrementSeconds) || incrementSeconds < 0) {
        throw new ClientError('increment must be a non-negative whole number of seconds');
      }
      body['increment'] = incrementSeconds;
    }
    return authOf(await this.request('POST', path, { body }), path);
  }

  /** A read whose 404 means "nothing here" unless the body carries data or warnings. */
  async #readOrMissing(
    method: 'GET' | 'LIST',
    path: string,
    options: RequestOptions,
  ): Promise<ApiResponse | undefined> {
    const raw = await this.#send(method, path, options);
    if (raw.status === 404) {
      const body = raw.body;
      if (isRecord(body) && (isRecord(body['data']) || nonEmptyArray(body['warnings']))) {
        return body;
      }
      if (errorsOf(body).length === 0) return undefined;
    }
    return finish(raw);
  }

  async #send(method: HttpMethod, path: string, options: RequestOptions): Promise<RawResponse> {
    const url = new URL(`${this.address}/v1/${encodePath(path.replace(/^\/+/, ''))}`);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      url.searchParams.set(name, value);
    }
    if (method === 'LIST') url.searchParams.set('list', 'true');
    const headers = this.#headers(options);
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const signal = AbortSignal.timeout(this.timeoutMs);
    const init: RequestInit = {
      method: method === 'LIST' ? 'GET' : method,
      headers,
      redirect: 'manual',
      signal,
    };
    if (body !== undefined) init.body = body;
    try {
      let response = await this.#fetch(url, init);
      const location = response.headers.get('location');
      if (REDIRECT_STATUSES.has(response.status) && location !== null) {
        // One hop, as the Go client does (an HA standby pointing at the active node).
        const next = new URL(location, url);
        if (url.protocol === 'https:' && next.protocol !== 'https:') {
          await discardBody(response);
          throw new ClientError('refusing a redirect from https to a non-https address');
        }
        // The first answer's body is not wanted; left unread it would hold its connection.
        await discardBody(response);
        response = await this.#fetch(next, init);
      }
      const text = await readBody(response, signal);
      return {
        status: response.status,
        body: parseBody(text, response.status),
        requestId: response.headers.get('x-request-id') ?? undefined,
      };
    } catch (error) {
      if (error instanceof ApiError || error instanceof ClientError) throw error;
      throw new ConnectionError(this.address, connectionReason(error, this.timeoutMs), {
        cause: error,
      });
    }
  }

  #headers(options: RequestOptions): Headers {
    const headers = new Headers({ 'X-Vault-Request': 'true' });
    if (options.body !== undefined) headers.set('Content-Type', 'application/json');
    try {
      for (const [name, value] of Object.entries(options.headers ?? {})) headers.set(name, value);
    } catch {
      // SECURITY: the Headers error would quote the offending value.
      throw new ClientError('a request header has an invalid name or value');
    }
    if (this.#token !== undefined) headers.set('X-Vault-Token', this.#token);
    if (this.#wrapTtl !== undefined) headers.set('X-Vault-Wrap-TTL', this.#wrapTtl);
    return headers;
  }
}

/** Turns a raw exchange into the caller's answer: 204 → undefined, 2xx → body, else ApiError. */
function finish(raw: RawResponse): ApiResponse | undefined {
  if (raw.status >= 200 && raw.status < 300) {
    if (raw.body === undefined || raw.status === 204) return undefined;
    if (!isRecord(raw.body)) throw new ApiError(raw.status, ['response body is not a JSON object']);
    return raw.body;
  }
  const details: { code?: string; requestId?: string } = {};
  const body = raw.body;
  if (isRecord(body) && typeof body['code'] === 'string') details.code = body['code'];
  const requestId =
    isRecord(body) && typeof body['request_id'] === 'string' && body['request_id'] !== ''
      ? body['request_id']
      : raw.requestId;
  if (requestId !== undefined) details.requestId = requestId;
  throw new ApiError(raw.status, errorsOf(body), details);
}

/**
 * Reads the whole body as UTF-8 text, cancelling it when `signal` fires (the deadline).
 * The deadline is enforced here rather than left to fetch: undici passes an abort to a body that
 * is still arriving only through a WeakRef to its Request, which a garbage collection can clear
 * (seen with Node 20's undici 6.24 for `redirect: 'error'`, and true of any injected fetch that
 * ignores the signal), and the read would then wait as long as the server keeps the connection
 * open. Cancelling the body stream always ends the read and closes the connection.
 */
async function readBody(response: Response, signal: AbortSignal): Promise<string> {
  if (response.body === null) return '';
  const reader: ReadableStreamDefaultReader<Uint8Array> = response.body.getReader();
  let cancelled = false;
  const cancel = () => {
    cancelled = true;
    reader.cancel(signal.reason).catch(() => undefined);
  };
  signal.addEventListener('abort', cancel, { once: true });
  if (signal.aborted) cancel();
  const decoder = new TextDecoder();
  let text = '';
  try {
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += decoder.decode(chunk.value, { stream: true });
    }
  } finally {
    signal.removeEventListener('abort', cancel);
    reader.releaseLock();
  }
  // A cancelled read ends as if the body were complete: it is not, so this is the timeout.
  if (cancelled) throw signal.reason;
  return text + decoder.decode();
}

/** Cancels a body nobody will read, so its connection is released at once. */
async function discardBody(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined);
}

function parseBody(text: string, status: number): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // SECURITY: never quote the body, it may hold a secret. A non-JSON error page (a proxy's
    // 502, say) still reports its status through finish().
    if (status >= 200 && status < 300) {
      throw new ApiError(status, ['response body is not valid JSON']);
    }
    return undefined;
  }
}

function errorsOf(body: unknown): string[] {
  if (!isRecord(body) || !Array.isArray(body['errors'])) return [];
  return body['errors'].filter((e): e is string => typeof e === 'string');
}

function nonEmptyArray(value: unknown): boolean {
  return Array.isArray(value) && value.length > 0;
}

function unexpectedShape(raw: RawResponse, path: string): ApiError {
  return new ApiError(raw.status, [`unexpected response shape from ${path}`]);
}

/** A bare JSON object answer (sys/init, sys/seal-status...); callers name its type. */
function expectRecord(raw: RawResponse, path: string): Record<string, unknown> {
  const body = finish(raw);
  if (body === undefined) throw unexpectedShape(raw, path);
  return body;
}

/** `data` of an envelope, or the top level for servers that answer these routes bare. */
function dataOrTopLevel(raw: RawResponse, path: string): Record<string, unknown> {
  const body = expectRecord(raw, path);
  if (isRecord(body['data'])) return body['data'];
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (!ENVELOPE_KEYS.has(key)) rest[key] = value;
  }
  return rest;
}

function versionMetadata(response: ApiResponse | undefined): KvVersionMetadata | null {
  return isRecord(response?.data) ? (response.data as unknown as KvVersionMetadata) : null;
}

function kvBody(data: Record<string, unknown>, options: { readonly cas?: number }) {
  if (options.cas === undefined) return { data };
  if (!Number.isInteger(options.cas) || options.cas < 0) {
    throw new ClientError('cas must be a non-negative whole number');
  }
  return { data, options: { cas: options.cas } };
}

function requireV2(target: KvTarget, what: string): void {
  if (target.mount.version !== 2) {
    throw new ClientError(`${what} needs a KV version 2 mount; this path is on KV version 1`);
  }
}

function requireVersionNumber(version: number): number {
  if (!Number.isInteger(version) || version < 0) {
    throw new ClientError('KV versions must be non-negative whole numbers');
  }
  return version;
}

/**
 * Normalises the server address and refuses what fetch would mishandle.
 * SECURITY: credentials in the URL are refused so that no message ever prints them.
 */
function normaliseAddress(address: string): string {
  let url: URL;
  try {
    url = new URL(address.trim());
  } catch {
    throw new ClientError('address must be an absolute http:// or https:// URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ClientError('address must start with http:// or https://');
  }
  if (url.username !== '' || url.password !== '') {
    throw new ClientError('address must not contain a user name or password');
  }
  if (url.search !== '' || url.hash !== '') {
    throw new ClientError('address must not contain a query or fragment');
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** The low-level reason a request failed to complete: an errno code when Node gives one. */
function connectionReason(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return `no answer within ${timeoutMs} ms`;
  }
  const cause = error instanceof Error ? error.cause : undefined;
  const code = errnoCode(cause) ?? errnoCode(error);
  if (code !== undefined) return code;
  if (cause instanceof Error && cause.message !== '') return cause.message;
  return error instanceof Error && error.message !== '' ? error.message : 'unknown network error';
}

function errnoCode(error: unknown): string | undefined {
  if (!isRecord(error) && !(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && code !== '') return code;
  if (error instanceof AggregateError) return errnoCode(error.errors[0]);
  return undefined;
}
