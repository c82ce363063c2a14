// The per-request environment every method of the gcp-sm engine receives: the store over the
// mount's view, the input message, the clock, the caller's principal and the engine's
// after-write hook (scheduler jobs, notifications).
import type { EngineContext } from '../../sdk/engine.js';
import type { Storage } from '../../sdk/storage.js';
import type { SecretMeta, VersionedStore } from '../../sdk/versioned-store.js';
import type { Input } from './common.js';

export interface MethodEnv {
  readonly ctx: EngineContext;
  readonly storage: Storage;
  readonly store: VersionedStore;
  /** The request message in proto3 JSON, without the resource name. */
  readonly input: Input;
  readonly now: number;
  /** `serviceAccount:…` or `user:…`; absent for callers without a Google identity. */
  readonly principal?: string;
  /** Regional secrets may live only in these locations (the mount's `locations` option). */
  readonly locations: readonly string[];
  /**
   * Re-arms the secret's scheduler jobs and publishes its notifications after a change;
   * `before` is the metadata of a secret that no longer exists (its topics still get told).
   */
  afterChange(key: string, events: readonly GcpEvent[], before?: SecretMeta): Promise<void>;
}

/** Secret Manager's notification event types. */
export type GcpEventType =
  | 'SECRET_CREATE'
  | 'SECRET_UPDATE'
  | 'SECRET_DELETE'
  | 'SECRET_VERSION_ADD'
  | 'SECRET_VERSION_ENABLE'
  | 'SECRET_VERSION_DISABLE'
  | 'SECRET_VERSION_DESTROY'
  | 'SECRET_VERSION_DESTROY_SCHEDULED'
  | 'SECRET_ROTATE'
  | 'TOPIC_CONFIGURED';

export interface GcpEvent {
  readonly type: GcpEventType;
  /** The full secret name. */
  readonly secretId: string;
  /** The full version name, for version events. */
  readonly versionId?: string;
}
