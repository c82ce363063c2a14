// Crash safety of the real server on SQLite: SIGKILL it in the middle of a stream of concurrent
// KV v2 writes, restart, and prove that every acknowledged write is there with its exact value,
// that unacknowledged ones are all-or-nothing, and that the database file is intact.
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createTempDir,
  findCanaries,
  killAllServers,
  sqliteConfig,
  startServer,
} from '../helpers/server-process.js';
import {
  initAndUnseal,
  mountKv,
  sealStatus,
  unseal,
  vaultOk,
  vaultRequest,
  type HttpResult,
} from './vault-http.js';

const WORKERS = 32;
/** SIGKILL once this many writes were acknowledged. */
const KILL_AFTER_ACKS = 300;
/** Bound on each worker's loop (the kill normally comes long before). */
const MAX_WRITES_PER_WORKER = 400;
/** Every planted value starts with this, so one substring check covers all of them in logs. */
const VALUE_PREFIX = `crash-canary-${randomBytes(6).toString('hex')}-`;

interface Write {
  readonly path: string;
  readonly value: string;
}

/** Runs `fn` over `items` with at most `limit` calls in flight. */
async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  });
  await Promise.all(lanes);
}

describe('crash safety: SIGKILL during concurrent KV v2 writes (SQLite)', () => {
  const dir = createTempDir('coffer-e2e-crash-');
  const dbPath = dir.file('coffer.db');
  const config = sqliteConfig(dbPath, { logLevel: 'info' });

  afterAll(async () => {
    await killAllServers();
    dir.remove();
  });

  it('every acknowledged write survives, the database passes integrity_check', async () => {
    const logs: string[] = [];
    let server = await startServer({ configText: config });
    const init = await initAndUnseal(server.url, 5, 3);
    const token = init.root_token;
    await mountKv(server.url, token, 'crash', '2');

    const acknowledged: Write[] = [];
    /** Sent but not acknowledged: in flight at the kill, or failed because of it. */
    const unacknowledged: Write[] = [];
    const rejectedBeforeKill: { write: Write; status: number; text: string }[] = [];
    let inFlight = 0;
    let inFlightAtKill = -1;
    let ackedAtKill = -1;
    let killed = false;

    const worker = async (w: number): Promise<void> => {
      for (let i = 0; i < MAX_WRITES_PER_WORKER && !killed; i++) {
        const write: Write = {
          path: `w${w}/k${i}`,
          value: `${VALUE_PREFIX}${w}-${i}-${randomBytes(8).toString('hex')}`,
        };
        inFlight++;
        let res: HttpResult | undefined;
        try {
          res = await vaultRequest(server.url, 'POST', `crash/data/${write.path}`, {
            token,
            body: { data: { value: write.value, worker: w, seq: i } },
          });
        } catch {
          res = undefined; // connection reset by the kill (or timed out)
        } finally {
          inFlight--;
        }
        if (res?.status === 200) {
          acknowledged.push(write);
          if (!killed && acknowledged.length >= KILL_AFTER_ACKS) {
            killed = true;
            inFlightAtKill = inFlight;
            ackedAtKill = acknowledged.length;
            // Synchronously, while the other workers' requests are outstanding.
            server.proc.kill('SIGKILL');
          }
        } else {
          unacknowledged.push(write);
          if (!killed) {
            // Before the kill every write must succeed; status 0 = no response at all.
            rejectedBeforeKill.push({ write, status: res?.status ?? 0, text: res?.text ?? '' });
          }
        }
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
    await server.kill9();
    logs.push(server.stderr(), server.stdout());

    console.info(
      `[crash e2e] acknowledged=${acknowledged.length} (${ackedAtKill} when SIGKILL was sent, ` +
        `the rest answered before it landed) inFlightAtKill=${inFlightAtKill} ` +
        `unacknowledged=${unacknowledged.length} rejectedBeforeKill=${rejectedBeforeKill.length} ` +
        `exit signal=${String((await server.exited).signal)}`,
    );
    expect(killed).toBe(true);
    expect((await server.exited).signal).toBe('SIGKILL');
    expect(rejectedBeforeKill.map((r) => `${r.write.path}: ${r.status} ${r.text}`)).toEqual([]);
    expect(acknowledged.length).toBeGreaterThanOrEqual(KILL_AFTER_ACKS);
    expect(inFlightAtKill).toBeGreaterThan(0);

    // Restart on the same file: sealed again, unseal, read everything back.
    server = await startServer({ configText: config });
    expect(await sealStatus(server.url)).toMatchObject({ initialized: true, sealed: true });
    await unseal(server.url, init.keys.slice(2, 5));

    const lost: string[] = [];
    await forEachLimited(acknowledged, 16, async (write) => {
      const res = await vaultRequest(server.url, 'GET', `crash/data/${write.path}`, { token });
      const got = (res.body as { data?: { data?: { value?: unknown } } } | undefined)?.data?.data;
      if (res.status !== 200 || got?.value !== write.value) {
        lost.push(
          `${write.path}: status ${res.status}, value ${got?.value === undefined ? 'absent' : 'different'}`,
        );
      }
    });
    expect(lost).toEqual([]);

    // A write that was never acknowledged may or may not have landed, but never half-way.
    let landed = 0;
    const garbled: string[] = [];
    await forEachLimited(unacknowledged, 16, async (write) => {
      const res = await vaultRequest(server.url, 'GET', `crash/data/${write.path}`, { token });
      if (res.status === 404) return;
      const got = (res.body as { data?: { data?: { value?: unknown } } } | undefined)?.data?.data;
      if (res.status === 200 && got?.value === write.value) {
        landed++;
        return;
      }
      garbled.push(`${write.path}: status ${res.status}`);
    });
    console.info(`[crash e2e] unacknowledged writes that landed anyway: ${landed}`);
    expect(garbled).toEqual([]);

    // The metadata listing agrees with the data: every acknowledged key is listed.
    const listed = new Set<string>();
    for (let w = 0; w < WORKERS; w++) {
      const res = await vaultRequest(server.url, 'LIST', `crash/metadata/w${w}`, { token });
      if (res.status === 200) {
        for (const key of (res.body as { data: { keys: string[] } }).data.keys) {
          listed.add(`w${w}/${key}`);
        }
      }
    }
    expect(acknowledged.filter((w) => !listed.has(w.path)).map((w) => w.path)).toEqual([]);

    // Still writable after recovery.
    await vaultOk(server.url, 'POST', 'crash/data/after', {
      token,
      body: { data: { value: `${VALUE_PREFIX}after` } },
    });

    expect(await server.stop('SIGTERM')).toBe(0);
    logs.push(server.stderr(), server.stdout());

    const db = new Database(dbPath, { readonly: true, fileMustExist: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      const rows = db.prepare('SELECT count(*) AS n FROM entries').get() as { n: number };
      expect(rows.n).toBeGreaterThan(acknowledged.length);
    } finally {
      db.close();
    }

    const named: Record<string, string> = { valuePrefix: VALUE_PREFIX, rootToken: token };
    init.keys.forEach((k, i) => (named[`unsealKeyHex${i}`] = k));
    init.keys_base64.forEach((k, i) => (named[`unsealKeyB64${i}`] = k));
    expect(findCanaries(logs.join('\n'), named)).toEqual([]);
  }, 120_000);
});
