// SIGKILL under write load, repeated: each round starts the server on the same SQLite file,
// runs concurrent KV v2 writers, kills the process with SIGKILL at a seeded moment, and after
// the restart reads back every write ever acknowledged (this round and all earlier ones) with
// its exact value. Rounds: SIGKILL_ROUNDS (CI 3; the bench runs 20 via bench/reliability.js).
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createTempDir,
  killAllServers,
  sqliteConfig,
  startServer,
  type ServerProcess,
} from '../helpers/server-process.js';
import { initAndUnseal, mountKv, unseal } from '../e2e/vault-http.js';

const ROUNDS = Number(process.env['SIGKILL_ROUNDS'] ?? 3);
const SEED = Number(process.env['SIGKILL_SEED'] ?? randomBytes(4).readUInt32LE(0));
const WRITERS = 16;
let rootToken = '';
const REQUEST_TIMEOUT_MS = 10_000;

/** A seeded PRNG (mulberry32) for the kill moments. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function kv(
  url: string,
  method: 'GET' | 'POST',
  key: string,
  body?: object,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${url}/v1/secret/data/${key}`, {
    method,
    headers: { 'x-vault-token': rootToken, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

describe(`SIGKILL under write load (${ROUNDS} rounds, seed ${SEED})`, () => {
  const dir = createTempDir('coffer-sigkill-');
  afterAll(async () => {
    await killAllServers();
    dir.remove();
  });

  it('every acknowledged write survives every SIGKILL', { timeout: 600_000 }, async () => {
    const config = sqliteConfig(dir.file('coffer.db'), { logLevel: 'warn' });
    let unsealKeys: string[] = [];
    /** Starts the server on the same file; initialises it the first time, unseals it after. */
    const start = async (): Promise<ServerProcess> => {
      const server = await startServer({ configText: config });
      if (rootToken === '') {
        const init = await initAndUnseal(server.url, 1, 1);
        rootToken = init.root_token;
        unsealKeys = init.keys;
        await mountKv(server.url, rootToken, 'secret', '2');
      } else {
        await unseal(server.url, unsealKeys);
      }
      return server;
    };
    const r = rng(SEED);
    /** key → value of every write the server acknowledged with 200. */
    const acked = new Map<string, string>();
    let attempted = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      const server = await start();
      // Every write acknowledged so far is there, with its exact value.
      const lost: string[] = [];
      for (const [key, value] of acked) {
        const res = await kv(server.url, 'GET', key);
        const got = (res.json as { data?: { data?: { v?: string } } } | undefined)?.data?.data?.v;
        if (res.status !== 200 || got !== value) lost.push(key);
      }
      expect(lost, `seed ${SEED}, round ${round}: acknowledged writes lost`).toEqual([]);

      let stop = false;
      let n = 0;
      const writers = Array.from({ length: WRITERS }, async (_, w) => {
        while (!stop) {
          const key = `r${round}-w${w}-${n++}`;
          const value = randomBytes(12).toString('hex');
          attempted++;
          try {
            const res = await kv(server.url, 'POST', key, { data: { v: value } });
            if (res.status === 200) acked.set(key, value);
          } catch {
            return; // the server is gone
          }
        }
      });
      await new Promise((resolve) => setTimeout(resolve, 300 + Math.floor(r() * 700)));
      await server.kill9();
      stop = true;
      await Promise.all(writers);
    }
    // The last round's writes, after one more restart.
    const server = await start();
    let lost = 0;
    for (const [key, value] of acked) {
      const res = await kv(server.url, 'GET', key);
      const got = (res.json as { data?: { data?: { v?: string } } } | undefined)?.data?.data?.v;
      if (res.status !== 200 || got !== value) lost++;
    }
    await server.stop();
    console.log(
      `sigkill seed ${SEED}: ${ROUNDS} rounds, ${attempted} writes attempted, ${acked.size} acknowledged and checked, ${lost} lost`,
    );
    expect(acked.size).toBeGreaterThan(0);
    expect(lost).toBe(0);
  });
});
