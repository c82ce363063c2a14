import {
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TokenFileError, tokenFilePath, writeTokenFile } from './token-file.js';

const temp = mkdtempSync(join(tmpdir(), 'coffer-token-file-'));
afterAll(() => {
  rmSync(temp, { recursive: true, force: true });
});

describe('writeTokenFile', () => {
  it('creates the file with mode 0600 and the token plus a newline', () => {
    const home = mkdtempSync(join(temp, 'home-'));
    const file = tokenFilePath(home);
    expect(file).toBe(join(home, '.coffer-token'));
    writeTokenFile(file, 'hvs.first');
    expect(readFileSync(file, 'utf8')).toBe('hvs.first\n');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(home)).toEqual(['.coffer-token']);
  });

  it('replaces an existing, too-open file and tightens it to 0600', () => {
    const home = mkdtempSync(join(temp, 'home-'));
    const file = tokenFilePath(home);
    writeFileSync(file, 'old-token-with-a-longer-value\n', { mode: 0o644 });
    writeTokenFile(file, 'hvs.second');
    expect(readFileSync(file, 'utf8')).toBe('hvs.second\n');
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('replaces a symlink planted at the name instead of writing through it', () => {
    const home = mkdtempSync(join(temp, 'home-'));
    const target = join(mkdtempSync(join(temp, 'victim-')), 'target');
    writeFileSync(target, 'untouched\n');
    symlinkSync(target, tokenFilePath(home));
    writeTokenFile(tokenFilePath(home), 'hvs.third');
    expect(readFileSync(target, 'utf8')).toBe('untouched\n');
    expect(lstatSync(tokenFilePath(home)).isSymbolicLink()).toBe(false);
  });

  it('fails with the file name and errno, never the token, and leaves no temp file', () => {
    const missing = join(temp, 'no-such-dir', '.coffer-token');
    let error: unknown;
    try {
      writeTokenFile(missing, 'hvs.never-printed');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TokenFileError);
    expect((error as Error).message).toBe(`cannot write the token file ${missing} (ENOENT)`);
    expect((error as Error).message).not.toContain('hvs.never-printed');
  });
});
