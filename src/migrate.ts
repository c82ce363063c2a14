// `coffer operator migrate -config FILE`: copies every entry of one physical store to another
// (SQLite → PostgreSQL and back) while the servers are stopped. Entries are opaque ciphertext,
// so the copy unseals with the original keys; no key is needed to run it.
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { BARRIER_KEYS } from './barrier/keys.js';
import { parseMigrationConfig } from './config/config.js';
import { openStorage } from './open-storage.js';
import { isHaBackend, type PhysicalBackend } from './physical/physical.js';
import { CofferError, isCofferError } from './sdk/errors.js';
import type { StorageOp } from './sdk/storage.js';
import { SEAL_KEYS } from './seal/seal-manager.js';

type Env = Readonly<Record<string, string | undefined>>;

const USAGE = `Usage: coffer operator migrate -config FILE

  Copies every entry from storage_source to storage_destination. Stop every server that
  uses either store first. The destination must be empty. The keyring and the seal
  configuration are copied last, so an interrupted migration leaves a destination that
  reads as not initialised (empty it and run again).

  -config FILE   HCL with storage_source "<type>" { ... } and storage_destination "<type>" { ... }
`;

/** Written last, in this order: until they exist the destination is "not initialized". */
const LAST_KEYS: readonly string[] = [BARRIER_KEYS.keyring, SEAL_KEYS.config];
const BATCH = 256;

/** Every key of a store, depth first, in list order. */
async function* walk(store: PhysicalBackend, prefix = ''): AsyncGenerator<string> {
  for (const child of await store.list(prefix)) {
    if (child.endsWith('/')) yield* walk(store, prefix + child);
    else yield prefix + child;
  }
}

export interface MigrationResult {
  readonly copied: number;
}

/** Copies source → destination; refuses a non-empty destination or a live HA leader. */
export async function migrateStore(
  source: PhysicalBackend,
  destination: PhysicalBackend,
): Promise<MigrationResult> {
  for (const [name, store] of [
    ['storage_source', source],
    ['storage_destination', destination],
  ] as const) {
    if (isHaBackend(store) && (await store.readLeader()) !== undefined) {
      throw new CofferError(
        'invalid_request',
        `${name}: an active Coffer node holds the HA lease on this store; stop every node first`,
        { field: name },
      );
    }
  }
  if ((await destination.list('')).length > 0) {
    throw new CofferError(
      'invalid_request',
      'storage_destination: is not empty; migrate only into an empty store',
      { field: 'storage_destination' },
    );
  }
  let copied = 0;
  let ops: StorageOp[] = [];
  const flush = async (): Promise<void> => {
    if (ops.length === 0) return;
    await destination.batch(ops);
    copied += ops.length;
    ops = [];
  };
  for await (const key of walk(source)) {
    if (LAST_KEYS.includes(key)) continue;
    const value = await source.get(key);
    if (value === undefined) continue; // deleted meanwhile: the store was not stopped
    ops.push({ op: 'put', key, value });
    if (ops.length >= BATCH) await flush();
  }
  await flush();
  for (const key of LAST_KEYS) {
    const value = await source.get(key);
    if (value === undefined) continue;
    await destination.put(key, value);
    copied += 1;
  }
  return { copied };
}

export async function runMigrate(argv: readonly string[], env: Env): Promise<number> {
  let file: string | undefined;
  for (let i = 0; i < argv.length; i += 1) {
    const m = /^--?config(?:=(.*))?$/.exec(argv[i]!);
    if (m !== null) {
      file = m[1] ?? argv[++i];
      continue;
    }
    if (/^--?h(elp)?$/.test(argv[i]!)) {
      process.stdout.write(USAGE);
      return 0;
    }
    process.stderr.write(`Error: unexpected argument "${argv[i]!}"\n${USAGE}`);
    return 2;
  }
  if (file === undefined) {
    process.stderr.write(`Error: -config FILE is required\n${USAGE}`);
    return 2;
  }
  let source: PhysicalBackend | undefined;
  let destination: PhysicalBackend | undefined;
  try {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      throw new CofferError('invalid_request', `-config: cannot read ${file}`, { field: 'config' });
    }
    const config = parseMigrationConfig(text, env, {
      baseDir: dirname(file),
    });
    source = openStorage(config.source);
    destination = openStorage(config.destination);
    const { copied } = await migrateStore(source, destination);
    process.stdout.write(
      `Success! All of the keys have been migrated (${copied} entries, ${config.source.type} → ${config.destination.type}).\n`,
    );
    return 0;
  } catch (err) {
    // SECURITY: CofferError messages never hold the connection URL; other errors are not shown.
    const message = isCofferError(err)
      ? err.message
      : err instanceof Error && 'code' in err && typeof err.code === 'string'
        ? `storage error ${err.code}`
        : 'the migration failed';
    process.stderr.write(`Error: ${message}\n`);
    return 1;
  } finally {
    await source?.close().catch(() => undefined);
    await destination?.close().catch(() => undefined);
  }
}
