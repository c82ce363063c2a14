import { verifyAuditFile } from './log-view.js';
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CofferError } from '../../sdk/errors.js';
import { auditLineHash, verifyAuditLog } from '../../shared/audit-verify.js';
import {
  AUDIT_FAILED_MESSAGE,
  AUDIT_KEYS,
  AuditBroker,
  normaliseAuditPath,
} from './audit-broker.js';
import {
  FIXED_NOW,
  makeBroker,
  sampleRecord,
  startServer,
  tempDir,
  type Warning,
} from './testing.js';
import { memoryStorage } from '../../sdk/testing.js';
import { hmacString } from './hash.js';
import { encodedForms, findCanaries } from '../../../test/helpers/server-process.js';

const temp = tempDir('coffer-audit-broker-');
afterAll(temp.cleanup);

let fileCounter = 0;
function freshPath(name = 'audit'): string {
  fileCounter++;
  return join(temp.dir, `${name}-${fileCounter}.log`);
}

function readLines(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n').slice(0, -1);
}

function parsed(line: string): Record<string, unknown> {
  return JSON.parse(line) as Record<string, unknown>;
}

function publicKeyOf(broker: AuditBroker, path: string): string {
  const entry = broker.list()[path] as { options: Record<string, string> };
  return entry.options['checkpoint_public_key']!;
}

/** Makes `path` unusable for the file device: a directory where the file should be. */
function breakFile(path: string): void {
  rmSync(path, { force: true });
  mkdirSync(path);
}

describe('AuditBroker: devices', () => {
  it("enables a file device, lists it in Vault's shape with its public key; the file is 0600", async () => {
    const { broker, storage } = makeBroker();
    await broker.open();
    const path = freshPath();
    await broker.enable('file', {
      type: 'file',
      description: 'main log',
      options: { path },
    });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const listed = broker.list();
    expect(Object.keys(listed)).toEqual(['file/']);
    expect(listed['file/']).toEqual({
      type: 'file',
      description: 'main log',
      options: {
        file_path: path,
        mode: '0600',
        fsync: 'true',
        format: 'json',
        hmac_accessor: 'true',
        log_raw: 'false',
        checkpoint_interval: '100',
        write_timeout: '10s',
        checkpoint_public_key: expect.stringMatching(/^[A-Za-z0-9+/=]{40,}$/) as unknown,
      },
      local: false,
      path: 'file/',
    });
    // SECURITY: the salt and the private key are in storage only, never listed.
    const stored = new TextDecoder().decode(storage.entries.get(AUDIT_KEYS.table));
    expect(stored).toContain('PRIVATE KEY');
    expect(JSON.stringify(listed)).not.toContain('PRIVATE KEY');
    expect(broker.hasDevices()).toBe(true);
    expect(broker.hash('file', 'x')).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(broker.hash('/file/', 'x')).toBe(broker.hash('file', 'x'));
    await broker.close();
  });

  it('refuses path conflicts, a file already used by another device and a file it cannot open', async () => {
    const { broker } = makeBroker();
    await broker.open();
    const path = freshPath();
    await broker.enable('a/b', { type: 'file', options: { file_path: path } });
    for (const conflict of ['a/b', 'a', 'a/b/c']) {
      await expect(
        broker.enable(conflict, { type: 'file', options: { file_path: freshPath() } }),
      ).rejects.toThrow('already in use');
    }
    await expect(
      broker.enable('other', { type: 'file', options: { file_path: path } }),
    ).rejects.toThrow('options.file_path: is already used by audit device "a/b/"');
    await expect(
      broker.enable('missing', {
        type: 'file',
        options: { file_path: join(temp.dir, 'no-such-dir', 'x.log') },
      }),
    ).rejects.toThrow('options.file_path: cannot open the audit file (ENOENT)');
    await expect(broker.enable('bad path!', { type: 'file', options: {} })).rejects.toThrow(
      'path:',
    );
    expect(Object.keys(broker.list())).toEqual(['a/b/']);
    await broker.close();
  });

  it('disables with a final checkpoint and forgets the salt; unknown paths are a no-op', async () => {
    const { broker, storage } = makeBroker();
    await broker.open();
    const path = freshPath();
    await broker.enable('file', { type: 'file', options: { file_path: path } });
    const key = publicKeyOf(broker, 'file/');
    await broker.logRequest(sampleRecord());
    await broker.disable('file');
    await broker.disable('never-enabled');
    expect(broker.list()).toEqual({});
    expect(broker.hasDevices()).toBe(false);
    expect(() => broker.hash('file', 'x')).toThrow(
      new CofferError('invalid_request', 'unknown audit backend file/'),
    );
    expect([...storage.entries.keys()].filter((k) => k.startsWith(AUDIT_KEYS.chainPrefix))).toEqual(
      [],
    );
    const lines = readLines(path);
    expect(parsed(lines[1]!)['type']).toBe('checkpoint');
    expect(verifyAuditLog(readFileSync(path, 'utf8'), { publicKey: key })).toMatchObject({
      ok: true,
      lines: 2,
      checkpoints: 1,
    });
    await broker.close();
  });
});

describe('AuditBroker: what is written', () => {
  it('no canary from data, token, accessor or metadata appears in the file in any encoding', async () => {
    const canaries = {
      data: 'data-CANARY-5d1 "quoted" \\ back/slash é',
      token: 'cfs.token-CANARY-8e2',
      accessor: 'accessor-CANARY-3c9',
      meta: 'meta-CANARY-0b4 <x>&',
      returned: 'cfs.returned-CANARY-6a7',
    };
    const { broker } = makeBroker();
    await broker.open();
    const path = freshPath();
    await broker.enable('file', { type: 'file', options: { file_path: path } });
    const auth = {
      clientToken: canaries.token,
      accessor: canaries.accessor,
      displayName: 'token',
      policies: ['default'],
      tokenPolicies: ['default'],
      metadata: { owner: canaries.meta },
      entityId: '',
      tokenType: 'service',
      tokenTtlSeconds: 60,
    };
    const request = {
      id: 'req-canary',
      operation: 'update',
      path: 'secret/data/app',
      data: { data: { nested: [{ deep: canaries.data }], plain: canaries.data }, n: 5 },
      clientToken: canaries.token,
      clientTokenAccessor: canaries.accessor,
      mountType: 'kv',
    };
    await broker.logRequest({ auth, request });
    await broker.logResponse({
      auth,
      request,
      response: {
        mountType: 'kv',
        data: { value: canaries.data, token: canaries.token, meta: { m: canaries.meta } },
        auth: {
          clientToken: canaries.returned,
          accessor: canaries.accessor,
          policies: ['default'],
          tokenPolicies: ['default'],
          metadata: { owner: canaries.meta },
          leaseDurationSeconds: 60,
          renewable: true,
          entityId: '',
          tokenType: 'service',
          orphan: false,
          numUses: 0,
        },
        wrapInfo: {
          token: canaries.returned,
          accessor: canaries.accessor,
          ttlSeconds: 60,
          creationTime: 0,
          creationPath: 'secret/data/app',
        },
      },
    });
    const written = readFileSync(path, 'utf8');
    expect(findCanaries(written, encodedForms(canaries))).toEqual([]);
    for (const canary of Object.values(canaries)) {
      expect(written).not.toContain(
        canary.slice(canary.indexOf('CANARY'), canary.indexOf('CANARY') + 10),
      );
      // Positive control: the HMAC sys/audit-hash gives for it is what the file holds.
      expect(written).toContain(broker.hash('file', canary));
    }
    const [requestLine, responseLine] = readLines(path).map(parsed);
    expect(requestLine).toMatchObject({
      type: 'request',
      request: { operation: 'update', path: 'secret/data/app', mount_type: 'kv', data: { n: 5 } },
      chain: { seq: 1 },
    });
    expect(responseLine).toMatchObject({ type: 'response', chain: { seq: 2 } });
    await broker.close();
  });

  it('writes 100 concurrent lines with one write per device, and a checkpoint at the 100th', async () => {
    const { broker } = makeBroker();
    await broker.open();
    const first = freshPath();
    const second = freshPath();
    await broker.enable('one', { type: 'file', options: { file_path: first } });
    await broker.enable('two', { type: 'file', options: { file_path: second, fsync: 'false' } });
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        broker.logRequest(sampleRecord({ request: { ...sampleRecord().request, id: `req-${i}` } })),
      ),
    );
    expect(broker.deviceStats()).toEqual([
      { path: 'one/', writes: 1, lines: 101, failures: 0 },
      { path: 'two/', writes: 1, lines: 101, failures: 0 },
    ]);
    for (const file of [first, second]) {
      const lines = readLines(file);
      expect(lines).toHaveLength(101);
      const ids = lines.slice(0, 100).map((l) => (parsed(l)['request'] as { id: string }).id);
      expect(new Set(ids).size).toBe(100);
      expect(parsed(lines[100]!)).toMatchObject({ type: 'checkpoint', seq: 101 });
    }
    // Each device HMACs with its own salt.
    expect(readLines(first)[0]).not.toBe(readLines(second)[0]);
    await broker.close();
  });

  it('with no device enabled logging is a no-op (as in Vault); before open() it refuses', async () => {
    const { broker } = makeBroker();
    await expect(broker.logRequest(sampleRecord())).rejects.toThrow('not open');
    await broker.open();
    expect(broker.hasDevices()).toBe(false);
    await expect(broker.logRequest(sampleRecord())).resolves.toBeUndefined();
    await broker.close();
    await expect(broker.logResponse(sampleRecord())).rejects.toThrow(NOT_OPEN);
  });
});

describe('AuditBroker: fail closed', () => {
  it('rejects when the only device cannot write, and logs the device without content', async () => {
    const { broker, warnings } = makeBroker();
    await broker.open();
    const path = freshPath();
    await broker.enable('file', { type: 'file', options: { file_path: path } });
    breakFile(path);
    await broker.reopen();
    const error = await broker.logRequest(sampleRecord()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CofferError);
    expect(error).toMatchObject({
      code: 'internal',
      message: 'audit: no audit device could record the request',
    });
    expect(warnings).toContainEqual({
      obj: { device: 'file/', type: 'file', code: 'EISDIR' },
      msg: 'audit device could not record a batch',
    });
    expect(JSON.stringify(warnings)).not.toMatch(/hunter2|sampletoken|sampleaccessor/);
    expect(broker.deviceStats()[0]).toMatchObject({ failures: 1, writes: 0 });
    await broker.close();
  });

  it('resolves when one of two devices fails, and the other has the line', async () => {
    const { broker } = makeBroker();
    await broker.open();
    const good = freshPath();
    const bad = freshPath();
    await broker.enable('good', { type: 'file', options: { file_path: good } });
    await broker.enable('bad', { type: 'file', options: { file_path: bad } });
    breakFile(bad);
    await broker.reopen();
    await broker.logRequest(sampleRecord());
    expect(readLines(good)).toHaveLength(1);
    expect(broker.deviceStats()).toEqual([
      { path: 'good/', writes: 1, lines: 1, failures: 0 },
      { path: 'bad/', writes: 0, lines: 0, failures: 1 },
    ]);
    await broker.close();
  });
});

describe('AuditBroker: socket devices', () => {
  it('streams chained lines to a real loopback TCP server', async () => {
    const server = await startServer();
    const { broker } = makeBroker();
    try {
      await broker.open();
      await broker.enable('siem', {
        type: 'socket',
        options: { address: server.address, checkpoint_interval: '2' },
      });
      const key = publicKeyOf(broker, 'siem/');
      await broker.logRequest(sampleRecord());
      await broker.logResponse(sampleRecord({ response: { mountType: 'kv', data: {} } }));
      const text = await server.waitFor((t) => t.split('\n').length === 4);
      const lines = text.split('\n').slice(0, -1).map(parsed);
      expect(lines.map((l) => l['type'])).toEqual(['request', 'response', 'checkpoint']);
      expect(lines[0]).toMatchObject({ request: { path: 'secret/data/app', mount_type: 'kv' } });
      expect(verifyAuditLog(text, { publicKey: key })).toMatchObject({ ok: true, checkpoints: 1 });
      await expect(
        broker.enable('down', { type: 'socket', options: { address: '127.0.0.1:1' } }),
      ).rejects.toThrow('options.address: cannot open the audit socket');
    } finally {
      await broker.close();
      await server.close();
    }
  });

  it('a peer that never reads times out and counts as failed; the file device still records', async () => {
    const stalled = await startServer({ reading: false, unixPath: join(temp.dir, 'stall.sock') });
    const { broker, warnings } = makeBroker();
    const file = freshPath();
    // A line far larger than a unix socket's buffers (keys are written in clear).
    const big = Object.fromEntries(
      Array.from({ length: 400 }, (_, i) => [`k${i}-${'x'.repeat(10_000)}`, i]),
    );
    const record = sampleRecord({ request: { ...sampleRecord().request, data: big } });
    try {
      await broker.open();
      await broker.enable('stalled', {
        type: 'socket',
        options: { address: stalled.address, socket_type: 'unix', write_timeout: '200ms' },
      });
      const started = Date.now();
      await expect(broker.logRequest(record)).rejects.toThrow(AUDIT_FAILED_MESSAGE);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(warnings[0]?.obj).toEqual({ device: 'stalled/', type: 'socket', code: 'ETIMEDOUT' });
      await broker.enable('file', { type: 'file', options: { file_path: file } });
      await broker.logRequest(record);
      expect(readLines(file)).toHaveLength(1);
      expect(broker.deviceStats().find((s) => s.path === 'stalled/')).toMatchObject({
        failures: 2,
      });
    } finally {
      await broker.close();
      await stalled.close();
    }
  });
});

describe('AuditBroker: chain, checkpoints, rotation, restart', () => {
  it('chains lines across a rotation; each file verifies, the pair links up', async () => {
    const { broker } = makeBroker();
    await broker.open();
    const path = freshPath('rotating');
    await broker.enable('file', {
      type: 'file',
      options: { file_path: path, checkpoint_interval: '10' },
    });
    const key = publicKeyOf(broker, 'file/');
    const log = (n: number) =>
      Promise.all(Array.from({ length: n }, () => broker.logRequest(sampleRecord())));
    await log(12);
    await log(13);
    renameSync(path, `${path}.1`);
    await broker.reopen();
    await log(5);
    // The server knows where the current file starts, so its own check passes it (a file that
    // starts past seq 1 without that would be a cut at the start).
    const snapshot = await broker.logSnapshot('file');
    expect(snapshot.type === 'file' && snapshot.fileStartHash).toMatch(/^[0-9a-f]{64}$/);
    if (snapshot.type === 'file') {
      expect(await verifyAuditFile(snapshot)).toMatchObject({ ok: true, first_seq: 29 });
    }
    await broker.close();

    const old = readFileSync(`${path}.1`, 'utf8');
    const current = readFileSync(path, 'utf8');
    const oldResult = verifyAuditLog(old, { publicKey: key });
    // 25 lines, checkpoints after lines 10 and 20 and at the rotation.
    expect(oldResult).toMatchObject({ ok: true, lines: 28, checkpoints: 3, lastSeq: 28 });
    expect(
      verifyAuditLog(current, { publicKey: key, previousLastLineHash: oldResult.lastLineHash! }),
    ).toMatchObject({ ok: true, lines: 6, checkpoints: 1, firstSeq: 29, unsignedTrailingLines: 0 });
    expect(verifyAuditLog(old + current, { publicKey: key })).toMatchObject({
      ok: true,
      lines: 34,
    });
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('resumes the chain after a clean restart and after a crash (from the file tail)', async () => {
    const { broker, storage } = makeBroker();
    await broker.open();
    const path = freshPath('restart');
    await broker.enable('file', { type: 'file', options: { file_path: path } });
    const key = publicKeyOf(broker, 'file/');
    await broker.logRequest(sampleRecord());
    await broker.close();

    const second = makeBroker(storage).broker;
    await second.open();
    expect(publicKeyOf(second, 'file/')).toBe(key);
    await second.logRequest(sampleRecord());
    // No close(): the process "crashes" with a line after the last checkpoint.
    const third = makeBroker(storage).broker;
    await third.open();
    await third.logRequest(sampleRecord());
    await third.close();

    const text = readFileSync(path, 'utf8');
    expect(verifyAuditLog(text, { publicKey: key })).toMatchObject({
      ok: true,
      lines: 5,
      checkpoints: 2,
      unsignedTrailingLines: 0,
    });
    expect(readLines(path).map((l) => parsed(l)['type'])).toEqual([
      'request',
      'checkpoint',
      'request',
      'request',
      'checkpoint',
    ]);
  });

  it('continues the chain of a file that already holds one when a device is re-enabled on it', async () => {
    const { broker } = makeBroker();
    await broker.open();
    const path = freshPath('reenable');
    await broker.enable('file', { type: 'file', options: { file_path: path } });
    await broker.logRequest(sampleRecord());
    await broker.disable('file');
    await broker.enable('file', { type: 'file', options: { file_path: path } });
    await broker.logRequest(sampleRecord());
    await broker.close();
    expect(verifyAuditLog(readFileSync(path, 'utf8'))).toMatchObject({ ok: true, lines: 4 });
  });
});

function storedJson(storage: ReturnType<typeof memoryStorage>, key: string): unknown {
  const raw = storage.entries.get(key);
  return raw === undefined ? undefined : JSON.parse(new TextDecoder().decode(raw));
}

const NOT_OPEN = new CofferError('internal', 'audit: the audit broker is not open');

describe('AuditBroker: paths and the device table', () => {
  it('normalises device paths and refuses bad ones, naming the rule', () => {
    expect(normaliseAuditPath(' //a/b.c_d-e// ')).toBe('a/b.c_d-e/');
    expect(normaliseAuditPath('x'.repeat(128))).toBe(`${'x'.repeat(128)}/`);
    const refused = (raw: string) => {
      try {
        normaliseAuditPath(raw);
      } catch (error) {
        return (error as Error).message;
      }
      return 'accepted';
    };
    expect(refused('x'.repeat(129))).toBe('path: must be at most 128 characters');
    for (const raw of ['', ' / ', '/']) expect(refused(raw)).toBe('path: is required');
    for (const raw of ['a/./b', 'a/../b', '..', 'a//b', 'a b', 'a/b!']) {
      expect(refused(raw)).toBe('path: segments may hold only letters, digits, "_", "." and "-"');
    }
  });

  it('a second open() is a no-op; a table of an unknown version is an integrity failure', async () => {
    const { broker, storage } = makeBroker();
    await broker.open();
    await broker.enable('file', { type: 'file', options: { file_path: freshPath() } });
    await broker.logRequest(sampleRecord());
    await broker.open();
    expect(broker.deviceStats()).toEqual([{ path: 'file/', writes: 1, lines: 1, failures: 0 }]);
    await broker.close();
    const table = storedJson(storage, AUDIT_KEYS.table) as Record<string, unknown>;
    storage.entries.set(
      AUDIT_KEYS.table,
      new TextEncoder().encode(JSON.stringify({ ...table, version: 2 })),
    );
    const error = await makeBroker(storage)
      .broker.open()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CofferError);
    expect(error).toMatchObject({
      code: 'integrity_failure',
      message: 'audit device table has an unknown version',
    });
  });

  it('refuses enable, disable, reopen and logSnapshot while closed', async () => {
    const { broker } = makeBroker();
    await expect(broker.enable('file', { type: 'file', options: {} })).rejects.toThrow(NOT_OPEN);
    await expect(broker.disable('file')).rejects.toThrow(NOT_OPEN);
    await expect(broker.reopen()).rejects.toThrow(NOT_OPEN);
    await expect(broker.logSnapshot('file')).rejects.toThrow(NOT_OPEN);
    expect(broker.idle).toBe(false);
    await broker.open();
    expect(broker.idle).toBe(true);
    await broker.enable('file', { type: 'file', options: { file_path: freshPath() } });
    expect(broker.idle).toBe(false);
    await broker.close();
    expect(broker.idle).toBe(false);
  });

  it('names the device a path conflicts with; socket devices share no file path', async () => {
    const server = await startServer();
    const { broker } = makeBroker();
    try {
      await broker.open();
      await broker.enable('a/b', { type: 'file', options: { file_path: freshPath() } });
      await expect(
        broker.enable('a', { type: 'file', options: { file_path: freshPath() } }),
      ).rejects.toMatchObject({
        code: 'invalid_request',
        message: 'path: "a/" is already in use (device "a/b/")',
      });
      await broker.enable('s1', { type: 'socket', options: { address: server.address } });
      await broker.enable('s2', {
        type: 'socket',
        description: 'second',
        local: true,
        options: { address: server.address },
      });
      expect(Object.keys(broker.list())).toEqual(['a/b/', 's1/', 's2/']);
      expect(broker.list()['s1/']).toMatchObject({ description: '', local: false });
      expect(broker.list()['s2/']).toMatchObject({ description: 'second', local: true });
    } finally {
      await broker.close();
      await server.close();
    }
  });

  it('a disabled device stays gone after a restart', async () => {
    const { broker, storage } = makeBroker();
    await broker.open();
    await broker.enable('keep', { type: 'file', options: { file_path: freshPath() } });
    await broker.enable('drop', { type: 'file', options: { file_path: freshPath() } });
    // The device table is stored under its own key, each chain position under chain/<path>.
    expect([...storage.entries.keys()].sort()).toEqual(['chain/drop', 'chain/keep', 'table']);
    await broker.close();
    const restarted = makeBroker(storage).broker;
    await restarted.open();
    expect(Object.keys(restarted.list())).toEqual(['keep/', 'drop/']);
    await restarted.disable('/drop/');
    await restarted.close();
    const second = makeBroker(storage).broker;
    await second.open();
    expect(Object.keys(second.list())).toEqual(['keep/']);
    await second.close();
  });

  it('hashes only for a known device; a malformed path is an unknown backend too', async () => {
    const { broker } = makeBroker();
    await broker.open();
    expect(() => broker.hash('bad path!', 'x')).toThrow(
      new CofferError('invalid_request', 'unknown audit backend'),
    );
    expect(() => broker.hash('nope', 'x')).toThrow(
      new CofferError('invalid_request', 'unknown audit backend nope/'),
    );
    await broker.close();
  });
});

describe('AuditBroker: what each device writes', () => {
  it("with hmac_accessor=false the accessor is in clear, the token still HMAC'd", async () => {
    const { broker } = makeBroker();
    await broker.open();
    const path = freshPath();
    await broker.enable('file', {
      type: 'file',
      options: { file_path: path, hmac_accessor: 'false' },
    });
    await broker.logRequest(sampleRecord());
    const line = parsed(readLines(path)[0]!) as {
      auth: Record<string, string>;
      request: Record<string, string>;
    };
    expect(line.auth['accessor']).toBe('sampleaccessor');
    expect(line.request['client_token_accessor']).toBe('sampleaccessor');
    expect(line.auth['client_token']).toBe(broker.hash('file', 'cfs.sampletoken'));
    await broker.close();
  });

  it('writes the prefix before every line and checkpoint, and the file verifies', async () => {
    const { broker } = makeBroker();
    await broker.open();
    const path = freshPath();
    await broker.enable('file', {
      type: 'file',
      options: { file_path: path, prefix: 'coffer: ', checkpoint_interval: '2' },
    });
    const key = publicKeyOf(broker, 'file/');
    await broker.logRequest(sampleRecord());
    await broker.logRequest(sampleRecord());
    await broker.logRequest(sampleRecord());
    await broker.close();
    const lines = readLines(path);
    expect(lines).toHaveLength(5);
    for (const line of lines) expect(line.startsWith('coffer: {')).toBe(true);
    expect(verifyAuditLog(readFileSync(path, 'utf8'), { publicKey: key })).toMatchObject({
      ok: true,
      checkpoints: 2,
    });
  });

  it('saves the chain position when a batch ends in a checkpoint, not before', async () => {
    const { broker, storage } = makeBroker();
    await broker.open();
    const path = freshPath();
    await broker.enable('file', {
      type: 'file',
      options: { file_path: path, checkpoint_interval: '2' },
    });
    const key = `${AUDIT_KEYS.chainPrefix}file`;
    const genesis = storedJson(storage, key) as { seq: number; lastHash: string };
    expect(genesis).toEqual({
      seq: 0,
      lastHash: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown,
    });
    await broker.logRequest(sampleRecord());
    expect(storedJson(storage, key)).toEqual(genesis);
    await broker.logRequest(sampleRecord());
    const lines = readLines(path);
    expect(lines).toHaveLength(3);
    expect(storedJson(storage, key)).toEqual({
      seq: 3,
      lastHash: auditLineHash(lines[2]!),
    });
    // Closing right after a checkpoint writes no second one.
    await broker.close();
    expect(readLines(path)).toHaveLength(3);
  });

  it('a restarted broker counts lines since the last checkpoint from where the file ends', async () => {
    const { broker, storage } = makeBroker();
    await broker.open();
    const path = freshPath();
    await broker.enable('file', {
      type: 'file',
      options: { file_path: path, checkpoint_interval: '3' },
    });
    await broker.logRequest(sampleRecord());
    await broker.close(); // request, checkpoint (seq 2)
    expect(storedJson(storage, `${AUDIT_KEYS.chainPrefix}file`)).toEqual({
      seq: 2,
      lastHash: auditLineHash(readLines(path)[1]!),
    });
    const second = makeBroker(storage).broker;
    await second.open();
    await second.logRequest(sampleRecord());
    // "Crash": no close. One line since the checkpoint.
    const third = makeBroker(storage).broker;
    await third.open();
    await third.logRequest(sampleRecord());
    expect(readLines(path).map((l) => parsed(l)['type'])).toEqual([
      'request',
      'checkpoint',
      'request',
      'request',
    ]);
    await third.logRequest(sampleRecord());
    expect(readLines(path).map((l) => parsed(l)['type'])).toEqual([
      'request',
      'checkpoint',
      'request',
      'request',
      'request',
      'checkpoint',
    ]);
    await third.close();
    expect(verifyAuditLog(readFileSync(path, 'utf8'))).toMatchObject({ ok: true, lines: 6 });
  });

  it('without a saved chain position a device starts from its genesis value', async () => {
    const { broker, storage } = makeBroker();
    await broker.open();
    const path = freshPath();
    await broker.enable('file', { type: 'file', options: { file_path: path } });
    await broker.close();
    storage.entries.delete(`${AUDIT_KEYS.chainPrefix}file`);
    const { broker: second, warnings } = makeBroker(storage);
    await second.open();
    await second.logRequest(sampleRecord());
    await second.close();
    expect(warnings).toEqual([]);
    const table = storedJson(storage, AUDIT_KEYS.table) as { devices: { genesis: string }[] };
    expect(parsed(readLines(path)[0]!)['chain']).toEqual({
      seq: 1,
      prev: table.devices[0]!.genesis,
    });
  });

  it('after a rotation and a restart the server still knows where the current file starts', async () => {
    const { broker, storage } = makeBroker();
    await broker.open();
    const path = freshPath('rotated');
    await broker.enable('file', { type: 'file', options: { file_path: path } });
    await broker.logRequest(sampleRecord());
    renameSync(path, `${path}.1`);
    await broker.reopen();
    const old = readLines(`${path}.1`);
    const before = await broker.logSnapshot('file');
    expect(before).toMatchObject({ fileStartHash: auditLineHash(old[old.length - 1]!) });
    await broker.logRequest(sampleRecord());
    await broker.close();
    const second = makeBroker(storage).broker;
    await second.open();
    const snapshot = await second.logSnapshot('file');
    expect(snapshot).toMatchObject({
      type: 'file',
      fileStartHash: auditLineHash(old[old.length - 1]!),
    });
    if (snapshot.type === 'file') {
      expect(await verifyAuditFile(snapshot)).toMatchObject({ ok: true, first_seq: 3 });
    }
    await second.close();
  });
});

describe('AuditBroker: failures', () => {
  function failureBroker(storage = memoryStorage()) {
    const warnings: Warning[] = [];
    const failures: { deviceType?: string; refused: boolean }[] = [];
    const hooks: { onWarn?: (w: Warning) => void } = {};
    const broker = new AuditBroker({
      storage,
      now: () => FIXED_NOW,
      logger: {
        warn: (obj, msg) => {
          warnings.push({ obj, msg });
          hooks.onWarn?.({ obj, msg });
        },
      },
      onFailure: (failure) => failures.push(failure),
    });
    return { broker, storage, warnings, failures, hooks };
  }

  it('tells onFailure of each device failure and of each refused batch', async () => {
    const { broker, warnings, failures } = failureBroker();
    await broker.open();
    const path = freshPath();
    await broker.enable('file', { type: 'file', options: { file_path: path } });
    breakFile(path);
    await broker.reopen();
    expect(warnings).toEqual([
      {
        obj: { device: 'file/', type: 'file', code: 'EISDIR' },
        msg: 'audit device could not be reopened',
      },
    ]);
    expect(failures).toEqual([{ deviceType: 'file', refused: false }]);
    await expect(broker.logRequest(sampleRecord())).rejects.toThrow(AUDIT_FAILED_MESSAGE);
    expect(failures).toEqual([
      { deviceType: 'file', refused: false },
      { deviceType: 'file', refused: false },
      { refused: true },
    ]);
    await broker.close();
  });

  it('keeps a device it cannot open at startup, failing batches until its file can be opened', async () => {
    const { broker, storage } = makeBroker();
    await broker.open();
    const dir = join(temp.dir, 'comes-later');
    mkdirSync(dir);
    const path = join(dir, 'audit.log');
    await broker.enable('file', { type: 'file', options: { file_path: path } });
    await broker.close();
    rmSync(dir, { recursive: true });
    const { broker: second, warnings } = failureBroker(storage);
    await second.open();
    expect(warnings).toEqual([
      {
        obj: { device: 'file/', type: 'file', code: 'ENOENT' },
        msg: 'audit device could not be opened',
      },
    ]);
    expect(Object.keys(second.list())).toEqual(['file/']);
    await expect(second.logRequest(sampleRecord())).rejects.toThrow(AUDIT_FAILED_MESSAGE);
    mkdirSync(dir);
    await second.logRequest(sampleRecord());
    expect(readLines(path)).toHaveLength(1);
    await second.close();
  });

  it('does not connect a socket device at startup; its batches fail while the peer is down', async () => {
    const server = await startServer();
    const { broker, storage } = makeBroker();
    await broker.open();
    await broker.enable('siem', { type: 'socket', options: { address: server.address } });
    await broker.close();
    await server.close();
    const { broker: second, warnings } = failureBroker(storage);
    await second.open();
    expect(warnings).toEqual([]);
    await expect(second.logRequest(sampleRecord())).rejects.toThrow(AUDIT_FAILED_MESSAGE);
    expect(warnings.map((w) => w.msg)).toEqual(['audit device could not record a batch']);
    await second.close();
  });

  it('a checkpoint a device cannot take is logged and counted', async () => {
    const server = await startServer();
    const { broker, warnings } = failureBroker();
    await broker.open();
    await broker.enable('siem', { type: 'socket', options: { address: server.address } });
    await broker.enable('file', { type: 'file', options: { file_path: freshPath() } });
    await broker.logRequest(sampleRecord());
    await server.waitFor((t) => t.endsWith('\n'));
    await server.close();
    await new Promise((resolve) => setTimeout(resolve, 100)); // let the close reach the client
    await broker.reopen();
    expect(warnings.map((w) => w.msg)).toContain('audit checkpoint could not be written');
    expect(broker.deviceStats().find((d) => d.path === 'siem/')).toMatchObject({ failures: 1 });
    await broker.close();
  });

  it('a socket device saves its chain at a rotation and has no file start', async () => {
    const server = await startServer();
    const { broker, storage } = failureBroker();
    try {
      await broker.open();
      await broker.enable('siem', { type: 'socket', options: { address: server.address } });
      await broker.logRequest(sampleRecord());
      await broker.reopen();
      const text = await server.waitFor((t) => t.split('\n').length === 3);
      const lines = text.split('\n').slice(0, -1);
      expect(parsed(lines[1]!)['type']).toBe('checkpoint');
      expect(storedJson(storage, `${AUDIT_KEYS.chainPrefix}siem`)).toEqual({
        seq: 2,
        lastHash: auditLineHash(lines[1]!),
      });
      expect(await broker.logSnapshot('siem')).not.toHaveProperty('fileStartHash');
      await broker.logRequest(sampleRecord());
      await broker.close();
      const all = (await server.waitFor((t) => t.split('\n').length === 5)).split('\n');
      expect(storedJson(storage, `${AUDIT_KEYS.chainPrefix}siem`)).toEqual({
        seq: 4,
        lastHash: auditLineHash(all[3]!),
      });
    } finally {
      await broker.close();
      await server.close();
    }
  });

  it('a line queued while the broker closes is refused', async () => {
    const { broker, hooks } = failureBroker();
    await broker.open();
    const path = freshPath();
    await broker.enable('file', { type: 'file', options: { file_path: path } });
    breakFile(path);
    await broker.reopen();
    let late: Promise<void> | undefined;
    hooks.onWarn = ({ msg }) => {
      // Queued during close()'s last flush, before the broker stops taking lines.
      if (msg === 'audit device could not record a batch')
        late ??= broker.logRequest(sampleRecord());
    };
    const first = broker.logRequest(sampleRecord());
    const closing = broker.close();
    await expect(first).rejects.toThrow(AUDIT_FAILED_MESSAGE);
    await closing;
    expect(late).toBeDefined();
    await expect(late).rejects.toThrow(new CofferError('internal', AUDIT_FAILED_MESSAGE));
  });

  it('a chain position that cannot be saved is logged; the file keeps the chain', async () => {
    const inner = memoryStorage();
    let failPuts = false;
    const storage = {
      ...inner,
      put: (key: string, value: Uint8Array) =>
        failPuts ? Promise.reject(new Error('storage down')) : inner.put(key, value),
    };
    const { broker, warnings } = failureBroker(storage);
    await broker.open();
    const path = freshPath();
    await broker.enable('file', { type: 'file', options: { file_path: path } });
    await broker.logRequest(sampleRecord());
    failPuts = true;
    await broker.close();
    expect(warnings).toEqual([
      {
        obj: { device: 'file/', type: 'file', code: 'error' },
        msg: 'audit chain position could not be saved',
      },
    ]);
    failPuts = false;
    const second = makeBroker(inner).broker;
    await second.open();
    await second.logRequest(sampleRecord());
    await second.close();
    expect(verifyAuditLog(readFileSync(path, 'utf8'))).toMatchObject({ ok: true, lines: 4 });
  });
});

describe('AuditBroker: lines queued before a table change are written first', () => {
  it('close, disable, reopen and logSnapshot write what is queued before they act', async () => {
    const { broker } = makeBroker();
    await broker.open();
    const path = freshPath();
    await broker.enable('file', { type: 'file', options: { file_path: path } });
    const types = () => readLines(path).map((l) => parsed(l)['type']);

    const beforeSnapshot = broker.logRequest(sampleRecord());
    const snapshot = await broker.logSnapshot('file');
    await beforeSnapshot;
    expect(snapshot.head.seq).toBe(1);

    const beforeReopen = broker.logRequest(sampleRecord());
    await broker.reopen();
    await beforeReopen;
    expect(types()).toEqual(['request', 'request', 'checkpoint']);

    const beforeDisable = broker.logRequest(sampleRecord());
    await broker.disable('file');
    await beforeDisable;
    expect(types()).toEqual(['request', 'request', 'checkpoint', 'request', 'checkpoint']);

    await broker.enable('file', { type: 'file', options: { file_path: path } });
    const beforeClose = broker.logRequest(sampleRecord());
    await broker.close();
    await beforeClose;
    expect(types()).toEqual([
      'request',
      'request',
      'checkpoint',
      'request',
      'checkpoint',
      'request',
      'checkpoint',
    ]);
    expect(verifyAuditLog(readFileSync(path, 'utf8'))).toMatchObject({ ok: true, lines: 7 });
  });

  it('enable without options refuses the missing file path', async () => {
    const { broker } = makeBroker();
    await broker.open();
    await expect(broker.enable('file', { type: 'file' })).rejects.toMatchObject({
      code: 'invalid_request',
      message: 'options.file_path: is required',
    });
    await broker.close();
  });

  it('a rotation right after a checkpoint saves where the new file starts at once', async () => {
    const { broker, storage } = makeBroker();
    await broker.open();
    const path = freshPath('rotate-at-checkpoint');
    await broker.enable('file', {
      type: 'file',
      options: { file_path: path, checkpoint_interval: '1' },
    });
    await broker.logRequest(sampleRecord()); // request, checkpoint
    renameSync(path, `${path}.1`);
    await broker.reopen(); // nothing since the checkpoint: no new line
    const old = readLines(`${path}.1`);
    expect(old).toHaveLength(2);
    // "Crash": no close. The restarted server still knows where the (empty) new file starts.
    const second = makeBroker(storage).broker;
    await second.open();
    expect(await second.logSnapshot('file')).toMatchObject({
      fileStartHash: auditLineHash(old[1]!),
      head: { seq: 2 },
    });
    await second.close();
  });
});

describe('AuditBroker: stored state and edge cases', () => {
  it('HMACs with the salt stored for the device (base64 in the device table)', async () => {
    const { broker, storage } = makeBroker();
    await broker.open();
    await broker.enable('file', { type: 'file', options: { file_path: freshPath() } });
    const table = storedJson(storage, AUDIT_KEYS.table) as { devices: { salt: string }[] };
    const salt = Buffer.from(table.devices[0]!.salt, 'base64');
    expect(salt).toHaveLength(32);
    expect(broker.hash('file', 'x')).toBe(hmacString(salt, 'x'));
    await broker.close();
  });

  it('a device table that cannot be stored refuses the enable and leaves no device', async () => {
    const inner = memoryStorage();
    const storage = { ...inner, batch: () => Promise.reject(new Error('storage down')) };
    const { broker } = makeBroker(storage);
    await broker.open();
    await expect(
      broker.enable('file', { type: 'file', options: { file_path: freshPath() } }),
    ).rejects.toThrow('storage down');
    expect(broker.list()).toEqual({});
    await broker.close();
  });

  it('a file whose last line is not a chained line starts a new chain at seq 1', async () => {
    const { broker, storage } = makeBroker();
    await broker.open();
    const path = freshPath();
    writeFileSync(path, 'written by something else\n');
    await broker.enable('file', { type: 'file', options: { file_path: path } });
    await broker.logRequest(sampleRecord());
    await broker.close();
    const table = storedJson(storage, AUDIT_KEYS.table) as { devices: { genesis: string }[] };
    expect(parsed(readLines(path)[1]!)['chain']).toEqual({
      seq: 1,
      prev: table.devices[0]!.genesis,
    });
  });

  it('resumes from the saved position when the file ends behind it or its last line was edited', async () => {
    const { broker, storage } = makeBroker();
    await broker.open();
    const path = freshPath();
    await broker.enable('file', { type: 'file', options: { file_path: path } });
    await broker.logRequest(sampleRecord());
    await broker.logRequest(sampleRecord());
    await broker.close(); // request, request, checkpoint (seq 3, saved)
    const saved = storedJson(storage, `${AUDIT_KEYS.chainPrefix}file`) as { lastHash: string };
    const lines = readLines(path);
    // An older copy put back (ends at seq 1): the chain continues from the saved seq 3.
    writeFileSync(path, `${lines[0]!}\n`);
    const second = makeBroker(storage).broker;
    await second.open();
    await second.logRequest(sampleRecord());
    await second.close();
    expect(parsed(readLines(path)[1]!)['chain']).toEqual({ seq: 4, prev: saved.lastHash });
    // The saved checkpoint line edited in place (same seq): the next line names the hash the
    // server saved, so the edit shows.
    const now = readLines(path);
    const savedAgain = storedJson(storage, `${AUDIT_KEYS.chainPrefix}file`) as {
      seq: number;
      lastHash: string;
    };
    writeFileSync(
      path,
      `${[...now.slice(0, -1), now.at(-1)!.replace('"time":"2026', '"time":"2027')].join('\n')}\n`,
    );
    const third = makeBroker(storage).broker;
    await third.open();
    await third.logRequest(sampleRecord());
    await third.close();
    expect(parsed(readLines(path)[now.length]!)['chain']).toEqual({
      seq: savedAgain.seq + 1,
      prev: savedAgain.lastHash,
    });
  });

  it('a recorded batch tells onFailure nothing; stats count the checkpoints of a rotation', async () => {
    const failures: unknown[] = [];
    const broker = new AuditBroker({
      storage: memoryStorage(),
      now: () => FIXED_NOW,
      onFailure: (failure) => failures.push(failure),
    });
    await broker.open();
    await broker.enable('file', { type: 'file', options: { file_path: freshPath() } });
    await broker.logRequest(sampleRecord());
    await broker.reopen();
    expect(failures).toEqual([]);
    expect(broker.deviceStats()).toEqual([{ path: 'file/', writes: 2, lines: 2, failures: 0 }]);
    await broker.close();
  });

  it('works without a logger: a failing device is still refused, not thrown', async () => {
    const broker = new AuditBroker({ storage: memoryStorage(), now: () => FIXED_NOW });
    await broker.open();
    const path = freshPath();
    await broker.enable('file', { type: 'file', options: { file_path: path } });
    breakFile(path);
    await broker.reopen();
    await expect(broker.logRequest(sampleRecord())).rejects.toThrow(AUDIT_FAILED_MESSAGE);
    await broker.close();
  });
});
