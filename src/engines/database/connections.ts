// Open drivers per connection (cached by connection id and record version), the index of
// live dynamic users per connection, retirement of deleted connections that still have
// users, and recovery from a rotate-root interrupted by a crash.
import { randomUUID } from 'node:crypto';
import { CofferError } from '../../sdk/errors.js';
import type { JsonObject } from '../../sdk/json.js';
import { encodeJson, getJson, putJson, type Storage } from '../../sdk/storage.js';
import { KeyedLock } from './common.js';
import { driverSettings } from './connection-settings.js';
import type { DatabaseDriver, DriverOptions, PluginName } from '../../shared/db/driver.js';
import { openDriver } from '../../shared/db/drivers.js';
import {
  KEYS,
  loadConnection,
  saveConnection,
  settledConnection,
  type ConnectionRecord,
} from './records.js';

export class Connections {
  private readonly open = new Map<string, { version: string; driver: DatabaseDriver }>();
  private readonly options: DriverOptions;
  /** Per connection name: rotate-root and its crash recovery. */
  readonly rootLock = new KeyedLock();

  constructor(options: DriverOptions) {
    this.options = options;
  }

  /** A driver outside the cache, for checks before a record is stored; close it after use. */
  temporary(plugin: PluginName, details: JsonObject): DatabaseDriver {
    return openDriver(driverSettings(plugin, details), this.options);
  }

  /** The cached driver for a record; a record written since is a new driver. */
  driver(record: ConnectionRecord): DatabaseDriver {
    const cached = this.open.get(record.id);
    if (cached?.version === record.version) return cached.driver;
    if (cached !== undefined) void cached.driver.close().catch(() => undefined);
    const driver = openDriver(driverSettings(record.pluginName, record.details), this.options);
    this.open.set(record.id, { version: record.version, driver });
    return driver;
  }

  /**
   * The driver for a record, first finishing a rotate-root that a crash interrupted (see
   * `recover`).
   */
  async ready(storage: Storage, record: ConnectionRecord): Promise<DatabaseDriver> {
    if (record.pendingRootPassword === undefined) return this.driver(record);
    const current = await this.rootLock.run(record.name, () => this.recover(storage, record));
    return this.driver(current);
  }

  /**
   * Settles a pending root password; the caller holds `rootLock` for the connection. Each
   * password is tried on a fresh connection (pooled ones stay logged in after a change):
   * if the stored one still works the rotation never happened and the pending one is
   * dropped; if only the pending one works it is promoted. Returns the record to use.
   */
  async recover(storage: Storage, record: ConnectionRecord): Promise<ConnectionRecord> {
    const current = await loadConnection(storage, record.name);
    // A retired connection (deleted since) is used as it is.
    if (current?.id !== record.id) return record;
    const pending = current.pendingRootPassword;
    if (pending === undefined) return current;
    const rest = settledConnection(current);
    if (await this.works(current.pluginName, current.details)) {
      await saveConnection(storage, rest);
      return rest;
    }
    const withPending = { ...current.details, password: pending };
    if (!(await this.works(current.pluginName, withPending))) {
      throw new CofferError(
        'upstream_failure',
        'the database accepts neither the stored nor the pending root password',
      );
    }
    const promoted: ConnectionRecord = { ...rest, details: withPending, version: randomUUID() };
    await saveConnection(storage, promoted);
    return promoted;
  }

  /** Whether a fresh connection with these details succeeds; unreachable = throws. */
  private async works(plugin: PluginName, details: JsonObject): Promise<boolean> {
    const probe = this.temporary(plugin, details);
    try {
      await probe.verifyConnection();
      return true;
    } catch (err) {
      if (err instanceof CofferError && err.code === 'invalid_request') return false;
      throw err;
    } finally {
      await probe.close();
    }
  }

  async forget(id: string): Promise<void> {
    const cached = this.open.get(id);
    this.open.delete(id);
    await cached?.driver.close();
  }

  async closeAll(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    await Promise.all(all.map((entry) => entry.driver.close()));
  }
}

// ---- users per connection ------------------------------------------------------------

export async function recordUser(storage: Storage, id: string, username: string): Promise<void> {
  await putJson(storage, KEYS.user(id, username), {});
}

/**
 * Forgets a user that is gone; when it was the last user of a deleted connection, the
 * retired copy of that connection (with its credentials) is deleted too.
 */
export async function forgetUser(
  storage: Storage,
  connections: Connections,
  id: string,
  username: string,
): Promise<void> {
  await storage.delete(KEYS.user(id, username));
  const retired = await getJson<ConnectionRecord>(storage, KEYS.retiredConnection(id));
  if (retired === undefined) return;
  if ((await storage.list(KEYS.userPrefix(id))).length > 0) return;
  await storage.delete(KEYS.retiredConnection(id));
  await connections.forget(id);
}

/**
 * Deletes a connection. If it still has users (leases not yet revoked), a copy is kept
 * under its id so they can still be revoked; it goes with the last of them.
 */
export async function deleteConnection(
  storage: Storage,
  connections: Connections,
  record: ConnectionRecord,
): Promise<void> {
  const users = await storage.list(KEYS.userPrefix(record.id));
  if (users.length > 0) {
    await storage.batch([
      { op: 'put', key: KEYS.retiredConnection(record.id), value: encodeJson(record) },
      { op: 'delete', key: KEYS.connection(record.name) },
    ]);
  } else {
    await storage.delete(KEYS.connection(record.name));
  }
  await connections.forget(record.id);
}
