// Snapshots as bytes for the API: save to and restore from a private temporary folder (0700,
// the file 0600), removed afterwards. The bytes are the stored entries, still ciphertext.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SnapshotBackend } from './physical.js';

async function inTempFolder<T>(work: (file: string) => Promise<T>): Promise<T> {
  const folder = mkdtempSync(join(tmpdir(), 'coffer-snapshot-'));
  try {
    return await work(join(folder, 'snapshot.db'));
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

export function snapshotBytes(backend: SnapshotBackend): Promise<Buffer> {
  return inTempFolder(async (file) => {
    await backend.saveSnapshot(file);
    return readFileSync(file);
  });
}

export function restoreSnapshotBytes(backend: SnapshotBackend, bytes: Uint8Array): Promise<void> {
  return inTempFolder(async (file) => {
    writeFileSync(file, bytes, { mode: 0o600 });
    await backend.restoreSnapshot(file);
  });
}
