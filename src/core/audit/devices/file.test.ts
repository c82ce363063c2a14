import {
  chmodSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { open as openHandle } from 'node:fs/promises';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { tempDir } from '../testing.js';
import { FileAuditDevice } from './file.js';

const temp = tempDir('coffer-audit-file-');
afterAll(temp.cleanup);

function device(name: string, fsync = true) {
  const filePath = join(temp.dir, name);
  return {
    filePath,
    device: new FileAuditDevice({ filePath, mode: 0o600, fsync, writeTimeoutMs: 5000 }),
  };
}

describe('file audit device', () => {
  it('creates the file with mode 0600 whatever the umask, and appends batches', async () => {
    // A worker thread (Stryker's vitest runner) may not set the umask; the mode is then checked
    // under the umask the process has.
    const previous = isMainThread ? process.umask(0o000) : undefined;
    const { filePath, device: file } = device('a.log');
    try {
      await file.open();
    } finally {
      if (previous !== undefined) process.umask(previous);
    }
    expect(statSync(filePath).mode & 0o777).toBe(0o600);
    await file.write(Buffer.from('one\ntwo\n'));
    await file.write(Buffer.from('three\n'));
    expect(readFileSync(filePath, 'utf8')).toBe('one\ntwo\nthree\n');
    await file.close();
  });

  it('narrows an existing file with wider permissions to 0600', async () => {
    const { filePath, device: file } = device('wide.log');
    writeFileSync(filePath, 'old\n');
    chmodSync(filePath, 0o644);
    await file.open();
    expect(statSync(filePath).mode & 0o777).toBe(0o600);
    await file.write(Buffer.from('new\n'));
    expect(readFileSync(filePath, 'utf8')).toBe('old\nnew\n');
    await file.close();
  });

  it('refuses a symlink and anything that is not a regular file', async () => {
    const target = join(temp.dir, 'target.log');
    writeFileSync(target, '');
    const link = device('link.log');
    symlinkSync(target, link.filePath);
    await expect(link.device.open()).rejects.toMatchObject({ code: 'ELOOP' });
    const dir = device('dir.log');
    mkdirSync(dir.filePath);
    await expect(dir.device.open()).rejects.toMatchObject({ code: 'EISDIR' });
  });

  it('fails writes while the path cannot be opened, and recovers once it can', async () => {
    const dir = join(temp.dir, 'later');
    const filePath = join(dir, 'x.log');
    const file = new FileAuditDevice({ filePath, mode: 0o600, fsync: false, writeTimeoutMs: 5000 });
    await expect(file.write(Buffer.from('a\n'))).rejects.toMatchObject({ code: 'ENOENT' });
    mkdirSync(dir);
    await file.write(Buffer.from('b\n'));
    expect(readFileSync(filePath, 'utf8')).toBe('b\n');
    await file.close();
  });

  it('after close() the next batch opens the path afresh', async () => {
    const { filePath, device: file } = device('closed.log');
    await file.write(Buffer.from('one\n'));
    await file.close();
    renameSync(filePath, `${filePath}.1`);
    await file.write(Buffer.from('two\n'));
    expect(readFileSync(`${filePath}.1`, 'utf8')).toBe('one\n');
    expect(readFileSync(filePath, 'utf8')).toBe('two\n');
    await file.close();
  });

  it('reopens by path after a rotation', async () => {
    const { filePath, device: file } = device('rotate.log');
    await file.open();
    await file.write(Buffer.from('before\n'));
    renameSync(filePath, `${filePath}.1`);
    await file.write(Buffer.from('still old\n'));
    await file.reopen();
    await file.write(Buffer.from('after\n'));
    expect(readFileSync(`${filePath}.1`, 'utf8')).toBe('before\nstill old\n');
    expect(readFileSync(filePath, 'utf8')).toBe('after\n');
    expect(statSync(filePath).mode & 0o777).toBe(0o600);
    await file.close();
  });

  it('reads the last complete line back, terminating a torn one', async () => {
    const { filePath, device: file } = device('tail.log');
    expect(await file.lastLine()).toBeUndefined(); // no file yet
    writeFileSync(filePath, 'first\nsecond\n');
    await file.open();
    expect(await file.lastLine()).toBe('second');
    writeFileSync(filePath, 'first\nsecond\nthi');
    expect(await file.lastLine()).toBe('second');
    expect(readFileSync(filePath, 'utf8')).toBe('first\nsecond\nthi\n');
    const long = 'x'.repeat(200_000);
    writeFileSync(filePath, `a\n${long}\n`);
    expect(await file.lastLine()).toBe(long);
    expect(readFileSync(filePath, 'utf8')).toBe(`a\n${long}\n`);
    // A torn fragment longer than the first window: the line before it is found.
    writeFileSync(filePath, `a\n${'y'.repeat(100_000)}`);
    expect(await file.lastLine()).toBe('a');
    expect(readFileSync(filePath, 'utf8')).toBe(`a\n${'y'.repeat(100_000)}\n`);
    // Many lines, the last one inside the first window: found without touching the file.
    const many = Array.from({ length: 2000 }, (_, i) => `line-${i}-${'z'.repeat(100)}`);
    writeFileSync(filePath, `${many.join('\n')}\n`);
    expect(await file.lastLine()).toBe(many[1999]);
    expect(readFileSync(filePath, 'utf8')).toBe(`${many.join('\n')}\n`);
    writeFileSync(filePath, 'only\n');
    expect(await file.lastLine()).toBe('only');
    await file.close();
  });

  it('refuses a device node or anything else that is not a regular file', async () => {
    const file = new FileAuditDevice({
      filePath: '/dev/null',
      mode: 0o600,
      fsync: false,
      writeTimeoutMs: 5000,
    });
    await expect(file.open()).rejects.toMatchObject({
      code: 'ENOTREG',
      message: 'audit file is not a regular file',
    });
    await expect(file.write(Buffer.from('x\n'))).rejects.toMatchObject({ code: 'ENOTREG' });
  });

  it('a file holding no newline at all has no last line, and is terminated', async () => {
    const { filePath, device: file } = device('no-newline.log');
    writeFileSync(filePath, 'fragment');
    await file.open();
    expect(await file.lastLine()).toBeUndefined();
    expect(readFileSync(filePath, 'utf8')).toBe('fragment\n');
    writeFileSync(filePath, '\n');
    expect(await file.lastLine()).toBe('');
    await file.close();
  });

  it('syncs each batch to disk with fsync on, and never with fsync=false', async () => {
    // Counts calls of the real FileHandle.datasync (it still runs): the durability promise.
    const probe = await openHandle(join(temp.dir, 'probe.log'), 'w');
    const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
    await probe.close();
    const datasync = vi.spyOn(proto, 'datasync');
    try {
      const synced = device('synced.log', true).device;
      await synced.write(Buffer.from('a\n'));
      await synced.write(Buffer.from('b\nc\n'));
      expect(datasync).toHaveBeenCalledTimes(2);
      await synced.close();
      datasync.mockClear();
      const unsynced = device('unsynced.log', false);
      await unsynced.device.write(Buffer.from('a\n'));
      await unsynced.device.write(Buffer.from('b\n'));
      expect(datasync).not.toHaveBeenCalled();
      expect(readFileSync(unsynced.filePath, 'utf8')).toBe('a\nb\n');
      await unsynced.device.close();
    } finally {
      datasync.mockRestore();
    }
  });

  it('a batch that outlives its timeout is refused, blocks the next batch, and is taken back', async () => {
    const filePath = join(temp.dir, 'slow.log');
    writeFileSync(filePath, 'kept\n');
    const file = new FileAuditDevice({ filePath, mode: 0o600, fsync: true, writeTimeoutMs: 1 });
    await expect(file.write(Buffer.alloc(32 * 1024 * 1024, 0x61))).rejects.toMatchObject({
      code: 'ETIMEDOUT',
    });
    await expect(file.write(Buffer.from('next\n'))).rejects.toMatchObject({
      code: 'EBUSY',
      message: 'a previous audit write has not finished',
    });
    // Once the late write has settled the device takes batches again (whether this empty one
    // beats the 1 ms timeout or not), and the file holds only what was reported written.
    let settled: unknown = 'EBUSY';
    for (let i = 0; i < 500 && settled === 'EBUSY'; i++) {
      settled = await file
        .write(Buffer.alloc(0))
        .catch((e: unknown) => (e as { code?: string }).code);
      if (settled === 'EBUSY') await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(settled).not.toBe('EBUSY');
    expect(readFileSync(filePath, 'utf8')).toBe('kept\n');
    await file.close();
  });
});
