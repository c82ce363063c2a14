// The snapshot file format of ADR 0006 for backends that are not SQLite themselves: a SQLite
// database with one table `entries (key, value)` holding the stored (ciphertext) entries.
import { closeSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import { checkSnapshotFile, DATABASE_FILE_MODE } from './sqlite.js';

/** Writes `entries` to a new file (mode 0600; it must not exist) in one transaction. */
export function writeSnapshotFile(
  file: string,
  entries: Iterable<readonly [string, Uint8Array]>,
): void {
  closeSync(openSync(file, 'wx', DATABASE_FILE_MODE));
  const db = new Database(file);
  try {
    db.exec('CREATE TABLE entries (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID');
    const insert = db.prepare<[string, Buffer]>('INSERT INTO entries (key, value) VALUES (?, ?)');
    db.transaction(() => {
      for (const [key, value] of entries) insert.run(key, Buffer.from(value));
    })();
  } finally {
    db.close();
  }
}

/** Every entry of a snapshot file; refuses a file that is not one. */
export function readSnapshotFile(file: string): [string, Uint8Array][] {
  checkSnapshotFile(file);
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare<[], { key: string; value: Buffer }>('SELECT key, value FROM entries ORDER BY key')
      .all()
      .map((row) => [row.key, new Uint8Array(row.value)]);
  } finally {
    db.close();
  }
}
