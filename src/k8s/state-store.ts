// The operator's own state, in one Secret in its namespace (readable only by its service
// account): its Coffer token, the HMAC key for data MACs, and the dynamic credentials it holds
// with their leases. A restarted operator picks them up, so it neither logs in again while its
// token lives (leases end with the token that made them) nor issues new credentials while the
// old ones are valid. Writes are optimistic (resourceVersion); a 409 re-reads and retries.
import { randomBytes } from 'node:crypto';
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import type { SecretRead } from '../client/index.js';
import { MANAGED_BY, MANAGED_BY_LABEL } from './crd.js';
import { statusOf } from './kube.js';

export const STATE_SECRET = 'coffer-operator-state';
const MAX_CONFLICT_RETRIES = 5;

/** A leased read kept across restarts. */
export interface StoredRead extends SecretRead {
  /** Epoch ms the lease runs out unless renewed. */
  readonly expiresAt: number;
}

interface StateData {
  token?: string;
  hmacKey: string;
  leases: Record<string, Record<string, StoredRead>>;
}

function decode(secret: V1Secret | undefined): StateData | undefined {
  const data = secret?.data ?? {};
  const text = (key: string) =>
    data[key] === undefined ? undefined : Buffer.from(data[key], 'base64').toString('utf8');
  const hmacKey = text('hmac-key');
  if (hmacKey === undefined || hmacKey === '') return undefined;
  let leases: StateData['leases'] = {};
  try {
    const parsed: unknown = JSON.parse(text('leases.json') ?? '{}');
    if (typeof parsed === 'object' && parsed !== null) leases = parsed as StateData['leases'];
  } catch {
    leases = {};
  }
  const token = text('token');
  return { hmacKey, leases, ...(token === undefined || token === '' ? {} : { token }) };
}

function encode(state: StateData): Record<string, string> {
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  return {
    'hmac-key': b64(state.hmacKey),
    // Sorted, so the same state always encodes the same (no write without a change).
    'leases.json': b64(
      JSON.stringify(
        Object.fromEntries(Object.entries(state.leases).sort(([a], [b]) => (a < b ? -1 : 1))),
      ),
    ),
    ...(state.token === undefined ? {} : { token: b64(state.token) }),
  };
}

export class StateStore {
  readonly #core: CoreV1Api;
  readonly #namespace: string;
  #state: StateData = { hmacKey: '', leases: {} };
  #resourceVersion: string | undefined;
  #written = '';
  #chain: Promise<void> = Promise.resolve();
  /** Writes that reached the API (tests count them). */
  writes = 0;
  conflicts = 0;

  constructor(core: CoreV1Api, namespace: string) {
    this.#core = core;
    this.#namespace = namespace;
  }

  /** Reads the state Secret, creating it (with a new HMAC key) when absent. */
  async load(): Promise<void> {
    let secret: V1Secret | undefined;
    try {
      secret = await this.#core.readNamespacedSecret({
        name: STATE_SECRET,
        namespace: this.#namespace,
      });
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
    const found = decode(secret);
    if (found !== undefined) {
      this.#state = found;
      this.#resourceVersion = secret?.metadata?.resourceVersion;
      this.#written = JSON.stringify(encode(found));
      return;
    }
    this.#state = { hmacKey: randomBytes(32).toString('base64'), leases: {} };
    await this.flush();
  }

  get hmacKey(): Buffer {
    return Buffer.from(this.#state.hmacKey, 'base64');
  }

  get token(): string | undefined {
    return this.#state.token;
  }

  setToken(token: string | undefined): void {
    if (token === undefined) delete this.#state.token;
    else this.#state.token = token;
  }

  /** The leased reads kept for a resource (by its uid), keyed by targetId. */
  leasesOf(uid: string): Map<string, StoredRead> {
    return new Map(Object.entries(this.#state.leases[uid] ?? {}));
  }

  setLeases(uid: string, reads: ReadonlyMap<string, StoredRead>): void {
    const rest = Object.entries(this.#state.leases).filter(([k]) => k !== uid);
    if (reads.size > 0) rest.push([uid, Object.fromEntries(reads)]);
    this.#state.leases = Object.fromEntries(rest);
  }

  /** Every uid with kept leases (to drop those of resources that no longer exist). */
  uids(): string[] {
    return Object.keys(this.#state.leases);
  }

  /** Writes the state if it changed since the last write; serialised. */
  flush(): Promise<void> {
    const next = this.#chain.then(() => this.#write());
    this.#chain = next.catch(() => undefined);
    return next;
  }

  async #write(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const data = encode(this.#state);
      const text = JSON.stringify(data);
      if (text === this.#written) return;
      const body: V1Secret = {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name: STATE_SECRET,
          namespace: this.#namespace,
          labels: { [MANAGED_BY_LABEL]: MANAGED_BY },
          ...(this.#resourceVersion === undefined
            ? {}
            : { resourceVersion: this.#resourceVersion }),
        },
        type: 'Opaque',
        data,
      };
      try {
        const saved =
          this.#resourceVersion === undefined
            ? await this.#core.createNamespacedSecret({ namespace: this.#namespace, body })
            : await this.#core.replaceNamespacedSecret({
                name: STATE_SECRET,
                namespace: this.#namespace,
                body,
              });
        this.#resourceVersion = saved.metadata?.resourceVersion;
        this.#written = text;
        this.writes += 1;
        return;
      } catch (error) {
        const status = statusOf(error);
        if ((status !== 409 && status !== 404) || attempt >= MAX_CONFLICT_RETRIES) throw error;
        this.conflicts += 1;
        // Someone else wrote it (or it was deleted): take its resourceVersion, keep our content.
        try {
          const current = await this.#core.readNamespacedSecret({
            name: STATE_SECRET,
            namespace: this.#namespace,
          });
          this.#resourceVersion = current.metadata?.resourceVersion;
        } catch (readError) {
          if (statusOf(readError) !== 404) throw readError;
          this.#resourceVersion = undefined;
        }
      }
    }
  }
}
