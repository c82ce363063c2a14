// The HA coordinator against the real PostgreSQL backend, with a stand-in core that records
// activations: one leader at a time, standbys name it, step-down hands over, and a leader
// whose epoch moved on (or that is sealed) demotes itself. CI=true fails without PostgreSQL.
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_PG_URL, requireService, skipNote } from '../../test/helpers/services.js';
import { openPostgresBackend, type PostgresBackend } from '../physical/postgresql.js';
import { HaCoordinator, type HaCore } from './ha-coordinator.js';

const service = await requireService('PostgreSQL', TEST_PG_URL);
const table = `coffer_hacoord_${process.pid}_${Date.now().toString(36)}`;

class FakeCore implements HaCore {
  active = false;
  sealed = false;
  activations = 0;
  get isStandby(): boolean {
    return !this.sealed && !this.active;
  }
  get isSealed(): boolean {
    return this.sealed || !this.active;
  }
  activate(): Promise<void> {
    this.active = true;
    this.activations += 1;
    return Promise.resolve();
  }
  deactivate(): Promise<void> {
    this.active = false;
    return Promise.resolve();
  }
}

async function until(what: string, check: () => boolean, limitMs = 5000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe.skipIf(!service.available)(`HA coordinator${skipNote(service)}`, () => {
  const backends: PostgresBackend[] = [];
  const coordinators: HaCoordinator[] = [];

  afterAll(async () => {
    for (const c of coordinators) await c.stop();
    for (const b of backends) await b.close();
    const admin = new pg.Client({ connectionString: TEST_PG_URL });
    await admin.connect();
    await admin.query(`DROP TABLE IF EXISTS "${table}", "${table}_ha"`);
    await admin.end();
  });

  function node(name: string): { core: FakeCore; ha: HaCoordinator; backend: PostgresBackend } {
    const backend = openPostgresBackend({
      connectionUrl: TEST_PG_URL,
      table,
      haTable: `${table}_ha`,
    });
    const core = new FakeCore();
    const ha = new HaCoordinator({
      backend,
      core,
      holderId: name,
      apiAddr: `http://${name}`,
      leaseTtlMs: 600,
      intervalMs: 100,
      now: () => Date.now(),
    });
    backends.push(backend);
    coordinators.push(ha);
    return { core, ha, backend };
  }

  it('one leader at a time; step-down hands over; a moved epoch or a seal demotes', async () => {
    const a = node('a');
    const b = node('b');
    a.ha.start();
    await until('a active', () => a.core.active);
    b.ha.start();
    await until('b to name a', () => b.ha.status().leaderAddress === 'http://a');
    expect(b.core.active).toBe(false);
    expect(a.ha.status()).toMatchObject({ isSelf: true, leaderAddress: 'http://a' });

    await a.ha.stepDown();
    expect(a.core.active).toBe(false);
    await until('b active after step-down', () => b.core.active, 2000);
    // a holds off for two leases, so b keeps the lease.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(a.core.active).toBe(false);
    await until('a to name b', () => a.ha.status().leaderAddress === 'http://b');

    // Someone else bumps the epoch (as a new leader would): b notices at its next renewal.
    const admin = new pg.Client({ connectionString: TEST_PG_URL });
    await admin.connect();
    await admin.query(
      `UPDATE "${table}_ha" SET epoch = epoch + 1, holder = 'x', valid_until = clock_timestamp() + interval '200 milliseconds'`,
    );
    await admin.end();
    await until('b to demote', () => !b.core.active, 2000);
    await expect(b.backend.put('k', Uint8Array.of(1))).rejects.toMatchObject({
      code: 'not_active',
    });
    await until('someone active again', () => a.core.active || b.core.active, 4000);

    // Sealing the active node gives the lease up at once.
    const leader = a.core.active ? a : b;
    const other = leader === a ? b : a;
    leader.core.sealed = true;
    leader.core.active = false;
    await until('the other node to take over', () => other.core.active, 3000);
  }, 20_000);
});
