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
import { afterAll, describe, expect, it } from 'vitest';
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
    const previous = process.umask(0o000);
    const { filePath, device: file } = device('a.log');
    try {
      await file.open();
    } finally {
      process.umask(previous);
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
    writeFileSync(filePath, 'only\n');
    expect(await file.lastLine()).toBe('only');
    await file.close();
  });
});
