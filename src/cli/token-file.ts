// The token helper file (~/.coffer-token) that `coffer login` writes and every command reads
// (config.ts): written atomically, readable by its owner only.
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { TOKEN_FILE_NAME } from './config.js';

/** Owner read/write only. */
export const TOKEN_FILE_MODE = 0o600;

/** Where the token file of `home` lives. */
export function tokenFilePath(home: string): string {
  return join(home, TOKEN_FILE_NAME);
}

/** Why the token could not be stored; names the file and an errno code, never the token. */
export class TokenFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenFileError';
  }
}

function errnoOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'error';
}

/**
 * Writes `token` (plus a newline) to `file`, replacing any previous content in one step.
 * SECURITY: the bytes go to a fresh temporary file in the same directory, created exclusively
 * with mode 0600 (so no other user can ever open it, whatever the umask), synced, then renamed
 * over `file`. A previous file (or a symlink planted at that name) is replaced, never written
 * through, and the result is chmod'ed to 0600 in case the directory forces other bits.
 */
export function writeTokenFile(file: string, token: string): void {
  const temp = join(dirname(file), `.${TOKEN_FILE_NAME}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(temp, 'wx', TOKEN_FILE_MODE);
    writeSync(fd, `${token}\n`);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, file);
    chmodSync(file, TOKEN_FILE_MODE);
  } catch (error) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // Already failing; the original error is the one to report.
      }
    }
    rmSync(temp, { force: true });
    throw new TokenFileError(`cannot write the token file ${file} (${errnoOf(error)})`);
  }
}
