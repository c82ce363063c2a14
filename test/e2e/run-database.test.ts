// End to end: dynamic PostgreSQL credentials kept alive for a running program, against a real
// server and the real PostgreSQL. `coffer run -watch` renews a renewable lease so the same user
// keeps working past its TTL, and replaces a credential whose max TTL ends (new read, program
// restarted with a new user) before the old lease expires; `coffer agent` re-renders a template
// with new credentials before the max TTL ends. The program connects every 500 ms and must never
// see a failed connection. Measured timings are printed to the test log.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  COFFER_BIN,
  createTempDir,
  killAllServers,
  REPO_ROOT,
  startServer,
} from '../helpers/server-process.js';
import type { ServerProcess, TempDir } from '../helpers/server-process.js';
import { skipNote, TEST_PG_URL } from '../helpers/services.js';
import { postgresFixture } from '../integration/database-fixtures.js';
import { vaultOk, vaultRequest } from './vault-http.js';

/** Users, the admin and the table of this file all start with it (the fixture drops them). */
const PREFIX = 'crdbe2e';
/** The table the fixture's creation statements grant SELECT on. */
const TABLE = `${PREFIX}_items`;
const ROOT_TOKEN = `run-db-root-${randomBytes(8).toString('hex')}`;
/** How often the program connects, and how often the test samples leases and pg_roles. */
const PROBE_EVERY_MS = 500;
const SAMPLE_EVERY_MS = 100;

const fixture = await postgresFixture(PREFIX);
let server: ServerProcess;
let tmp: TempDir;
/** The test's own connection for pg_roles (the fixture's root connection is private). */
let observer: pg.Client;
let probeScript = '';
const live = new Set<ChildProcess>();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A line the probe program printed: epoch ms, what happened, as which user. */
interface ProbeLine {
  readonly at: number;
  readonly kind: 'START' | 'OK' | 'FAIL' | 'STOP';
  readonly user: string;
  readonly detail: string;
}

function parseProbe(stdout: string): ProbeLine[] {
  const lines: ProbeLine[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^(\d+) (START|OK|FAIL|STOP) (\S+)(?: (.*))?$/.exec(line);
    if (m === null) continue;
    lines.push({
      at: Number(m[1]),
      kind: m[2] as ProbeLine['kind'],
      user: m[3]!,
      detail: m[4] ?? '',
    });
  }
  return lines;
}

/** Connects as DB_USER/DB_PASS every 500 ms; prints START, OK/FAIL per attempt, STOP. */
function probeProgram(): string {
  const { host, port, database } = fixture.service.endpoint;
  const pgPath = createRequire(import.meta.url).resolve('pg');
  return `'use strict';
const pg = require(${JSON.stringify(pgPath)});
const user = process.env.DB_USER ?? '';
const password = process.env.DB_PASS ?? '';
const say = (what, extra) => console.log(Date.now() + ' ' + what + ' ' + (user || '-') + (extra ? ' ' + extra : ''));
say('START');
process.on('SIGTERM', () => { say('STOP'); process.exit(0); });
async function probe() {
  const client = new pg.Client({ host: ${JSON.stringify(host)}, port: ${port}, database: ${JSON.stringify(database)},
    user, password, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT count(*) FROM ${TABLE}');
    say('OK');
  } catch (error) {
    say('FAIL', String(error && (error.code || error.message)));
  } finally {
    await client.end().catch(() => undefined);
  }
}
(async () => { for (;;) { await probe(); await new Promise((r) => setTimeout(r, ${PROBE_EVERY_MS})); } })();
`;
}

interface LiveCli {
  readonly proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startCoffer(args: string[]): LiveCli {
  const proc = spawn(process.execPath, [COFFER_BIN, ...args], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: tmp.path,
      COFFER_ADDR: server.url,
      COFFER_TOKEN: ROOT_TOKEN,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(proc);
  let out = '';
  let err = '';
  proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  proc.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('close', (code, signal) => {
      live.delete(proc);
      resolve({ code, signal });
    });
  });
  return { proc, stdout: () => out, stderr: () => err, exited };
}

/** SIGTERM, bounded wait, SIGKILL as a last resort. */
async function stop(cli: LiveCli): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  cli.proc.kill('SIGTERM');
  const timer = setTimeout(() => cli.proc.kill('SIGKILL'), 15_000);
  try {
    return await cli.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** What the server says about one lease, sampled over time. */
interface LeaseSample {
  readonly id: string;
  readonly issuedAt: number;
  /** Every distinct expire_time seen, in order (epoch ms). */
  readonly expiries: number[];
  /** Every distinct last_renewal seen, in order (epoch ms). */
  readonly renewals: number[];
}

/**
 * A database user seen in pg_roles: when first seen, when first seen missing, and its latest
 * VALID UNTIL (epoch ms): the engine sets it to the lease's end, truncated to the second, at
 * creation and at each renewal.
 */
interface UserSample {
  readonly name: string;
  readonly firstSeenAt: number;
  goneAt: number | undefined;
  validUntil: number | undefined;
}

/**
 * Samples, every 100 ms until stopped, the leases under database/creds/<role>/ (lookup) and the
 * PostgreSQL users whose names start with the role's username prefix.
 */
function startSampler(role: string) {
  const leases = new Map<string, LeaseSample>();
  const users = new Map<string, UserSample>();
  let running = true;
  const sampleLeases = async () => {
    const list = await vaultRequest(
      server.url,
      'GET',
      `sys/leases/lookup/database/creds/${role}/?list=true`,
      { token: ROOT_TOKEN },
    );
    const keys = (list.body as { data?: { keys?: string[] } } | undefined)?.data?.keys ?? [];
    for (const key of keys) {
      const id = `database/creds/${role}/${key}`;
      const res = await vaultRequest(server.url, 'PUT', 'sys/leases/lookup', {
        token: ROOT_TOKEN,
        body: { lease_id: id },
      });
      if (res.status !== 200) continue;
      const data = (res.body as { data: Record<string, unknown> }).data;
      const expireAt = Date.parse(data['expire_time'] as string);
      const renewal =
        typeof data['last_renewal'] === 'string' ? Date.parse(data['last_renewal']) : undefined;
      let sample = leases.get(id);
      if (sample === undefined) {
        sample = {
          id,
          issuedAt: Date.parse(data['issue_time'] as string),
          expiries: [],
          renewals: [],
        };
        leases.set(id, sample);
      }
      if (sample.expiries.at(-1) !== expireAt) sample.expiries.push(expireAt);
      if (renewal !== undefined && sample.renewals.at(-1) !== renewal) {
        sample.renewals.push(renewal);
      }
    }
  };
  const sampleUsers = async () => {
    const res = await observer.query<{ rolname: string; rolvaliduntil: Date | null }>(
      'SELECT rolname, rolvaliduntil FROM pg_roles WHERE rolname LIKE $1',
      [`${PREFIX}_${role}_%`],
    );
    const now = Date.now();
    const present = new Set(res.rows.map((r) => r.rolname));
    for (const row of res.rows) {
      let user = users.get(row.rolname);
      if (user === undefined) {
        user = { name: row.rolname, firstSeenAt: now, goneAt: undefined, validUntil: undefined };
        users.set(row.rolname, user);
      }
      user.validUntil = row.rolvaliduntil?.getTime();
    }
    for (const user of users.values()) {
      if (user.goneAt === undefined && !present.has(user.name)) user.goneAt = now;
    }
  };
  const done = (async () => {
    while (running) {
      await Promise.all([sampleLeases(), sampleUsers()]);
      await sleep(SAMPLE_EVERY_MS);
    }
  })();
  return {
    leases,
    users,
    async stop() {
      running = false;
      await done;
    },
  };
}

type Sampler = ReturnType<typeof startSampler>;

/**
 * The lease of a user: the one whose last known end matches the user's VALID UNTIL (which is
 * that end truncated to the second); undefined when none does.
 */
function leaseOfUser(sampler: Sampler, name: string): LeaseSample | undefined {
  const validUntil = sampler.users.get(name)?.validUntil;
  if (validUntil === undefined) return undefined;
  const matches = [...sampler.leases.values()].filter((lease) => {
    const end = Math.max(...lease.expiries);
    return end >= validUntil && end - validUntil < 1_000;
  });
  return matches.length === 1 ? matches[0] : undefined;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

async function createRole(name: string, defaultTtl: string, maxTtl: string): Promise<void> {
  await vaultOk(server.url, 'POST', `database/roles/${name}`, {
    token: ROOT_TOKEN,
    body: {
      db_name: 'pg',
      creation_statements: fixture.creationStatements,
      default_ttl: defaultTtl,
      max_ttl: maxTtl,
    },
  });
}

const runArgs = (role: string) => [
  'run',
  '-watch',
  `-map=DB_USER=coffer://database/creds/${role}#username`,
  `-map=DB_PASS=coffer://database/creds/${role}#password`,
  '--',
  'node',
  probeScript,
];

/** Groups the probe lines by user in the order the users appeared. */
function byUser(lines: readonly ProbeLine[]): { user: string; lines: ProbeLine[] }[] {
  const groups: { user: string; lines: ProbeLine[] }[] = [];
  for (const line of lines) {
    const last = groups.at(-1);
    if (last?.user === line.user) last.lines.push(line);
    else groups.push({ user: line.user, lines: [line] });
  }
  return groups;
}

describe.skipIf(!fixture.service.available)(
  `dynamic PostgreSQL credentials kept alive for a running program${skipNote(fixture.service)}`,
  () => {
    beforeAll(async () => {
      await fixture.setup();
      observer = new pg.Client({ connectionString: TEST_PG_URL });
      await observer.connect();
      tmp = createTempDir('coffer-run-db-e2e-');
      probeScript = tmp.file('probe.cjs');
      writeFileSync(probeScript, probeProgram());
      server = await startServer({ dev: { rootTokenId: ROOT_TOKEN } });
      await vaultOk(server.url, 'POST', 'sys/mounts/database', {
        token: ROOT_TOKEN,
        body: { type: 'database' },
      });
      const { host, port } = fixture.service.endpoint;
      await vaultOk(server.url, 'POST', 'database/config/pg', {
        token: ROOT_TOKEN,
        body: {
          plugin_name: fixture.plugin,
          allowed_roles: '*',
          username_template: `{{ printf "${PREFIX}_%s_%s" .RoleName (random 16) | lowercase }}`,
          ...fixture.connectionFields(host, port),
        },
      });
      await createRole('renewing', '5s', '1h');
      await createRole('capped', '5s', '8s');
      await createRole('agent', '5s', '8s');
    }, 60_000);

    afterAll(async () => {
      for (const proc of live) proc.kill('SIGKILL');
      await killAllServers();
      await observer.end().catch(() => undefined);
      await fixture.teardown();
      tmp.remove();
    });

    /** The run of the first test, examined again by the second. */
    let renewing: { sampler: Sampler; lines: ProbeLine[]; stderr: string; report: string };

    it('coffer run -watch renews a 5 s lease: the same user works for 15 s, never a failed connection', async () => {
      const sampler = startSampler('renewing');
      const run = startCoffer(runArgs('renewing'));
      await sleep(15_000);
      const exit = await stop(run);
      await sampler.stop();
      const lines = parseProbe(run.stdout());
      const report = `stdout:\n${run.stdout()}\nstderr:\n${run.stderr()}`;
      renewing = { sampler, lines, stderr: run.stderr(), report };
      expect(exit, report).toEqual({ code: 0, signal: null });
      expect(
        lines.filter((l) => l.kind === 'FAIL'),
        report,
      ).toEqual([]);
      const oks = lines.filter((l) => l.kind === 'OK');
      expect(oks.length, report).toBeGreaterThanOrEqual(20);
      const user = oks[0]!.user;
      expect(new Set(oks.map((l) => l.user)), report).toEqual(new Set([user]));
      const spanMs = oks.at(-1)!.at - oks[0]!.at;
      expect(spanMs).toBeGreaterThan(12_000);
      expect(sampler.users.get(user)?.goneAt).toBeUndefined();

      // Its lease was renewed again and again, each time moving its expiry further.
      const lease = leaseOfUser(sampler, user);
      expect(lease, report).toBeDefined();
      const renewedAfter = lease!.renewals.map((at) => at - lease!.issuedAt);
      const expiresAfter = lease!.expiries.map((at) => at - lease!.issuedAt);
      console.log(
        `run -watch, 5 s TTL / 1 h max: the user worked for ${seconds(spanMs)} ` +
          `(${oks.length} connections, 0 failed); its lease was renewed at ` +
          `${renewedAfter.map(seconds).join(', ')} after issue, moving its expiry to ` +
          `${expiresAfter.map(seconds).join(', ')} after issue`,
      );
      expect(lease!.renewals.length).toBeGreaterThanOrEqual(3);
      expect(Math.max(...expiresAfter)).toBeGreaterThan(15_000);
      // Renewed at 2/3 of the 5 s TTL: the first renewal comes between 3 s and 4.5 s.
      expect(renewedAfter[0]).toBeGreaterThan(3_000);
      expect(renewedAfter[0]).toBeLessThan(4_500);
    }, 40_000);

    it('coffer run -watch neither re-reads a live dynamic credential nor restarts the program when the event stream becomes ready', () => {
      // One read, one lease, one start: re-reading database/creds/<role> issues a new user, so a
      // refresh that re-reads it restarts the program for nothing and abandons the first user
      // until its TTL ends.
      const { sampler, stderr, report } = renewing;
      const issued = [...sampler.users.values()].map((u) => u.name);
      console.log(`run -watch, 5 s TTL / 1 h max: ${issued.length} user(s) issued in 15 s`);
      expect(stderr, report).not.toMatch(/restarting the program/);
      expect(issued, report).toHaveLength(1);
    });

    it('coffer run -watch replaces a credential whose max TTL ends: new user before the old lease expires', async () => {
      const sampler = startSampler('capped');
      const run = startCoffer(runArgs('capped'));
      await sleep(20_000);
      const exit = await stop(run);
      // Let the last old users be revoked by expiry, so their drop times are known.
      await sleep(3_000);
      await sampler.stop();
      const lines = parseProbe(run.stdout());
      const report = `stdout:\n${run.stdout()}\nstderr:\n${run.stderr()}`;
      expect(exit, report).toEqual({ code: 0, signal: null });
      expect(
        lines.filter((l) => l.kind === 'FAIL'),
        report,
      ).toEqual([]);

      // No lease lived past issue + 8 s (the max TTL).
      const leases = [...sampler.leases.values()].sort((a, b) => a.issuedAt - b.issuedAt);
      for (const lease of leases) {
        expect(Math.max(...lease.expiries) - lease.issuedAt).toBeLessThanOrEqual(8_000);
      }

      const groups = byUser(lines);
      expect(groups.length, report).toBeGreaterThanOrEqual(3);
      const margins: string[] = [];
      for (const [index, group] of groups.entries()) {
        const next = groups[index + 1];
        if (next === undefined) break;
        const start = next.lines.find((l) => l.kind === 'START');
        expect(start, report).toBeDefined();
        expect(group.lines.filter((l) => l.kind === 'OK').length, report).toBeGreaterThan(0);
        const old = sampler.users.get(group.user);
        // The old user was revoked by its expiry, after the program moved to the new user.
        expect(old?.goneAt, `${group.user} never dropped\n${report}`).toBeDefined();
        const lease = leaseOfUser(sampler, group.user);
        expect(lease, `no lease found for ${group.user}\n${report}`).toBeDefined();
        const leaseEnd = Math.max(...lease!.expiries);
        expect(start!.at, report).toBeLessThan(old!.goneAt!);
        expect(start!.at, report).toBeLessThan(leaseEnd);
        margins.push(
          `${group.user.slice(-6)}→${next.user.slice(-6)}: restarted ` +
            `${seconds(start!.at - group.lines[0]!.at)} after the old one started, ` +
            `${seconds(leaseEnd - start!.at)} before its lease expired ` +
            `(${seconds(old!.goneAt! - start!.at)} before its user was dropped)`,
        );
      }
      console.log(
        `run -watch, 5 s TTL / 8 s max: ${groups.length} users in 20 s, 0 failed connections; ` +
          margins.join('; '),
      );
    }, 50_000);

    /** The agent run of the next test, examined again by the one after it. */
    let agentRun: {
      renders: { user: string; at: number }[];
      sampler: Sampler;
      report: string;
    };

    it('coffer agent re-renders a template with new credentials before the max TTL ends', async () => {
      const tokenFile = tmp.file('agent.token');
      writeFileSync(tokenFile, `${ROOT_TOKEN}\n`);
      const destination = tmp.file('db-user.txt');
      const configFile = tmp.file('agent.hcl');
      writeFileSync(
        configFile,
        [
          'auto_auth {',
          '  method "token_file" {',
          `    config = { token_file_path = ${JSON.stringify(tokenFile)} }`,
          '  }',
          '}',
          'template {',
          `  contents = ${JSON.stringify('{{secret "database/creds/agent" "username"}}')}`,
          `  destination = ${JSON.stringify(destination)}`,
          '}',
        ].join('\n'),
      );
      const sampler = startSampler('agent');
      const agent = startCoffer(['agent', `-config=${configFile}`]);
      /** Each distinct file content with when it was first read. */
      const renders: { user: string; at: number }[] = [];
      /** Moments the file named a user PostgreSQL no longer had. */
      const stale: string[] = [];
      const endAt = Date.now() + 20_000;
      while (Date.now() < endAt) {
        const user = existsSync(destination) ? readFileSync(destination, 'utf8') : '';
        if (user !== '') {
          if (renders.at(-1)?.user !== user) renders.push({ user, at: Date.now() });
          if (!(await fixture.userExists(user))) stale.push(`${user} at ${Date.now()}`);
        }
        await sleep(SAMPLE_EVERY_MS);
      }
      const exit = await stop(agent);
      await sleep(3_000);
      await sampler.stop();
      const report = `stderr:\n${agent.stderr()}`;
      agentRun = { renders, sampler, report };
      expect(exit, report).toEqual({ code: 0, signal: null });
      expect(stale, report).toEqual([]);
      expect(agent.stderr(), report).toMatch(/cannot be renewed further; reading fresh values/);
      expect(renders.length, report).toBeGreaterThanOrEqual(3);
      const margins: string[] = [];
      for (const [index, render] of renders.entries()) {
        const next = renders[index + 1];
        if (next === undefined) break;
        const old = sampler.users.get(render.user);
        const lease = leaseOfUser(sampler, render.user);
        expect(old?.goneAt, report).toBeDefined();
        expect(lease, report).toBeDefined();
        const leaseEnd = Math.max(...lease!.expiries);
        expect(leaseEnd - lease!.issuedAt).toBeLessThanOrEqual(8_000);
        expect(next.at, report).toBeLessThan(leaseEnd);
        expect(next.at, report).toBeLessThan(old!.goneAt!);
        margins.push(
          `${seconds(next.at - render.at)} after the previous render, ` +
            `${seconds(leaseEnd - next.at)} before its lease expired ` +
            `(${seconds(old!.goneAt! - next.at)} before its user was dropped)`,
        );
      }
      console.log(
        `agent, 5 s TTL / 8 s max: ${renders.length} renders in 20 s, the file never named a ` +
          `dropped user; re-rendered ${margins.join('; ')}`,
      );
    }, 50_000);

    it('coffer agent keeps its first dynamic credential until the lease says otherwise', () => {
      // The first re-render is the lease's doing (about 6 s in: renewed at 3.3 s, capped, then
      // replaced 2/3 into the last stretch), not an immediate second read at start-up.
      const { renders, report } = agentRun;
      expect(renders.length, report).toBeGreaterThanOrEqual(2);
      const firstKeptMs = renders[1]!.at - renders[0]!.at;
      console.log(`agent, 5 s TTL / 8 s max: first credential kept ${seconds(firstKeptMs)}`);
      expect(firstKeptMs, report).toBeGreaterThan(4_000);
    });
  },
);
