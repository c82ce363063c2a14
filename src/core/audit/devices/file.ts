// The file audit device: appends batches of lines to a local file created with mode 0600,
// fdatasyncs each batch (unless fsync=false), takes a failed batch back (truncate), reopens for
// rotation and reads the last line back so the hash chain resumes after a restart.
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { FileDeviceConfig } from '../device-config.js';
import { type AuditDevice, withTimeout } from './device.js';

/** The tail is read backwards in growing windows; a longer last line is not resumed from. */
const TAIL_FIRST_WINDOW_BYTES = 64 * 1024;
const TAIL_MAX_BYTES = 64 * 1024 * 1024;
const NEWLINE = 0x0a;

function deviceError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * Opens `path` for appending, creating it with `mode`.
 * SECURITY: O_NOFOLLOW refuses a symlink planted at the path; only a regular file is accepted
 * (no FIFO that could block, no device node whose permissions a chmod would change); an
 * existing file with wider permissions is narrowed to `mode`.
 */
async function openAuditFile(path: string, mode: number): Promise<FileHandle> {
  const flags =
    constants.O_WRONLY |
    constants.O_APPEND |
    constants.O_CREAT |
    constants.O_NOFOLLOW |
    constants.O_NONBLOCK;
  const handle = await open(path, flags, mode);
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw deviceError('audit file is not a regular file', 'ENOTREG');
    if ((stat.mode & 0o777) !== mode) await handle.chmod(mode);
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

export class FileAuditDevice implements AuditDevice {
  readonly #path: string;
  readonly #mode: number;
  readonly #fsync: boolean;
  readonly #timeoutMs: number;
  /** Undefined until opened, and after an open failed (the next write retries). */
  #handle: FileHandle | undefined;
  /** A write that outlived its timeout: until it settles, new batches are refused. */
  #stuck: Promise<void> | undefined;
  /**
   * The file's size after the last batch this handle wrote (bytes), so a batch needs no fstat
   * to know where a take-back would cut; undefined = unknown (read it before the next batch).
   */
  #size: number | undefined;

  constructor(config: Pick<FileDeviceConfig, 'filePath' | 'mode' | 'fsync' | 'writeTimeoutMs'>) {
    this.#path = config.filePath;
    this.#mode = config.mode;
    this.#fsync = config.fsync;
    this.#timeoutMs = config.writeTimeoutMs;
  }

  /** Opens the file now; rejects (with an errno code) when it cannot be used. */
  async open(): Promise<void> {
    this.#handle ??= await openAuditFile(this.#path, this.#mode);
  }

  async write(payload: Buffer): Promise<void> {
    if (this.#stuck !== undefined) {
      throw deviceError('a previous audit write has not finished', 'EBUSY');
    }
    let timedOut = false;
    const op = this.#append(payload, () => timedOut);
    await withTimeout(op, this.#timeoutMs, () => {
      timedOut = true;
      this.#stuck = op
        .catch(() => undefined)
        .finally(() => {
          this.#stuck = undefined;
        });
    });
  }

  async #append(payload: Buffer, timedOut: () => boolean): Promise<void> {
    const handle = this.#handle ?? (this.#handle = await openAuditFile(this.#path, this.#mode));
    const sizeBefore = this.#size ?? (await handle.stat()).size;
    // Unknown until this batch is known to be whole (a failure below leaves it unknown).
    this.#size = undefined;
    try {
      let offset = 0;
      while (offset < payload.length) {
        const { bytesWritten } = await handle.write(payload, offset, payload.length - offset);
        if (bytesWritten <= 0) throw deviceError('audit file accepted no bytes', 'EIO');
        offset += bytesWritten;
      }
      // One fdatasync per batch: the batch is on disk before any caller is answered.
      if (this.#fsync) await handle.datasync();
    } catch (error) {
      await this.#takeBack(handle, sizeBefore);
      throw error;
    }
    // The caller was already told this batch failed: keep the file consistent with that.
    if (timedOut()) await this.#takeBack(handle, sizeBefore);
    else if (this.#handle === handle) this.#size = sizeBefore + payload.length;
  }

  /** Removes a partly written batch so the file holds only whole, reported lines. */
  async #takeBack(handle: FileHandle, size: number): Promise<void> {
    try {
      await handle.truncate(size);
    } catch {
      // Best effort: a torn line is still caught by the verifier.
    }
  }

  async reopen(): Promise<void> {
    await this.#closeHandle();
    await this.open();
  }

  async close(): Promise<void> {
    await this.#closeHandle();
  }

  async #closeHandle(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    this.#size = undefined;
    if (handle === undefined) return;
    try {
      // close() waits for operations in flight; a hung disk must not hang a seal or rotation.
      await withTimeout(handle.close(), this.#timeoutMs);
    } catch {
      // The descriptor is abandoned; the next open creates a fresh one.
    }
  }

  /**
   * The last complete line of the file. A torn final fragment (a crash mid-write) is left in
   * place for the verifier to flag, and terminated with a newline so new lines start clean.
   */
  async lastLine(): Promise<string | undefined> {
    let reader: FileHandle;
    try {
      reader = await open(
        this.#path,
        constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
      );
    } catch {
      return undefined;
    }
    let found: { line: string | undefined; torn: boolean } | undefined;
    try {
      const size = (await reader.stat()).size;
      if (size === 0) return undefined;
      found = await readLastLine(reader, size);
    } finally {
      await reader.close();
    }
    if (found?.torn === true) await this.write(Buffer.from('\n'));
    return found?.line;
  }
}

async function readLastLine(
  reader: FileHandle,
  size: number,
): Promise<{ line: string | undefined; torn: boolean } | undefined> {
  for (let window = TAIL_FIRST_WINDOW_BYTES; ; window *= 2) {
    const start = Math.max(0, size - window);
    const buffer = Buffer.alloc(size - start);
    await reader.read(buffer, 0, buffer.length, start);
    const torn = buffer[buffer.length - 1] !== NEWLINE;
    const lastNewline = buffer.lastIndexOf(NEWLINE);
    if (lastNewline !== -1) {
      const previous = lastNewline === 0 ? -1 : buffer.lastIndexOf(NEWLINE, lastNewline - 1);
      if (previous !== -1 || start === 0) {
        return { line: buffer.subarray(previous + 1, lastNewline).toString('utf8'), torn };
      }
    } else if (start === 0) {
      return { line: undefined, torn };
    }
    if (start === 0 || window >= TAIL_MAX_BYTES) return undefined;
  }
}
