// Tampering with the SQLite file while the server is down: a flipped byte in a secret's row, two
// secrets' rows swapped, a damaged keyring or sealed root key. Each must end in an error (or a
// server that stays sealed), never in the original, another secret's or garbled plaintext.
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTempDir,
  findCanaries,
  killAllServers,
  sqliteConfig,
  startServer,
  type ServerProcess,
} from '../helpers/server-process.js';
import {
  errorsOf,
  initAndUnseal,
  mountKv,
  sealStatus,
  submitUnsealKeys,
  unseal,
  vaultOk,
  vaultRequest,
  type InitBody,
} from './vault-http.js';

const KEYRING_KEY = 'core/keyring';
const SEALED_ROOT_KEY = 'core/seal/root-key';

const SECRETS = {
  flip: `tamper-flip-canary-${randomUUID()}`,
  swapA: `tamper-swap-a-canary-${randomUUID()}`,
  swapB: `tamper-swap-b-canary-${randomUUID()}`,
  control: `tamper-control-canary-${randomUUID()}`,
  kv1Flip: `tamper-kv1-canary-${randomUUID()}`,
};

/** The storage row of version 1 of a KV v2 secret (layout: <view>/value/<key>/<n>). */
function v2ValueRow(keys: readonly string[], secret: string): string {
  const pattern = new RegExp(`(^|/)value/${secret}/1$`);
  const found = keys.filter((k) => pattern.test(k));
  if (found.length !== 1) {
    throw new Error(
      `expected one value row for ${secret}, found ${found.length}; keys:\n${keys.join('\n')}`,
    );
  }
  return found[0]!;
}

/** The storage row of a KV v1 entry (layout: <view>/entry/<key>). */
function v1EntryRow(keys: readonly string[], entry: string): string {
  const found = keys.filter((k) => k.endsWith(`/entry/${entry}`));
  if (found.length !== 1) {
    throw new Error(
      `expected one entry row for ${entry}, found ${found.length}; keys:\n${keys.join('\n')}`,
    );
  }
  return found[0]!;
}

describe('tampering with the SQLite file', () => {
  const dir = createTempDir('coffer-e2e-tamper-');
  const dbPath = dir.file('coffer.db');
  const config = sqliteConfig(dbPath);
  const logs: string[] = [];
  /** Bodies of failed reads and unseal attempts after tampering; checked for canaries. */
  const bodies: string[] = [];
  let server: ServerProcess | undefined;
  let init: InitBody;
  let token: string;
  /** Original bytes of each tampered row, to restore between cases. */
  const originals = new Map<string, Buffer>();

  function withDb<T>(fn: (db: Database.Database) => T): T {
    const db = new Database(dbPath, { fileMustExist: true });
    try {
      return fn(db);
    } finally {
      db.close();
    }
  }

  function allKeys(): string[] {
    return withDb((db) =>
      (db.prepare('SELECT key FROM entries ORDER BY key').all() as { key: string }[]).map(
        (r) => r.key,
      ),
    );
  }

  function getRow(db: Database.Database, key: string): Buffer {
    const row = db.prepare('SELECT value FROM entries WHERE key = ?').get(key) as
      { value: Buffer } | undefined;
    if (row === undefined) throw new Error(`no row ${key}`);
    return row.value;
  }

  function setRow(db: Database.Database, key: string, value: Buffer): void {
    const info = db.prepare('UPDATE entries SET value = ? WHERE key = ?').run(value, key);
    expect(info.changes).toBe(1);
  }

  /** Flips the lowest bit of the middle byte (inside the ciphertext, past any header). */
  function flipByte(key: string): void {
    withDb((db) => {
      const value = Buffer.from(getRow(db, key));
      if (!originals.has(key)) originals.set(key, Buffer.from(value));
      const at = Math.floor(value.length / 2);
      value[at] = value[at]! ^ 0x01;
      setRow(db, key, value);
    });
  }

  function restore(key: string): void {
    const original = originals.get(key);
    if (original === undefined) throw new Error(`nothing to restore for ${key}`);
    withDb((db) => {
      setRow(db, key, original);
    });
  }

  async function restart(): Promise<ServerProcess> {
    if (server !== undefined && !server.hasExited()) {
      expect(await server.stop('SIGTERM')).toBe(0);
      logs.push(server.stderr(), server.stdout());
    }
    server = await startServer({ configText: config });
    return server;
  }

  async function stop(): Promise<void> {
    expect(await server!.stop('SIGTERM')).toBe(0);
    logs.push(server!.stderr(), server!.stdout());
  }

  async function read(path: string): Promise<{ status: number; text: string; errors: string[] }> {
    const res = await vaultRequest(server!.url, 'GET', path, { token });
    return { status: res.status, text: res.text, errors: errorsOf(res) };
  }

  /** The tampered read failed and leaked no planted value (its own or another's). */
  function expectFailedRead(
    what: string,
    res: { status: number; text: string; errors: string[] },
  ): void {
    console.info(`[tamper e2e] ${what}: ${res.status} ${JSON.stringify(res.errors)}`);
    bodies.push(res.text);
    expect(res.status, `${what} must not succeed`).not.toBe(200);
    expect(findCanaries(res.text, SECRETS)).toEqual([]);
  }

  beforeAll(async () => {
    server = await startServer({ configText: config });
    init = await initAndUnseal(server.url, 5, 3);
    token = init.root_token;
    await mountKv(server.url, token, 'secret', '2');
    await mountKv(server.url, token, 'kv1', '1');
    const write = (name: string, value: string): Promise<unknown> =>
      vaultOk(server!.url, 'POST', `secret/data/${name}`, { token, body: { data: { value } } });
    await write('flip', SECRETS.flip);
    await write('swap-a', SECRETS.swapA);
    await write('swap-b', SECRETS.swapB);
    await write('control', SECRETS.control);
    await vaultOk(server.url, 'POST', 'kv1/flip', { token, body: { value: SECRETS.kv1Flip } });
    await stop();
  });

  afterAll(async () => {
    await killAllServers();
    dir.remove();
  });

  it('stores paths in clear but no planted value in clear', () => {
    const keys = allKeys();
    expect(keys).toContain(KEYRING_KEY);
    expect(keys).toContain(SEALED_ROOT_KEY);
    const plaintextHits = withDb((db) => {
      const rows = db.prepare('SELECT key, value FROM entries').all() as {
        key: string;
        value: Buffer;
      }[];
      return rows
        .filter((r) => findCanaries(r.value.toString('latin1'), SECRETS).length > 0)
        .map((r) => r.key);
    });
    expect(plaintextHits).toEqual([]);
  });

  it('(a) a flipped byte in a secret value row is an error, never plaintext', async () => {
    const keys = allKeys();
    flipByte(v2ValueRow(keys, 'flip'));
    flipByte(v1EntryRow(keys, 'flip'));
    await restart();
    await unseal(server!.url, init.keys.slice(0, 3));

    expectFailedRead('KV v2 read of the flipped row', await read('secret/data/flip'));
    expectFailedRead(
      'KV v2 read ?version=1 of the flipped row',
      await read('secret/data/flip?version=1'),
    );
    expectFailedRead('KV v1 read of the flipped row', await read('kv1/flip'));

    const control = await read('secret/data/control');
    expect(control.status).toBe(200);
    expect(JSON.parse(control.text).data.data).toEqual({ value: SECRETS.control });
    // The server survived the failures.
    expect((await vaultRequest(server!.url, 'GET', 'sys/health')).status).toBe(200);
  });

  it('(b) two secrets with swapped rows both fail, neither shows the other', async () => {
    await stop();
    const keys = allKeys();
    const rowA = v2ValueRow(keys, 'swap-a');
    const rowB = v2ValueRow(keys, 'swap-b');
    withDb((db) => {
      const a = Buffer.from(getRow(db, rowA));
      const b = Buffer.from(getRow(db, rowB));
      setRow(db, rowA, b);
      setRow(db, rowB, a);
    });
    await restart();
    await unseal(server!.url, init.keys.slice(1, 4));

    expectFailedRead(
      'read of swap-a (holding swap-b ciphertext)',
      await read('secret/data/swap-a'),
    );
    expectFailedRead(
      'read of swap-b (holding swap-a ciphertext)',
      await read('secret/data/swap-b'),
    );
    const control = await read('secret/data/control');
    expect(control.status).toBe(200);
  });

  for (const [label, key] of [
    ['the keyring', KEYRING_KEY],
    ['the sealed root key', SEALED_ROOT_KEY],
  ] as const) {
    it(`(c) a flipped byte in ${label} (${key}): unseal with the right keys fails, stays sealed`, async () => {
      await stop();
      flipByte(key);
      await restart();
      expect(await sealStatus(server!.url)).toMatchObject({ initialized: true, sealed: true });

      const results = await submitUnsealKeys(server!.url, init.keys.slice(0, 3));
      for (const r of results) bodies.push(r.text);
      console.info(
        `[tamper e2e] unseal after damaging ${key}: ${results.map((r) => `${r.status} ${JSON.stringify(errorsOf(r))}`).join(' | ')}`,
      );
      const unsealedBy = results.filter(
        (r) => r.status === 200 && (r.body as { sealed?: boolean } | undefined)?.sealed === false,
      );
      expect(unsealedBy).toEqual([]);
      if (key === KEYRING_KEY) {
        // The shares were right (the root key authenticated); the report names the damage.
        const last = results[results.length - 1]!;
        expect(last.status).toBe(500);
        expect(errorsOf(last).join(' ')).toContain('keyring failed its integrity check');
      }
      expect(await sealStatus(server!.url)).toMatchObject({ sealed: true });
      const sealedRead = await read('secret/data/control');
      expect(sealedRead.status).toBe(503);

      await stop();
      restore(key);
    });
  }

  it('with the keyring and root key restored, the same keys unseal and intact secrets read', async () => {
    await restart();
    await unseal(server!.url, init.keys.slice(2, 5));
    const control = await read('secret/data/control');
    expect(control.status).toBe(200);
    expect(JSON.parse(control.text).data.data).toEqual({ value: SECRETS.control });
    // The value rows damaged in (a) and (b) stay unreadable.
    expectFailedRead('flipped row after restore', await read('secret/data/flip'));
    expectFailedRead('swapped row after restore', await read('secret/data/swap-a'));
    await stop();
  });

  it('never logs or answers with the root token, an unseal key or a planted value', () => {
    const named: Record<string, string> = { ...SECRETS, rootToken: init.root_token };
    init.keys.forEach((k, i) => (named[`unsealKeyHex${i}`] = k));
    init.keys_base64.forEach((k, i) => (named[`unsealKeyB64${i}`] = k));
    expect(logs.length).toBeGreaterThan(0);
    expect(findCanaries(logs.join('\n'), named)).toEqual([]);
    // Responses to tampered reads and failed unseals echo neither secrets nor keys.
    expect(bodies.length).toBeGreaterThan(0);
    expect(findCanaries(bodies.join('\n'), named)).toEqual([]);
  });
});
