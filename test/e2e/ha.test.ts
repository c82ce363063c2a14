// HA on the machine's real PostgreSQL: three real `coffer server` processes on one database,
// each reaching PostgreSQL through its own loopback fault proxy. Writes through any node;
// kill -9 of the active node under concurrent writes (every acknowledged write survives, the
// failover time is printed); SIGSTOP of the active past its lease, then SIGCONT while a new
// leader serves (a trigger in the database proves it commits nothing); cutting the active
// node's link demotes it and restoring it lets it rejoin as a standby. CI=true fails when
// PostgreSQL is missing.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  TEST_PG_URL,
  requireService,
  skipNote,
  startFaultProxy,
  type FaultProxy,
} from '../helpers/services.js';
import {
  killAllServers,
  runCoffer,
  startServer,
  type ServerProcess,
} from '../helpers/server-process.js';
import { vaultOk, vaultRequest, type HttpResult } from './vault-http.js';

const service = await requireService('PostgreSQL', TEST_PG_URL);
const table = `coffer_ha_${process.pid}_${Date.now().toString(36)}`;
const haTable = `${table}_ha`;
const logTable = `${table}_log`;
const SEAL_KEY = randomBytes(32).toString('base64');
/** The lease the servers run with (the default, 2.5 s); failover must take under 5 s. */
const LEASE_TTL_MS = 2500;
const FAILOVER_LIMIT_MS = 5000;

interface Node {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly proxy: FaultProxy;
  server: ServerProcess | undefined;
}

/** A port chosen by the OS (bound, read, released), for api_addr before the server starts. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  return port;
}

function nodeConfig(node: Node, mode: 'forward' | 'redirect'): string {
  return [
    'log_level = "info"',
    `api_addr = "${node.url}"`,
    `ha_standby_mode = "${mode}"`,
    'storage "postgresql" {',
    '  connection_url_env = "HA_PG_URL"',
    `  table = "${table}"`,
    `  ha_table = "${haTable}"`,
    '  ha_enabled = "true"',
    '}',
    'listener "tcp" {',
    `  address = "127.0.0.1:${node.port}"`,
    '  tls_disable = true',
    '}',
    'seal "static" {',
    '  key_env = "HA_SEAL_KEY"',
    '}',
  ].join('\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every 100 ms until it returns a value, for at most `limitMs`. */
async function waitFor<T>(
  what: string,
  limitMs: number,
  check: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${limitMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

async function leaderOf(node: Node): Promise<{ is_self: boolean; leader_address: string }> {
  const res = await vaultRequest(node.url, 'GET', 'sys/leader', { timeoutMs: 2000 });
  return res.body as { is_self: boolean; leader_address: string };
}

/** GET auth/token/lookup-self from a chosen local address (status only). */
function lookupSelfFrom(
  localAddress: string,
  base: string,
  token: string,
  extra: Record<string, string> = {},
): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${base}/v1/auth/token/lookup-self`,
      { localAddress, headers: { 'x-vault-token': token, ...extra }, timeout: 5000 },
      (res) => {
        res.resume();
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0 });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

describe.skipIf(!service.available)(`HA: three nodes on one PostgreSQL${skipNote(service)}`, () => {
  const admin = new pg.Pool({ connectionString: TEST_PG_URL, max: 2 });
  const nodes: Node[] = [];
  let token = '';
  /** Every write a node acknowledged: path → value. */
  const acked = new Map<string, string>();

  async function startNode(node: Node, mode: 'forward' | 'redirect'): Promise<void> {
    const url = new URL(TEST_PG_URL);
    url.hostname = '127.0.0.1';
    url.port = String(node.proxy.port);
    // The trigger below records which node's connections wrote each row.
    url.searchParams.set('application_name', `coffer-${node.name}`);
    node.server = await startServer({
      configText: nodeConfig(node, mode),
      env: { HA_PG_URL: url.toString(), HA_SEAL_KEY: SEAL_KEY },
    });
  }

  async function active(limitMs = FAILOVER_LIMIT_MS + 3000): Promise<Node> {
    return waitFor('an active node', limitMs, async () => {
      for (const node of nodes) {
        if (node.server === undefined || node.server.hasExited()) continue;
        const res = await vaultRequest(node.url, 'GET', 'sys/health', { timeoutMs: 1000 });
        if (res.status === 200) return node;
      }
      return undefined;
    });
  }

  async function write(
    node: Node,
    path: string,
    value: string,
    timeoutMs = 4000,
  ): Promise<HttpResult> {
    const res = await vaultRequest(node.url, 'POST', `secret/data/${path}`, {
      token,
      body: { data: { value } },
      timeoutMs,
    });
    if (res.status === 200) acked.set(path, value);
    return res;
  }

  async function read(node: Node, path: string): Promise<string | undefined> {
    const res = await vaultRequest(node.url, 'GET', `secret/data/${path}`, { token });
    if (res.status !== 200) return undefined;
    return (res.body as { data: { data: { value: string } } }).data.data.value;
  }

  beforeAll(async () => {
    // The table exists before the servers start, with a trigger that logs the writer.
    await admin.query(
      `CREATE TABLE "${table}" (key text COLLATE "C" PRIMARY KEY, value bytea NOT NULL)`,
    );
    await admin.query(
      `CREATE TABLE "${logTable}" (app text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`,
    );
    await admin.query(`CREATE FUNCTION "${logTable}_fn"() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO "${logTable}" (app) VALUES (current_setting('application_name')); RETURN NULL; END $$`);
    await admin.query(`CREATE TRIGGER "${logTable}_trg" AFTER INSERT OR UPDATE OR DELETE ON "${table}"
      FOR EACH ROW EXECUTE FUNCTION "${logTable}_fn"()`);
    for (const name of ['a', 'b', 'c']) {
      const port = await freePort();
      const proxy = await startFaultProxy(service.endpoint.host, service.endpoint.port);
      nodes.push({ name, port, url: `http://127.0.0.1:${port}`, proxy, server: undefined });
    }
    const [a, b, c] = nodes as [Node, Node, Node];
    await startNode(a, 'forward');
    const init = await vaultOk(a.url, 'POST', 'sys/init', {
      body: {},
    });
    token = (init.body as { root_token: string }).root_token;
    await waitFor('node a active', 8000, async () =>
      (await leaderOf(a)).is_self ? true : undefined,
    );
    await vaultOk(a.url, 'POST', 'sys/mounts/secret', {
      token,
      body: { type: 'kv', options: { version: '2' } },
    });
    await Promise.all([startNode(b, 'forward'), startNode(c, 'redirect')]);
  }, 60_000);

  afterAll(async () => {
    for (const node of nodes)
      if (node.server?.hasExited() === false) node.server.proc.kill('SIGCONT');
    await killAllServers();
    for (const node of nodes) await node.proxy.close();
    await admin.query(`DROP TABLE IF EXISTS "${table}", "${haTable}", "${logTable}"`);
    await admin.query(`DROP FUNCTION IF EXISTS "${logTable}_fn"()`);
    await admin.end();
  });

  it('standbys report standby, name the leader, and take writes for it (forward and 307)', async () => {
    const [a, b, c] = nodes as [Node, Node, Node];
    await waitFor('standbys unsealed', 8000, async () => {
      const res = await vaultRequest(c.url, 'GET', 'sys/health');
      return res.status === 429 ? true : undefined;
    });
    for (const standby of [b, c]) {
      const health = await vaultRequest(standby.url, 'GET', 'sys/health');
      expect(health.status).toBe(429);
      expect(health.body).toMatchObject({ standby: true, sealed: false, initialized: true });
      expect((await vaultRequest(standby.url, 'GET', 'sys/health?standbyok=true')).status).toBe(
        200,
      );
      expect(await leaderOf(standby)).toMatchObject({ is_self: false, leader_address: a.url });
    }
    expect(await leaderOf(a)).toMatchObject({ is_self: true, leader_address: a.url });
    // b forwards (headers and body intact); c answers 307 to the active node.
    expect((await write(b, 'via-b', 'vb')).status).toBe(200);
    const redirect = await fetch(`${c.url}/v1/secret/data/via-b`, {
      headers: { 'X-Vault-Token': token },
      redirect: 'manual',
    });
    expect(redirect.status).toBe(307);
    expect(redirect.headers.get('location')).toBe(`${a.url}/v1/secret/data/via-b`);
    expect((await write(c, 'via-c', 'vc')).status).toBe(200); // fetch follows the 307
    for (const node of nodes) {
      expect(await read(node, 'via-b')).toBe('vb');
      expect(await read(node, 'via-c')).toBe('vc');
    }
  });

  it('tokens revoked, policies changed and secrets written on one node apply on every node', async () => {
    const [a, b, c] = nodes as [Node, Node, Node];
    await vaultOk(b.url, 'PUT', 'sys/policies/acl/reader', {
      token,
      body: { policy: 'path "secret/data/shared" { capabilities = ["read"] }' },
    });
    const created = await vaultOk(c.url, 'POST', 'auth/token/create', {
      token,
      body: { policies: ['reader'] },
    });
    const child = (created.body as { auth: { client_token: string } }).auth.client_token;
    await write(a, 'shared', 'one');
    expect((await vaultRequest(b.url, 'GET', 'secret/data/shared', { token: child })).status).toBe(
      200,
    );
    // Policy narrowed on a: the next request on b and c is denied.
    await vaultOk(a.url, 'PUT', 'sys/policies/acl/reader', {
      token,
      body: { policy: 'path "secret/data/other" { capabilities = ["read"] }' },
    });
    for (const node of [b, c]) {
      expect(
        (await vaultRequest(node.url, 'GET', 'secret/data/shared', { token: child })).status,
      ).toBe(403);
    }
    await write(c, 'shared', 'two');
    for (const node of nodes) expect(await read(node, 'shared')).toBe('two');
    // Revoked on b: refused everywhere at the next request.
    await vaultOk(b.url, 'POST', 'auth/token/revoke', { token, body: { token: child } });
    for (const node of nodes) {
      expect(
        (await vaultRequest(node.url, 'GET', 'auth/token/lookup-self', { token: child })).status,
      ).toBe(403);
    }
  });

  it('a forwarded request is judged by the client address the standby signed, not by the standby', async () => {
    const [a, b] = nodes as [Node, Node, Node];
    // A token usable only from 127.0.0.2 (Linux routes all of 127/8 to loopback).
    await vaultOk(a.url, 'POST', 'auth/token/roles/from-two', {
      token,
      body: { token_bound_cidrs: ['127.0.0.2/32'] },
    });
    const created = await vaultOk(a.url, 'POST', 'auth/token/create/from-two', { token, body: {} });
    const bound = (created.body as { auth: { client_token: string } }).auth.client_token;
    // Through standby b from 127.0.0.2: the active node sees 127.0.0.2 (b's own address is
    // 127.0.0.1, which the binding refuses).
    expect((await lookupSelfFrom('127.0.0.2', b.url, bound)).status).toBe(200);
    expect((await lookupSelfFrom('127.0.0.1', b.url, bound)).status).toBe(403);
    // A client cannot state an address itself: headers without a valid MAC are ignored.
    const forged = await lookupSelfFrom('127.0.0.1', a.url, bound, {
      'x-coffer-forwarded-for': '127.0.0.2',
      'x-coffer-forwarded-mac': `v1.${Date.now()}.${'A'.repeat(43)}`,
    });
    expect(forged.status).toBe(403);
    // A standby replaces what a client stated with what it saw.
    const throughB = await lookupSelfFrom('127.0.0.1', b.url, bound, {
      'x-coffer-forwarded-for': '127.0.0.2',
    });
    expect(throughB.status).toBe(403);
  });

  it('kill -9 of the active node under concurrent writes: every acknowledged write survives', async () => {
    const old = await active();
    const survivors = nodes.filter((node) => node !== old);
    let stop = false;
    let killedAt = 0;
    let firstWriteAfterKill = 0;
    let sequence = 0;
    const workers = Array.from({ length: 8 }, async (_, worker) => {
      // Bounded: the loop ends when told to, and at most 2000 writes per worker.
      for (let i = 0; i < 2000 && !stop; i += 1) {
        const targets = killedAt === 0 ? nodes : survivors;
        const node = targets[(worker + i) % targets.length]!;
        const path = `load/${worker}-${(sequence += 1)}`;
        const res = await write(node, path, randomBytes(8).toString('hex')).catch(() => undefined);
        if (res?.status === 200 && killedAt !== 0 && firstWriteAfterKill === 0) {
          firstWriteAfterKill = Date.now();
        }
        if (res?.status !== 200) await sleep(50);
      }
    });
    await waitFor('writes flowing', 10_000, () =>
      Promise.resolve(acked.size > 60 ? true : undefined),
    );
    killedAt = Date.now();
    await old.server!.kill9();
    await waitFor('a write after the kill', 15_000, () =>
      Promise.resolve(firstWriteAfterKill !== 0 ? true : undefined),
    );
    await sleep(500);
    stop = true;
    await Promise.all(workers);
    const failoverMs = firstWriteAfterKill - killedAt;
    console.log(
      `HA failover after kill -9: first acknowledged write ${failoverMs} ms after the kill (lease ${LEASE_TTL_MS} ms)`,
    );
    expect(failoverMs).toBeLessThan(FAILOVER_LIMIT_MS);
    const now = await active();
    expect(now).not.toBe(old);
    const missing: string[] = [];
    for (const [path, value] of acked) if ((await read(now, path)) !== value) missing.push(path);
    expect(missing).toEqual([]);
  }, 60_000);

  it('a deposed leader paused past its lease commits nothing after SIGCONT', async () => {
    const paused = await active();
    const pausedAt = Date.now();
    paused.server!.proc.kill('SIGSTOP');
    const next = await waitFor('a new leader', LEASE_TTL_MS + FAILOVER_LIMIT_MS, async () => {
      for (const node of nodes) {
        if (node === paused || node.server?.hasExited() !== false) continue;
        if ((await leaderOf(node)).is_self) return node;
      }
      return undefined;
    });
    console.log(`HA failover after SIGSTOP: new leader after ${Date.now() - pausedAt} ms`);
    expect((await write(next, 'after-pause', 'x')).status).toBe(200);
    const { rows } = await admin.query<{ now: Date }>('SELECT clock_timestamp() AS now');
    // Sent while it is still frozen: they wait in its socket backlog and are the first
    // thing it handles after SIGCONT, racing its own lease renewal.
    const tries = Array.from({ length: 10 }, (_, i) =>
      write(paused, `paused/${i}`, `p${i}`, 15_000).catch(() => undefined),
    );
    await sleep(200);
    paused.server!.proc.kill('SIGCONT');
    const results = await Promise.all(tries);
    const statuses = results.map((res) => res?.status ?? 0);
    for (const res of results) if (res?.status === 500) console.log(`HA SIGCONT 500: ${res.text}`);
    // Each try either failed or was served by the new leader (after the node demoted itself).
    for (const [i, res] of results.entries()) {
      if (res?.status === 200) expect(await read(next, `paused/${i}`)).toBe(`p${i}`);
    }
    const written = await admin.query<{ count: string }>(
      `SELECT count(*) FROM "${logTable}" WHERE app = $1 AND at >= $2`,
      [`coffer-${paused.name}`, rows[0]!.now],
    );
    console.log(
      `HA SIGCONT: tries answered ${statuses.join(',')}; rows written by the deposed node: ${written.rows[0]!.count}`,
    );
    expect(written.rows[0]!.count).toBe('0');
    // Refused tries are 503 not_active, never a 500.
    for (const status of statuses) expect([200, 503]).toContain(status);
    // It rejoins as a standby that names the new leader.
    await waitFor('the paused node to rejoin as a standby', 8000, async () => {
      const leader = await leaderOf(paused);
      return !leader.is_self && leader.leader_address === next.url ? true : undefined;
    });
  }, 60_000);

  it("cutting the active node's link to PostgreSQL demotes it; restoring it rejoins it as a standby", async () => {
    const cut = await active();
    const cutAt = Date.now();
    cut.proxy.setMode('refuse');
    const next = await waitFor('another leader', LEASE_TTL_MS + FAILOVER_LIMIT_MS, async () => {
      for (const node of nodes) {
        if (node === cut || node.server?.hasExited() !== false) continue;
        if ((await leaderOf(node)).is_self) return node;
      }
      return undefined;
    });
    const res = await waitFor('a write on the new leader', FAILOVER_LIMIT_MS, async () => {
      const r = await write(next, 'after-cut', 'y');
      return r.status === 200 ? r : undefined;
    });
    expect(res.status).toBe(200);
    console.log(
      `HA failover after cutting PostgreSQL: writes served after ${Date.now() - cutAt} ms`,
    );
    // The cut node no longer claims to be active.
    await waitFor('the cut node to demote', LEASE_TTL_MS + 2000, async () =>
      (await vaultRequest(cut.url, 'GET', 'sys/health', { timeoutMs: 1000 })).status !== 200
        ? true
        : undefined,
    );
    cut.proxy.setMode('pass');
    await waitFor('the cut node to rejoin as a standby', 10_000, async () => {
      const leader = await leaderOf(cut);
      return !leader.is_self && leader.leader_address === next.url ? true : undefined;
    });
    expect(await read(cut, 'after-cut')).toBe('y'); // forwarded to the new leader
  }, 60_000);

  it('coffer operator step-down hands leadership to another node', async () => {
    const before = await active();
    const cli = await runCoffer(['operator', 'step-down'], {
      env: { VAULT_ADDR: before.url, VAULT_TOKEN: token },
    });
    expect(cli.stderr).toBe('');
    expect(cli.stdout).toContain('Success! Stepped down the active node.');
    const startedAt = Date.now();
    const after = await active();
    expect(after).not.toBe(before);
    expect((await write(after, 'after-step-down', 'z')).status).toBe(200);
    console.log(`HA step-down: new active serving writes after ${Date.now() - startedAt} ms`);
    // Without sudo the endpoint is refused.
    expect(
      (await vaultRequest(after.url, 'PUT', 'sys/step-down', { token: 'not-a-token' })).status,
    ).toBe(403);
  }, 30_000);
});
