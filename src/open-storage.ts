// Opens the physical backend a `storage` block describes (the server and `operator migrate`).
import type { StorageConfig } from './config/config.js';
import { createInmemBackend } from './physical/inmem.js';
import type { PhysicalBackend } from './physical/physical.js';
import { openPostgresBackend } from './physical/postgresql.js';
import { openSqliteBackend } from './physical/sqlite.js';

export function openStorage(storage: StorageConfig): PhysicalBackend {
  switch (storage.type) {
    case 'inmem':
      return createInmemBackend();
    case 'sqlite':
      return openSqliteBackend({
        path: storage.path,
        synchronous: storage.synchronous,
        groupCommit: storage.groupCommit,
      });
    case 'postgresql':
      return openPostgresBackend({
        connectionUrl: storage.connectionUrl,
        table: storage.table,
        haTable: storage.haTable,
        groupCommit: storage.groupCommit,
      });
  }
}
