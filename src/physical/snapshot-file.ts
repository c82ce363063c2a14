// The snapshot file format of ADR 0006 for backends that are not SQLite themselves: a SQLite
// database with one table `entries (key, value)` holding the stored (ciphertext) entries.
import { closeSync, openSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { CofferError } from '../sdk/errors.js';
import { checkSnapshotFile, DATABASE_FILE_MODE } from './sqlite.js';

/** A snapshot file being written in pages: `add` each page, then `finish` (or `abandon`). */
export interface SnapshotFileWriter {
  add(entries: Iterable<readonly [string, Uint8Array]>): void;
  /** Commits and closes the file. */
  finish(): void;
  /** Closes and removes the partial file. */
  abandon(): void;
}

/** Creates a new file (mode 0600; it must not exist), written in one SQLite transaction. */
export function openSnapshotFileWriter(file: string): SnapshotFileWriter {
  closeSync(openSync(file, 'wx', DATABASE_FILE_MODE));
  const db = new Database(file);
  let insert: Database.Statement<[string, Buffer]>;
  try {
    db.exec('CREATE TABLE entries (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID');
    insert = db.prepare<[string, Buffer]>('INSERT INTO entries (key, value) VALUES (?, ?)');
    db.exec('BEGIN');
  } catch (error) {
    db.close();
    rmSync(file, { force: true });
    throw error;
  }
  return {
    add(entries) {
      for (const [key, value] of entries) insert.run(key, Buffer.from(value));
    },
    finish() {
      try {
        db.exec('COMMIT');
      } finally {
        db.close();
      }
    },
    abandon() {
      db.close();
      rmSync(file, { force: true });
    },
  };
}

/** Writes `entries` to a new file (mode 0600; it must not exist) in one transaction. */
export function writeSnapshotFile(
  file: string,
  entries: Iterable<readonly [string, Uint8Array]>,
): void {
  const writer = openSnapshotFileWriter(file);
  try {
    writer.add(entries);
  } catch (error) {
    writer.abandon();
    throw error;
  }
  writer.finish();
}

/** Every entry of a snapshot file; refuses a file that is not one. */
export function readSnapshotFile(file: string): [string, Uint8Array][] {
  const entries: [string, Uint8Array][] = [];
  for (const page of readSnapshotPages(file, Number.MAX_SAFE_INTEGER)) entries.push(...page);
  return entries;
}

/**
 * The entries of a snapshot file in key order, `pageSize` at a time; refuses a file that is not
 * a snapshot (or whose values are not bytes) before the first page.
 */
export function* readSnapshotPages(
  file: string,
  pageSize: number,
): Generator<[string, Uint8Array][], void, undefined> {
  checkSnapshotFile(file);
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const page = db.prepare<
      [{ after: string | null; limit: number }],
      { key: unknown; value: unknown }
    >(
      'SELECT key, value FROM entries WHERE @after IS NULL OR key > @after ORDER BY key LIMIT @limit',
    );
    let after: string | null = null;
    for (;;) {
      const rows = page.all({ after, limit: pageSize });
      const entries = rows.map((row): [string, Uint8Array] => {
        if (typeof row.key !== 'string' || !Buffer.isBuffer(row.value)) {
          throw new CofferError('invalid_request', 'the snapshot is not a Coffer storage snapshot');
        }
        return [row.key, new Uint8Array(row.value)];
      });
      if (entries.length > 0) yield entries;
      if (rows.length < pageSize) return;
      after = entries[entries.length - 1]![0];
    }
  } finally {
    db.close();
  }
}
