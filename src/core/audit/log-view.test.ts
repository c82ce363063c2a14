import { appendFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../sdk/json.js';
import { CofferError } from '../../sdk/errors.js';
import { createContextPathEngine } from '../../sdk/path.js';
import { memoryStorage, testRequest } from '../../sdk/testing.js';
import { auditLineHash } from '../../shared/audit-verify.js';
import type { Caller } from '../caller.js';
import { chainLine } from './chain.js';
import { auditLogViewPaths, TAIL_WINDOW_BYTES, verifyAuditFile } from './log-view.js';
import { makeBroker, sampleRecord, startServer, tempDir } from './testing.js';

const temp = tempDir('coffer-audit-view-');
afterAll(temp.cleanup);

const caller = { token: 'root', isRoot: true, sudoOn: () => true } as unknown as Caller;

let counter = 0;
function freshPath(): string {
  counter++;
  return join(temp.dir, `view-${counter}.log`);
}

async function setup(options: Record<string, string> = {}) {
  const made = makeBroker();
  const { broker } = made;
  await broker.open();
  const file = freshPath();
  await broker.enable('file', { type: 'file', options: { file_path: file, ...options } });
  const engine = createContextPathEngine<Caller>(auditLogViewPaths({ audit: broker }));
  const view = async (data: Record<string, unknown> = {}, path = 'audit-log/file') => {
    const result = await engine.handle(testRequest('read', path, data, memoryStorage()), caller);
    if (result.kind !== 'data') throw new Error('expected data');
    return result.data as JsonObject & {
      entries: JsonObject[];
      verification: JsonObject | null;
      server_head: { seq: number; hash: string };
    };
  };
  const publicKey = () =>
    (broker.list()['file/'] as { options: Record<string, string> }).options[
      'checkpoint_public_key'
    ]!;
  return { ...made, file, view, publicKey };
}

const record = (id: string) => sampleRecord({ request: { ...sampleRecord().request, id } });

function lastLineOf(file: string): string {
  const lines = readFileSync(file, 'utf8').split('\n');
  return lines[lines.length - 2]!;
}

describe('sys/audit-log/:path', () => {
  it('verifies the whole file against the server head and returns the newest 50 entries, newest first', async () => {
    const { broker, file, view, publicKey } = await setup();
    for (let i = 0; i < 60; i++) await broker.logRequest(record(`req-${i}`));
    const data = await view();
    const size = statSync(file).size;
    const head = { seq: 60, hash: auditLineHash(lastLineOf(file)) };
    expect(data).toEqual({
      path: 'file/',
      type: 'file',
      checkpoint_public_key: publicKey(),
      server_head: head,
      file_path: file,
      size_bytes: size,
      readable: true,
      verification: {
        ok: true,
        lines: 60,
        checkpoints: 0,
        signatures_checked: true,
        unsigned_trailing_lines: 60,
        first_seq: 1,
        last_seq: 60,
        last_line_hash: head.hash,
        server_head: head,
        matches_server_head: true,
      },
      entries: expect.any(Array) as unknown,
      scanned_bytes: size,
      scanned_whole_file: true,
    });
    const ids = data.entries.map((e) => (e['request'] as { id: string }).id);
    expect(ids).toEqual(Array.from({ length: 50 }, (_, i) => `req-${59 - i}`));
    // Entries are the lines as written: HMAC'd, never unhashed.
    expect(JSON.stringify(data)).not.toContain('hunter2');
    expect(data.entries[0]).toEqual(JSON.parse(lastLineOf(file)));
    await broker.close();
  });

  it('takes limit from 1 to 200 and refuses anything else', async () => {
    const { broker, view } = await setup();
    for (let i = 0; i < 3; i++) await broker.logRequest(record(`req-${i}`));
    expect((await view({ limit: 1 })).entries).toHaveLength(1);
    expect((await view({ limit: 200 })).entries).toHaveLength(3);
    for (const limit of [0, -1, 201]) {
      await expect(view({ limit })).rejects.toMatchObject({
        code: 'invalid_request',
        message: 'limit: must be between 1 and 200',
      });
    }
    await broker.close();
  });

  it('filters case-insensitively on the trimmed text, and refuses a filter over 256 characters', async () => {
    const { broker, view } = await setup();
    for (let i = 0; i < 3; i++) await broker.logRequest(record(`Req-${i}`));
    const ids = (data: { entries: JsonObject[] }) =>
      data.entries.map((e) => (e['request'] as { id: string }).id);
    expect(ids(await view({ filter: '  "req-1"  ' }))).toEqual(['Req-1']);
    const hashed = broker.hash('file', 'cfs.sampletoken');
    expect(ids(await view({ filter: hashed.toUpperCase() }))).toEqual(['Req-2', 'Req-1', 'Req-0']);
    expect((await view({ filter: 'x'.repeat(256) })).entries).toEqual([]);
    await expect(view({ filter: 'x'.repeat(257) })).rejects.toMatchObject({
      code: 'invalid_request',
      message: 'filter: must be at most 256 characters',
    });
    await broker.close();
  });

  it('skips verification on verify=false, and reads lines after a prefix', async () => {
    const { broker, view, file } = await setup({ prefix: 'coffer: ' });
    await broker.logRequest(record('req-prefixed'));
    const data = await view({ verify: false });
    expect(data.verification).toBeNull();
    expect(readFileSync(file, 'utf8').startsWith('coffer: {')).toBe(true);
    expect(data.entries).toEqual([JSON.parse(lastLineOf(file).slice('coffer: '.length))]);
    expect((await view()).verification).toMatchObject({ ok: true, lines: 1 });
    await broker.close();
  });

  it('an empty file verifies against a head at seq 0', async () => {
    const { broker, view } = await setup();
    const data = await view();
    expect(data.size_bytes).toBe(0);
    expect(data.entries).toEqual([]);
    expect(data.verification).toMatchObject({
      ok: true,
      lines: 0,
      matches_server_head: true,
      server_head: { seq: 0 },
    });
    await broker.close();
  });

  it('a file that verifies alone but goes past the server head is reported', async () => {
    const { broker, view, file } = await setup();
    await broker.logRequest(record('req-0'));
    const { server_head: head } = await view();
    // A forged line chained onto the server's last line: the chain holds, the head does not.
    appendFileSync(
      file,
      `${chainLine({ seq: head.seq, lastHash: head.hash }, { type: 'request' }, '').text}\n`,
    );
    const data = await view();
    expect(data.verification).toMatchObject({
      ok: false,
      lines: 2,
      last_seq: 2,
      matches_server_head: false,
      problem:
        'the file ends at seq 2 but the server last wrote seq 1 (lines were cut from the end, or the last line was rewritten)',
    });
    expect(data.verification).not.toHaveProperty('first_bad_line');
    await broker.close();
  });

  it('lines in a file whose server head is still seq 0 are reported', async () => {
    const { broker, view, file } = await setup();
    writeFileSync(
      file,
      `${chainLine({ seq: 0, lastHash: '0'.repeat(64) }, { type: 'request' }, '').text}\n`,
    );
    expect((await view()).verification).toMatchObject({
      ok: false,
      lines: 1,
      matches_server_head: false,
      problem:
        'the file ends at seq 1 but the server last wrote seq 0 (lines were cut from the end, or the last line was rewritten)',
    });
    await broker.close();
  });

  it('a file cut short of the server head names where it ends', async () => {
    const { broker, view, file } = await setup();
    for (let i = 0; i < 3; i++) await broker.logRequest(record(`req-${i}`));
    const lines = readFileSync(file, 'utf8').split('\n');
    writeFileSync(file, `${lines.slice(0, 2).join('\n')}\n`);
    expect((await view()).verification).toMatchObject({
      ok: false,
      lines: 2,
      first_bad_line: 2,
      problem:
        'the file ends at seq 2 but the server has written seq 3: lines were cut from the end (or this copy is older than the log)',
      matches_server_head: false,
    });
    await broker.close();
  });

  it('verifies the file only up to the size of its snapshot', async () => {
    const { broker, file } = await setup();
    await broker.logRequest(record('req-0'));
    const snapshot = await broker.logSnapshot('file');
    await broker.logRequest(record('req-1'));
    expect(statSync(file).size).toBeGreaterThan(snapshot.type === 'file' ? snapshot.sizeBytes : 0);
    if (snapshot.type !== 'file') throw new Error('expected a file snapshot');
    expect(await verifyAuditFile(snapshot)).toMatchObject({
      ok: true,
      lines: 1,
      last_seq: 1,
      matches_server_head: true,
    });
    await broker.close();
  });

  it('names the first bad line of an edited file', async () => {
    const { broker, view, file } = await setup();
    for (let i = 0; i < 3; i++) await broker.logRequest(record(`req-${i}`));
    const lines = readFileSync(file, 'utf8').split('\n');
    lines[0] = lines[0]!.replace('"update"', '"delete"');
    writeFileSync(file, lines.join('\n'));
    expect((await view()).verification).toMatchObject({
      ok: false,
      first_bad_line: 1,
      problem: 'line 1 was altered: its hash does not match the prev recorded by line 2',
    });
    await broker.close();
  });

  it('searches only the last 1 MiB, dropping the line cut by the window and lines that are not JSON', async () => {
    const { broker, view, file } = await setup();
    // The line cut by the window's start would parse from its first "{" if it were kept.
    appendFileSync(file, `cut-${'x'.repeat(TAIL_WINDOW_BYTES)}{"cut":true}\n`);
    // A line with no "{" is skipped even when its tail would parse ("7").
    appendFileSync(file, 'no json here 7\n{"broken":\n{"whole":1}\n');
    const data = await view({ verify: false });
    expect(data.entries).toEqual([{ whole: 1 }]);
    expect(data.scanned_bytes).toBe(TAIL_WINDOW_BYTES);
    expect(data.scanned_whole_file).toBe(false);
    expect(data.size_bytes).toBe(statSync(file).size);
    await broker.close();
  });

  it('a file that cannot be read is an internal error naming no content', async () => {
    const { broker, view, file, warnings } = await setup();
    await broker.logRequest(record('req-0'));
    // Stat works on a directory, reading it does not.
    rmSync(file);
    mkdirSync(file);
    await expect(view()).rejects.toThrow(
      new CofferError('internal', 'audit: the audit file could not be read'),
    );
    await expect(view({ verify: false })).rejects.toThrow(
      new CofferError('internal', 'audit: the audit file could not be read'),
    );
    rmSync(file, { recursive: true });
    await expect(view()).rejects.toThrow(
      new CofferError('internal', 'audit: the audit file could not be read'),
    );
    expect(warnings).toContainEqual({
      obj: { device: 'file/', type: 'file', code: 'ENOENT' },
      msg: 'audit file could not be inspected',
    });
    await broker.close();
  });

  it('a socket device is described, not read; an unknown device is not found', async () => {
    const server = await startServer();
    const { broker, view } = await setup();
    try {
      await broker.enable('siem', { type: 'socket', options: { address: server.address } });
      await broker.logRequest(record('req-0'));
      const publicKey = (broker.list()['siem/'] as { options: Record<string, string> }).options[
        'checkpoint_public_key'
      ];
      const data = await view({}, 'audit-log/siem');
      expect(data).toEqual({
        path: 'siem/',
        type: 'socket',
        checkpoint_public_key: publicKey,
        server_head: { seq: 1, hash: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown },
        verification: null,
        readable: false,
        reason: 'a socket device sends its lines elsewhere: verify them at the receiver',
        entries: [],
      });
      expect(data.server_head.hash).toBe(
        auditLineHash((await server.waitFor((t) => t.endsWith('\n'))).slice(0, -1)),
      );
      await expect(view({}, 'audit-log/nothing')).rejects.toThrow(
        new CofferError('not_found', 'no audit device at that path'),
      );
    } finally {
      await broker.close();
      await server.close();
    }
  });
});
