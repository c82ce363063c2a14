// Test fixtures for the database engine (unit and integration tests): the engine harness of
// src/sdk/testing.ts on a database mount, and helpers that play the core's part for leases.
// Not part of the build's behaviour.
import { expect } from 'vitest';
import type { EngineContext, LeaseGrant, LeaseInfo } from '../../sdk/engine.js';
import type { JsonObject } from '../../sdk/json.js';
import { engineHarness, testMount, type EngineHarness } from '../../sdk/testing.js';
import type { DriverOptions } from '../../shared/db/driver.js';
import { createDatabaseEngine } from './engine.js';

export const MOUNT = testMount({
  path: 'database/',
  type: 'database',
  accessor: 'database_00000000',
  options: {},
  config: { defaultLeaseTtlSeconds: 3600, maxLeaseTtlSeconds: 86_400 },
});

/** config/<name> fields of a PostgreSQL connection nothing listens at (never verified). */
export function unreachablePostgres(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    plugin_name: 'postgresql-database-plugin',
    connection_url: 'postgresql://{{username}}:{{password}}@127.0.0.1:1/db',
    username: 'vault',
    password: 'pw',
    verify_connection: false,
    ...extra,
  };
}

export interface DatabaseHarness extends EngineHarness {
  /** The context the core hands lease calls, jobs and rollbacks (same as `context`). */
  ctx(): EngineContext;
  /** Reads creds/<role> and returns the grant with the lease the core would register. */
  creds(role: string): Promise<{ data: JsonObject; grant: LeaseGrant; lease: LeaseInfo }>;
  /** A stored record, parsed (tests look behind the API, e.g. at a rotated password). */
  stored(key: string): unknown;
}

let leaseCounter = 0;

export function databaseHarness(
  options: { driver?: DriverOptions; nowMs?: number } = {},
): DatabaseHarness {
  const engine = createDatabaseEngine(
    options.driver === undefined ? {} : { driver: options.driver },
  );
  const h = engineHarness(engine, {
    mount: MOUNT,
    ...(options.nowMs === undefined ? {} : { nowMs: options.nowMs }),
  });
  const database: Pick<DatabaseHarness, 'ctx' | 'creds' | 'stored'> = {
    ctx: () => h.context(),
    async creds(role) {
      const result = await h.call('read', `creds/${role}`);
      if (result.kind !== 'lease') throw new Error(`expected a lease result, got ${result.kind}`);
      const ttlSeconds = result.lease.ttlSeconds || MOUNT.config.defaultLeaseTtlSeconds;
      leaseCounter += 1;
      const lease: LeaseInfo = {
        id: `database/creds/${role}/lease-${leaseCounter}`,
        path: `database/creds/${role}`,
        secretType: result.lease.secretType,
        internal: result.lease.internal,
        issuedAt: h.nowMs,
        expiresAt: h.nowMs + ttlSeconds * 1000,
        ttlSeconds,
      };
      return { data: result.data, grant: result.lease, lease };
    },
    stored(key) {
      const raw = h.storage.entries.get(key);
      return raw === undefined ? undefined : (JSON.parse(new TextDecoder().decode(raw)) as unknown);
    },
  };
  return Object.assign(h, database);
}

/** Asserts a CofferError of `code` whose message contains `contains` and none of `secrets`. */
export async function expectCoffer(
  promise: Promise<unknown>,
  code: string,
  options: { contains?: string; secrets?: readonly string[]; field?: string } = {},
): Promise<string> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  expect(caught).toMatchObject({ name: 'CofferError', code });
  const message = (caught as Error).message;
  if (options.contains !== undefined) expect(message).toContain(options.contains);
  if (options.field !== undefined) expect(caught).toMatchObject({ field: options.field });
  for (const secret of options.secrets ?? []) expect(message).not.toContain(secret);
  return message;
}
