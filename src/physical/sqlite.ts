// The SQLite physical backend (the default): one WAL-mode database file, durable commits, and
// group commit so that concurrent writes share one transaction and one fsync.
import { chmodSync, closeSync, openSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { CofferError } from '../sdk/errors.js';
import type { StorageOp } from '../sdk/storage.js';
import type { CommitTimedBackend, SnapshotBackend } from './physical.js';

export interface SqliteBackendOptions {
  /** Database file path. Its directory must exist. */
  readonly path: string;
  /**
   * 'full' (default): a commit is on disk before the write resolves (survives power loss).
   * 'normal': in WAL mode a commit survives a process crash but may be lost on power loss.
   */
  readonly synchronous?: 'full' | 'normal' | undefined;
  /**
   * Default true: writes issued in the same event-loop turn (and those arriving while the
   * flush is pending) commit in one transaction. False: one transaction per write call.
   */
  readonly groupCommit?: boolean | undefined;
  /** How long a write waits for another connection's lock before failing. Default 5000. */
  readonly busyTimeoutMs?: number | undefined;
}

export interface SqliteBackendStats {
  /** Successful write transactions (each one is one fsync with synchronous=FULL). */
  readonly commits: number;
  /** Put and delete operations committed. */
  readonly writes: number;
}

export interface SqliteBackend extends CommitTimedBackend, SnapshotBackend {
  readonly filePath: string;
  stats(): SqliteBackendStats;
  /** The connection's effective settings, for diagnostics and tests. */
  pragmas(): { journalMode: string; synchronous: number; busyTimeoutMs: number };
}

/** A write op with its value already copied (the caller may reuse its array at once). */
type QueuedOp =
  | { readonly op: 'put'; readonly key: string; readonly value: Buffer }
  | { readonly op: 'delete'; readonly key: string };

/** One caller's put/delete/batch waiting for the next group commit. */
interface PendingWrite {
  readonly ops: readonly QueuedOp[];
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

const DEFAULT_BUSY_TIMEOUT_MS = 5000;
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * The smallest string above every string that starts with `prefix`, in code point order
 * (which is SQLite's BINARY order over UTF-8); undefined when there is none (prefix '' or
 * made only of U+10FFFF). Keys k with prefix p are exactly p <= k < upperBound(p).
 */
export function prefixUpperBound(prefix: string): string | undefined {
  const codePoints = Array.from(prefix);
  while (codePoints.length > 0) {
    const last = codePoints.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) {
      // Surrogate code points are not valid scalar values; the next one after U+D7FF is U+E000.
      const next = last + 1 === 0xd800 ? 0xe000 : last + 1;
      return codePoints.join('') + String.fromCodePoint(next);
    }
  }
  return undefined;
}

/**
 * SECURITY: SQLite stores keys as UTF-8, and a lone surrogate encodes as U+FFFD, so two
 * different JS keys would silently share one row. Refuse them instead.
 */
function checkKey(key: string): void {
  if (typeof key !== 'string' || LONE_SURROGATE.test(key)) {
    throw new CofferError('invalid_request', 'storage key is not a well-formed string', {
      field: 'key',
    });
  }
}

function queueOps(ops: readonly StorageOp[]): QueuedOp[] {
  return ops.map((op) => {
    checkKey(op.key);
    if (op.op === 'delete') return { op: 'delete', key: op.key };
    if (!(op.value instanceof Uint8Array)) {
      throw new CofferError('internal', `storage value for ${op.key} is not bytes`);
    }
    // Copied now: the write happens on a later turn and the caller may reuse its array.
    return { op: 'put', key: op.key, value: Buffer.from(op.value) };
  });
}

function writeFailed(cause: unknown): CofferError {
  return new CofferError('internal', 'sqlite storage: the write transaction failed', { cause });
}

class SqliteBackendImpl implements SqliteBackend {
  readonly type = 'sqlite';
  readonly filePath: string;
  readonly #db: Database.Database;
  readonly #groupCommit: boolean;
  readonly #get: Database.Statement<[string], { value: Buffer }>;
  readonly #put: Database.Statement<[string, Buffer]>;
  readonly #delete: Database.Statement<[string]>;
  readonly #rangeBounded: Database.Statement<[string, string], { key: string }>;
  readonly #rangeOpen: Database.Statement<[string], { key: string }>;
  readonly #commit: (ops: readonly QueuedOp[]) => void;
  #queue: PendingWrite[] = [];
  #flushTimer: NodeJS.Immediate | undefined;
  #closed = false;
  #commits = 0;
  #writes = 0;
  /** Set by timeCommits (metrics); times each write transaction. */
  #commitTimer: (() => () => void) | undefined;

  constructor(options: SqliteBackendOptions) {
    this.filePath = options.path;
    this.#groupCommit = options.groupCommit ?? true;
    prepareDatabaseFiles(options.path);
    let db: Database.Database;
    try {
      db = new Database(options.path);
    } catch (cause) {
      throw new CofferError(
        'internal',
        `cannot open the SQLite database at ${options.path} (${errnoOf(cause)})`,
        { cause },
      );
    }
    try {
      // busy_timeout first: switching to WAL needs a lock another connection may hold.
      db.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS)}`);
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') {
        throw new CofferError('internal', `SQLite refused WAL mode for ${options.path}`);
      }
      db.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
      db.exec(
        'CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID',
      );
    } catch (cause) {
      db.close();
      if (cause instanceof CofferError) throw cause;
      throw new CofferError('internal', `cannot prepare the SQLite database at ${options.path}`, {
        cause,
      });
    }
    this.#db = db;
    this.#get = db.prepare<[string], { value: Buffer }>('SELECT value FROM entries WHERE key = ?');
    this.#put = db.prepare<[string, Buffer]>(
      'INSERT INTO entries (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    );
    this.#delete = db.prepare<[string]>('DELETE FROM entries WHERE key = ?');
    this.#rangeBounded = db.prepare<[string, string], { key: string }>(
      'SELECT key FROM entries WHERE key >= ? AND key < ? ORDER BY key',
    );
    this.#rangeOpen = db.prepare<[string], { key: string }>(
      'SELECT key FROM entries WHERE key >= ? ORDER BY key',
    );
    const transaction = db.transaction((ops: readonly QueuedOp[]) => {
      for (const op of ops) {
        if (op.op === 'put') this.#put.run(op.key, op.value);
        else this.#delete.run(op.key);
      }
    });
    // IMMEDIATE takes the write lock at BEGIN, so a busy database waits (busy_timeout) up front
    // instead of failing at the first write.
    this.#commit = (ops) => {
      const end = this.#commitTimer?.();
      transaction.immediate(ops);
      end?.();
      this.#commits += 1;
      this.#writes += ops.length;
    };
  }

  #checkOpen(): void {
    if (this.#closed) throw new CofferError('internal', 'the SQLite storage is closed');
  }

  timeCommits(start: () => () => void): void {
    this.#commitTimer = start;
  }

  stats(): SqliteBackendStats {
    return { commits: this.#commits, writes: this.#writes };
  }

  pragmas(): { journalMode: string; synchronous: number; busyTimeoutMs: number } {
    this.#checkOpen();
    return {
      journalMode: String(this.#db.pragma('journal_mode', { simple: true })),
      synchronous: Number(this.#db.pragma('synchronous', { simple: true })),
      busyTimeoutMs: Number(this.#db.pragma('busy_timeout', { simple: true })),
    };
  }

  /**
   * Reads go to the database, never to the write queue: a write is only visible once its
   * promise resolved (a read racing an unresolved write may see the old value).
   */
  get(key: string): Promise<Uint8Array | undefined> {
    try {
      this.#checkOpen();
      checkKey(key);
      const row = this.#get.get(key);
      if (row === undefined) return Promise.resolve(undefined);
      return Promise.resolve(
        new Uint8Array(row.value.buffer, row.value.byteOffset, row.value.byteLength),
      );
    } catch (err) {
      return Promise.reject(err instanceof CofferError ? err : readFailed(err));
    }
  }

  put(key: string, value: Uint8Array): Promise<void> {
    return this.batch([{ op: 'put', key, value }]);
  }

  delete(key: string): Promise<void> {
    return this.batch([{ op: 'delete', key }]);
  }

  /**
   * Direct children of `prefix`: a range scan over [prefix, upperBound(prefix)) that jumps
   * over each folder's subtree (one index seek per folder), so listing a folder with a few
   * children and a huge subtree stays cheap. No LIKE: keys may contain '%' and '_'.
   */
  list(prefix: string): Promise<string[]> {
    try {
      this.#checkOpen();
      checkKey(prefix);
      const upper = prefixUpperBound(prefix);
      const children = new Set<string>();
      let from = prefix;
      // Terminates: every restart moves `from` strictly past a folder already seen.
      for (;;) {
        const rows =
          upper === undefined
            ? this.#rangeOpen.iterate(from)
            : this.#rangeBounded.iterate(from, upper);
        let next: string | undefined;
        for (const { key } of rows) {
          const rest = key.slice(prefix.length);
          const slash = rest.indexOf('/');
          if (slash === -1) {
            if (rest !== '') children.add(rest);
            continue;
          }
          children.add(rest.slice(0, slash + 1));
          // Every key under prefix+"name/" sorts below prefix+"name0" ('0' follows '/').
          next = `${prefix}${rest.slice(0, slash)}0`;
          break; // ends the iterator (resets the statement)
        }
        if (next === undefined) break;
        from = next;
      }
      // JS order, like directChildren (SQLite's UTF-8 order differs above U+FFFF).
      return Promise.resolve([...children].sort());
    } catch (err) {
      return Promise.reject(err instanceof CofferError ? err : readFailed(err));
    }
  }

  batch(ops: readonly StorageOp[]): Promise<void> {
    let queued: QueuedOp[];
    try {
      this.#checkOpen();
      queued = queueOps(ops);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : writeFailed(err));
    }
    if (queued.length === 0) return Promise.resolve();
    if (!this.#groupCommit) {
      try {
        this.#commit(queued);
        return Promise.resolve();
      } catch (err) {
        return Promise.reject(writeFailed(err));
      }
    }
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ ops: queued, resolve, reject });
      this.#flushTimer ??= setImmediate(() => {
        this.#flush();
      });
    });
  }

  /**
   * Commits every queued write in one transaction and settles each caller afterwards. If that
   * transaction fails (it was rolled back, nothing is applied), each caller's ops are retried
   * in a transaction of their own, so exactly the failing callers reject.
   */
  #flush(): void {
    this.#flushTimer = undefined;
    const group = this.#queue;
    this.#queue = [];
    if (group.length === 0) return;
    try {
      this.#commit(group.length === 1 ? group[0]!.ops : group.flatMap((w) => w.ops));
      for (const write of group) write.resolve();
      return;
    } catch (err) {
      if (group.length === 1) {
        group[0]!.reject(writeFailed(err));
        return;
      }
    }
    for (const write of group) {
      try {
        this.#commit(write.ops);
        write.resolve();
      } catch (err) {
        write.reject(writeFailed(err));
      }
    }
  }

  /**
   * SQLite's online backup: copies the pages in steps while writes go on; writes made through
   * this connection during the copy are carried into it, so the copy is consistent and holds
   * every write acknowledged before the call. The file is created 0600.
   */
  async saveSnapshot(file: string): Promise<void> {
    this.#checkOpen();
    closeSync(openSync(file, 'wx', DATABASE_FILE_MODE));
    await this.#db.backup(file);
  }

  /** Replaces every entry in one transaction; pending writes are committed first. */
  restoreSnapshot(file: string): Promise<void> {
    this.#checkOpen();
    if (this.#flushTimer !== undefined) clearImmediate(this.#flushTimer);
    this.#flush();
    try {
      checkSnapshotFile(file);
    } catch (error) {
      // checkSnapshotFile throws only CofferError.
      return Promise.reject(error instanceof Error ? error : new Error('bad snapshot'));
    }
    this.#db.prepare('ATTACH DATABASE ? AS snapshot').run(file);
    try {
      this.#db
        .transaction(() => {
          this.#db.exec('DELETE FROM main.entries');
          this.#db.exec(
            'INSERT INTO main.entries (key, value) SELECT key, value FROM snapshot.entries',
          );
        })
        .immediate();
    } finally {
      this.#db.exec('DETACH DATABASE snapshot');
    }
    return Promise.resolve();
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    if (this.#flushTimer !== undefined) clearImmediate(this.#flushTimer);
    this.#flush();
    try {
      this.#db.close();
      return Promise.resolve();
    } catch (cause) {
      return Promise.reject(
        new CofferError('internal', 'sqlite storage: closing the database failed', { cause }),
      );
    }
  }
}

function readFailed(cause: unknown): CofferError {
  return new CofferError('internal', 'sqlite storage: the read failed', { cause });
}

/**
 * Opens (creating if needed) a SQLite database as a physical backend: WAL journal,
 * synchronous=FULL unless told otherwise, a busy timeout, and one `entries` table.
 */
/** Owner read/write only: the database, its -wal and -shm (SQLite gives them the file's mode). */
export const DATABASE_FILE_MODE = 0o600;

/** "EACCES" → a word a user can act on. */
function errnoOf(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'error';
}

/**
 * Makes sure the folder exists (a clear reason when not) and that the database file and its
 * -wal/-shm companions are 0600: created so when missing, narrowed when wider.
 * SECURITY: the entries are ciphertext, but the file also reveals key names and sizes.
 */
function prepareDatabaseFiles(path: string): void {
  if (path === ':memory:' || path === '') return;
  const folder = dirname(resolve(path));
  const where = `cannot open the SQLite database at ${path}`;
  const stat = statSync(folder, { throwIfNoEntry: false });
  if (stat === undefined) {
    throw new CofferError('internal', `${where}: the folder ${folder} does not exist`);
  }
  if (!stat.isDirectory()) {
    throw new CofferError('internal', `${where}: ${folder} is not a folder`);
  }
  try {
    closeSync(openSync(path, 'a', DATABASE_FILE_MODE));
    for (const file of [path, `${path}-wal`, `${path}-shm`]) {
      const mode = statSync(file, { throwIfNoEntry: false })?.mode;
      if (mode !== undefined && (mode & 0o777) !== DATABASE_FILE_MODE) {
        chmodSync(file, DATABASE_FILE_MODE);
      }
    }
  } catch (error) {
    throw new CofferError('internal', `${where} (${errnoOf(error)})`, { cause: error });
  }
}

/** Refuses a file that is not a snapshot (see SnapshotBackend), before anything changes. */
export function checkSnapshotFile(file: string): void {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const columns = db
      .prepare<[], { name: string }>("SELECT name FROM pragma_table_info('entries')")
      .all();
    const names = columns
      .map((c) => c.name)
      .sort()
      .join(',');
    if (names !== 'key,value') throw new Error('no entries table');
  } catch (cause) {
    throw new CofferError('invalid_request', 'the snapshot is not a Coffer storage snapshot', {
      cause,
    });
  } finally {
    db?.close();
  }
}

export function openSqliteBackend(options: SqliteBackendOptions): SqliteBackend {
  return new SqliteBackendImpl(options);
}
