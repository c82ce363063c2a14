import { verifyAuditFile } from './log-view.js';
import { mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CofferError } from '../../sdk/errors.js';
import { verifyAuditLog } from '../../shared/audit-verify.js';
import { AUDIT_FAILED_MESSAGE, AUDIT_KEYS, type AuditBroker } from './audit-broker.js';
import { makeBroker, sampleRecord, startServer, tempDir } from './testing.js';
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
    await expect(broker.logResponse(sampleRecord())).rejects.toThrow('not open');
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
    expect(error).toMatchObject({ code: 'internal', message: AUDIT_FAILED_MESSAGE });
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
