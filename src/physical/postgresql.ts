// The PostgreSQL physical backend: one table of (key COLLATE "C", value bytea), group commit,
// bounded retries across lost connections, and (with ha_enabled) the leader lease row whose
// fencing epoch every write transaction of the active node re-checks.
import pg from 'pg';
import { CofferError } from '../sdk/errors.js';
import type { StorageOp } from '../sdk/storage.js';
import type { FencedHaBackend, LeaderRecord, SnapshotBackend } from './physical.js';
import { openSnapshotFileWriter, readSnapshotPages } from './snapshot-file.js';
import { prefixUpperBound } from './sqlite.js';

export interface PostgresBackendOptions {
  /** libpq-style URL (postgres://user:password@host:port/db). Never logged. */
  readonly connectionUrl: string;
  /** The entries table; created if missing. Default "coffer_kv_store". */
  readonly table?: string | undefined;
  /** The leader lease table (HA); created if missing. Default "coffer_ha_locks". */
  readonly haTable?: string | undefined;
  /** Default true: concurrent writes share one transaction (one WAL flush). */
  readonly groupCommit?: boolean | undefined;
  /** Connections in the pool for reads and writes. Default 10. */
  readonly maxConnections?: number | undefined;
  /** Attempts for one statement across lost connections (>= 1). Default 4. */
  readonly maxAttempts?: number | undefined;
  /** Opening one connection gives up after this long. Default 2000. */
  readonly connectTimeoutMs?: number | undefined;
}

export interface PostgresBackend extends FencedHaBackend, SnapshotBackend {
  readonly table: string;
  stats(): { commits: number; writes: number; retries: number };
}

const DEFAULT_TABLE = 'coffer_kv_store';
const DEFAULT_HA_TABLE = 'coffer_ha_locks';
const LEADER_KEY = 'leader';
const NOTIFY_CHANNEL = 'coffer_ha';
const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/;
const BAD_KEY = /\p{Cs}|\0/u;
const LIST_PAGE = 500;
/** Rows per page when copying entries to or from a snapshot file. */
const SNAPSHOT_PAGE = 256;

/** Why a table name cannot be used, or undefined. Names are quoted, never interpolated raw. */
export function tableNameProblem(name: string): string | undefined {
  return TABLE_NAME.test(name)
    ? undefined
    : 'must be a table name of letters, digits and _ (optionally schema.table)';
}

function quoteTable(name: string): string {
  return name
    .split('.')
    .map((part) => `"${part}"`)
    .join('.');
}

/**
 * SECURITY: PostgreSQL text cannot hold NUL and a lone surrogate would be re-encoded, so two
 * different JS keys could share a row or fail half-way; refuse them up front.
 */
function checkKey(key: string): void {
  if (typeof key !== 'string' || BAD_KEY.test(key)) {
    throw new CofferError('invalid_request', 'storage key is not a well-formed string', {
      field: 'key',
    });
  }
}

/** Errors after which the same statement may succeed on a fresh connection. */
export function isConnectionError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    // 08: connection exception; 57P01-03: admin shutdown, crash shutdown, cannot connect now.
    if (code.startsWith('08') || /^57P0[123]$/.test(code)) return true;
    if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH'].includes(code)) {
      return true;
    }
  }
  const message = (err as { message?: unknown }).message;
  return (
    typeof message === 'string' &&
    /Connection terminated|connection timeout|Client has encountered a connection error|Connection ended/i.test(
      message,
    )
  );
}

/** A write refused because this node is not (or no longer) the fenced leader. */
function notActive(why: string): CofferError {
  return new CofferError('not_active', `postgresql storage: ${why}`);
}

interface PendingWrite {
  readonly ops: readonly StorageOp[];
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

/** Fence states: 'open' before HA starts (init, migrate); 'standby' refuses every write. */
type Fence = { readonly epoch: string } | 'open' | 'standby';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class PostgresBackendImpl implements PostgresBackend {
  readonly type = 'postgresql';
  readonly table: string;
  readonly #haTable: string;
  readonly #pool: pg.Pool;
  /** Separate connections for the lease, so a busy write pool never delays a renewal. */
  readonly #haPool: pg.Pool;
  readonly #groupCommit: boolean;
  readonly #maxAttempts: number;
  readonly #connectionUrl: string;
  #ready: Promise<void>;
  #queue: PendingWrite[] = [];
  #flushing: Promise<void> | undefined;
  #closed = false;
  #fence: Fence = 'open';
  #commits = 0;
  #writes = 0;
  #retries = 0;
  #listener: pg.Client | undefined;
  #listenerStop = false;
  readonly #notifyHandlers = new Set<(payload: string) => void>();

  constructor(options: PostgresBackendOptions) {
    this.table = options.table ?? DEFAULT_TABLE;
    this.#haTable = options.haTable ?? DEFAULT_HA_TABLE;
    for (const [field, name] of [
      ['table', this.table],
      ['ha_table', this.#haTable],
    ] as const) {
      const problem = tableNameProblem(name);
      if (problem !== undefined) {
        throw new CofferError('invalid_request', `storage.${field}: ${problem}`, { field });
      }
    }
    this.#groupCommit = options.groupCommit ?? true;
    this.#maxAttempts = Math.max(1, Math.trunc(options.maxAttempts ?? 4));
    this.#connectionUrl = options.connectionUrl;
    const common = {
      connectionString: options.connectionUrl,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 2000,
      // A silently dropped link must not hang a statement forever.
      query_timeout: 15_000,
      keepAlive: true,
      application_name: 'coffer',
    };
    this.#pool = new pg.Pool({ ...common, max: options.maxConnections ?? 10 });
    this.#haPool = new pg.Pool({ ...common, max: 2, query_timeout: 2000 });
    // An idle connection that dies emits 'error' on the pool; the next query reconnects.
    // A connection that dies while checked out emits 'error' on the client itself.
    for (const pool of [this.#pool, this.#haPool]) {
      pool.on('error', () => undefined);
      pool.on('connect', (client) => {
        client.on('error', () => undefined);
      });
    }
    this.#ready = this.#prepare();
    this.#ready.catch(() => undefined);
  }

  async #prepare(): Promise<void> {
    const t = quoteTable(this.table);
    const h = quoteTable(this.#haTable);
    const client = await this.#pool.connect();
    try {
      // Several nodes start at once: CREATE TABLE IF NOT EXISTS races in the catalog, so
      // serialise it under a transaction-scoped advisory lock.
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(7261536131)');
      await client.query(`CREATE TABLE IF NOT EXISTS ${t} (
        key text COLLATE "C" PRIMARY KEY,
        value bytea NOT NULL)`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${h} (
        ha_key text COLLATE "C" PRIMARY KEY,
        holder text NOT NULL,
        address text NOT NULL,
        epoch bigint NOT NULL,
        valid_until timestamptz NOT NULL,
        acquired_at timestamptz NOT NULL)`);
      await client.query('COMMIT');
      client.release();
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release(isConnectionError(err) ? (err as Error) : undefined);
      throw err;
    }
  }

  /** Opening errors say which server and what failed, never the URL (it may hold a password). */
  async #whenReady(): Promise<void> {
    try {
      await this.#ready;
    } catch (cause) {
      // Retry the preparation on the next call: the database may have come up meanwhile.
      this.#ready = this.#prepare();
      this.#ready.catch(() => undefined);
      throw new CofferError('internal', 'postgresql storage: cannot prepare the tables', {
        cause,
      });
    }
  }

  /** One statement with bounded retries on connection loss (exponential backoff, ~1.5 s max). */
  async #run<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params: unknown[] = [],
    pool: pg.Pool = this.#pool,
  ): Promise<pg.QueryResult<R>> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await pool.query<R>(sql, params);
      } catch (err) {
        if (!isConnectionError(err) || attempt >= this.#maxAttempts || this.#closed) throw err;
        this.#retries += 1;
        await sleep(100 * 2 ** (attempt - 1));
      }
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new CofferError('internal', 'the PostgreSQL storage is closed');
  }

  stats(): { commits: number; writes: number; retries: number } {
    return { commits: this.#commits, writes: this.#writes, retries: this.#retries };
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    this.#checkOpen();
    checkKey(key);
    await this.#whenReady();
    let rows: { value: Buffer }[];
    try {
      ({ rows } = await this.#run<{ value: Buffer }>(
        `SELECT value FROM ${quoteTable(this.table)} WHERE key = $1`,
        [key],
      ));
    } catch (cause) {
      throw readFailed(cause);
    }
    const value = rows[0]?.value;
    return value === undefined
      ? undefined
      : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }

  put(key: string, value: Uint8Array): Promise<void> {
    return this.batch([{ op: 'put', key, value }]);
  }

  delete(key: string): Promise<void> {
    return this.batch([{ op: 'delete', key }]);
  }

  /**
   * Direct children of `prefix`: pages of a range scan over [prefix, upperBound(prefix)) in
   * byte (COLLATE "C") order, jumping over each folder's subtree, as the SQLite backend does.
   */
  async list(prefix: string): Promise<string[]> {
    this.#checkOpen();
    checkKey(prefix);
    await this.#whenReady();
    const upper = prefixUpperBound(prefix) ?? null;
    const children = new Set<string>();
    let from = prefix;
    let after: string | null = null;
    const sql = `SELECT key FROM ${quoteTable(this.table)}
      WHERE key >= $1 AND ($2::text IS NULL OR key > $2) AND ($3::text IS NULL OR key < $3)
      ORDER BY key LIMIT ${LIST_PAGE}`;
    try {
      // Terminates: each round moves `from` past a folder or `after` past a full page.
      for (;;) {
        const page: pg.QueryResult<{ key: string }> = await this.#run<{ key: string }>(sql, [
          from,
          after,
          upper,
        ]);
        const rows = page.rows;
        let jumped = false;
        for (const { key } of rows) {
          const rest = key.slice(prefix.length);
          const slash = rest.indexOf('/');
          if (slash === -1) {
            if (rest !== '') children.add(rest);
            continue;
          }
          children.add(rest.slice(0, slash + 1));
          from = `${prefix}${rest.slice(0, slash)}0`;
          after = null;
          jumped = true;
          break;
        }
        if (jumped) continue;
        if (rows.length < LIST_PAGE) break;
        after = rows[rows.length - 1]!.key;
      }
    } catch (cause) {
      throw readFailed(cause);
    }
    return [...children].sort();
  }

  batch(ops: readonly StorageOp[]): Promise<void> {
    let copied: StorageOp[];
    try {
      this.#checkOpen();
      copied = ops.map((op) => {
        checkKey(op.key);
        if (op.op === 'delete') return { op: 'delete', key: op.key };
        if (!(op.value instanceof Uint8Array)) {
          throw new CofferError('internal', `storage value for ${op.key} is not bytes`);
        }
        // Copied now: the caller may reuse its array before the commit.
        return { op: 'put', key: op.key, value: Buffer.from(op.value) };
      });
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : writeFailed(err));
    }
    if (copied.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ ops: copied, resolve, reject });
      this.#kick();
    });
  }

  /** Starts a flush unless one runs; writes queued meanwhile share the next commit. */
  #kick(): void {
    if (this.#flushing !== undefined) return;
    this.#flushing = (async () => {
      try {
        await new Promise<void>((resolve) => setImmediate(resolve));
        while (this.#queue.length > 0) {
          const group = this.#groupCommit ? this.#queue.splice(0) : this.#queue.splice(0, 1);
          await this.#flush(group);
        }
      } finally {
        this.#flushing = undefined;
      }
    })();
  }

  /**
   * Commits a group in one transaction; if it fails for a reason other than fencing, each
   * caller's ops are retried alone so exactly the failing callers reject.
   */
  async #flush(group: PendingWrite[]): Promise<void> {
    try {
      await this.#commit(group.flatMap((w) => w.ops));
      for (const write of group) write.resolve();
      return;
    } catch (err) {
      if (group.length === 1 || (err instanceof CofferError && err.code === 'not_active')) {
        for (const write of group) write.reject(asWriteError(err));
        return;
      }
    }
    for (const write of group) {
      try {
        await this.#commit(write.ops);
        write.resolve();
      } catch (err) {
        write.reject(asWriteError(err));
      }
    }
  }

  /** One transaction, retried whole on connection loss (puts and deletes are idempotent). */
  async #commit(ops: readonly StorageOp[]): Promise<void> {
    await this.#whenReady();
    // The last op on a key wins: fold to one final state per key, then two statements.
    const final = new Map<string, Buffer | undefined>();
    for (const op of ops) final.set(op.key, op.op === 'put' ? (op.value as Buffer) : undefined);
    const putKeys: string[] = [];
    const putValues: Buffer[] = [];
    const deleteKeys: string[] = [];
    for (const [key, value] of final) {
      if (value === undefined) deleteKeys.push(key);
      else {
        putKeys.push(key);
        putValues.push(value);
      }
    }
    const t = quoteTable(this.table);
    for (let attempt = 1; ; attempt += 1) {
      const fence = this.#fence;
      if (fence === 'standby')
        throw notActive('this node is a standby; writes go to the active node');
      let client: pg.PoolClient | undefined;
      try {
        client = await this.#pool.connect();
        await client.query('BEGIN');
        await this.#checkFence(client, fence);
        if (deleteKeys.length > 0) {
          await client.query(`DELETE FROM ${t} WHERE key = ANY($1::text[])`, [deleteKeys]);
        }
        if (putKeys.length > 0) {
          await client.query(
            `INSERT INTO ${t} (key, value) SELECT * FROM unnest($1::text[], $2::bytea[])
             ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
            [putKeys, putValues],
          );
        }
        await client.query('COMMIT');
        client.release();
        this.#commits += 1;
        this.#writes += ops.length;
        return;
      } catch (err) {
        if (client !== undefined) {
          // A broken connection must not go back to the pool.
          const broken = isConnectionError(err);
          if (!broken) await client.query('ROLLBACK').catch(() => undefined);
          client.release(broken ? (err as Error) : undefined);
        }
        if (err instanceof CofferError) throw err;
        if (!isConnectionError(err) || attempt >= this.#maxAttempts || this.#closed) throw err;
        this.#retries += 1;
        await sleep(100 * 2 ** (attempt - 1));
      }
    }
  }

  /**
   * SECURITY: the fencing check, first in every write transaction. FOR SHARE holds the lease
   * row until COMMIT, so a new leader's epoch bump waits for this transaction, and a
   * transaction that starts after the bump finds no row with our epoch: a deposed leader can
   * never commit. Rolls back and throws not_active when the epoch moved on.
   */
  async #checkFence(client: pg.PoolClient, fence: Exclude<Fence, 'standby'>): Promise<void> {
    if (fence === 'open') return;
    const held = await client.query(
      `SELECT 1 FROM ${quoteTable(this.#haTable)} WHERE ha_key = $1 AND epoch = $2 FOR SHARE`,
      [LEADER_KEY, fence.epoch],
    );
    if (held.rowCount !== 1) {
      await client.query('ROLLBACK');
      this.#fence = 'standby';
      throw notActive('this node lost leadership (fencing epoch changed); write refused');
    }
  }

  // ---- Snapshots (ADR 0006): entries copied as stored, never decrypted ----

  /**
   * One consistent read: a REPEATABLE READ, READ ONLY transaction sees the table as of its
   * first statement (so every write committed before the call, and none after it), paged by
   * key into the snapshot file. Any node may take it (it writes nothing); on failure the
   * partial file is removed.
   */
  async saveSnapshot(file: string): Promise<void> {
    this.#checkOpen();
    await this.#whenReady();
    const writer = openSnapshotFileWriter(file);
    let client: pg.PoolClient | undefined;
    try {
      client = await this.#pool.connect();
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const sql = `SELECT key, value FROM ${quoteTable(this.table)}
        WHERE $1::text IS NULL OR key > $1 ORDER BY key LIMIT ${SNAPSHOT_PAGE}`;
      let after: string | null = null;
      // Terminates: each page moves `after` forward over a finite table.
      for (;;) {
        const page: pg.QueryResult<{ key: string; value: Buffer }> = await client.query<{
          key: string;
          value: Buffer;
        }>(sql, [after]);
        writer.add(page.rows.map((row) => [row.key, row.value] as const));
        if (page.rows.length < SNAPSHOT_PAGE) break;
        after = page.rows[page.rows.length - 1]!.key;
      }
      await client.query('COMMIT');
      client.release();
      client = undefined;
      writer.finish();
    } catch (cause) {
      writer.abandon();
      if (client !== undefined) {
        const broken = isConnectionError(cause);
        if (!broken) await client.query('ROLLBACK').catch(() => undefined);
        client.release(broken ? (cause as Error) : undefined);
      }
      throw new CofferError('internal', 'postgresql storage: the snapshot read failed', {
        cause,
      });
    }
  }

  /**
   * Replaces every entry with the snapshot's in one transaction: emptied, then filled page by
   * page, committed only if every row went in (a bad file or key changes nothing). Under HA
   * only the active node restores, with its fencing epoch checked like any write.
   */
  async restoreSnapshot(file: string): Promise<void> {
    this.#checkOpen();
    await this.#whenReady();
    // Writes already queued commit first, so none lands inside (or is lost to) the restore.
    while (this.#flushing !== undefined) await this.#flushing.catch(() => undefined);
    const fence = this.#fence;
    if (fence === 'standby')
      throw notActive('this node is a standby; writes go to the active node');
    const pages = readSnapshotPages(file, SNAPSHOT_PAGE);
    // The first page also checks the file, before any connection is taken.
    let next = pages.next();
    const t = quoteTable(this.table);
    let client: pg.PoolClient | undefined;
    try {
      client = await this.#pool.connect();
      await client.query('BEGIN');
      await this.#checkFence(client, fence);
      await client.query(`DELETE FROM ${t}`);
      for (; !next.done; next = pages.next()) {
        for (const [key] of next.value) checkKey(key);
        await client.query(
          `INSERT INTO ${t} (key, value) SELECT * FROM unnest($1::text[], $2::bytea[])`,
          [next.value.map(([key]) => key), next.value.map(([, value]) => Buffer.from(value))],
        );
      }
      await client.query('COMMIT');
      client.release();
      this.#commits += 1;
    } catch (cause) {
      pages.return();
      if (client !== undefined) {
        const broken = isConnectionError(cause);
        if (!broken) await client.query('ROLLBACK').catch(() => undefined);
        client.release(broken ? (cause as Error) : undefined);
      }
      if (cause instanceof CofferError) throw cause;
      throw writeFailed(cause);
    }
  }

  // ---- HA: the leader lease and its fencing epoch ----

  setFence(fence: { readonly epoch: string } | 'standby' | 'open'): void {
    this.#fence = typeof fence === 'string' ? fence : { epoch: fence.epoch };
  }

  async tryAcquireLeadership(
    holder: string,
    address: string,
    ttlMs: number,
  ): Promise<string | undefined> {
    this.#checkOpen();
    await this.#whenReady();
    const h = quoteTable(this.#haTable);
    // The database clock decides expiry, so node clocks may disagree. The epoch only grows.
    const { rows } = await this.#run<{ epoch: string }>(
      `INSERT INTO ${h} AS l (ha_key, holder, address, epoch, valid_until, acquired_at)
       VALUES ($1, $2, $3, 1, clock_timestamp() + $4 * interval '1 millisecond', clock_timestamp())
       ON CONFLICT (ha_key) DO UPDATE SET holder = excluded.holder, address = excluded.address,
         epoch = l.epoch + 1, valid_until = excluded.valid_until, acquired_at = excluded.acquired_at
       WHERE l.valid_until < clock_timestamp()
       RETURNING epoch::text AS epoch`,
      [LEADER_KEY, holder, address, ttlMs],
      this.#haPool,
    );
    return rows[0]?.epoch;
  }

  async renewLeadership(holder: string, epoch: string, ttlMs: number): Promise<boolean> {
    this.#checkOpen();
    const { rowCount } = await this.#haPool.query(
      `UPDATE ${quoteTable(this.#haTable)}
       SET valid_until = clock_timestamp() + $4 * interval '1 millisecond'
       WHERE ha_key = $1 AND holder = $2 AND epoch = $3`,
      [LEADER_KEY, holder, epoch, ttlMs],
    );
    return rowCount === 1;
  }

  async releaseLeadership(holder: string, epoch: string): Promise<void> {
    if (this.#closed) return;
    await this.#haPool.query(
      `UPDATE ${quoteTable(this.#haTable)} SET valid_until = '-infinity'
       WHERE ha_key = $1 AND holder = $2 AND epoch = $3`,
      [LEADER_KEY, holder, epoch],
    );
  }

  async readLeader(): Promise<LeaderRecord | undefined> {
    this.#checkOpen();
    await this.#whenReady();
    const { rows } = await this.#run<{
      holder: string;
      address: string;
      epoch: string;
      live: boolean;
      acquired_at: Date;
    }>(
      `SELECT holder, address, epoch::text AS epoch, valid_until >= clock_timestamp() AS live,
         acquired_at FROM ${quoteTable(this.#haTable)} WHERE ha_key = $1`,
      [LEADER_KEY],
      this.#haPool,
    );
    const row = rows[0];
    if (row === undefined || !row.live) return undefined;
    return {
      holder: row.holder,
      address: row.address,
      epoch: row.epoch,
      acquiredAt: row.acquired_at.getTime(),
    };
  }

  async notify(payload: string): Promise<void> {
    if (this.#closed) return;
    await this.#haPool.query('SELECT pg_notify($1, $2)', [NOTIFY_CHANNEL, payload]);
  }

  /** LISTEN on a dedicated connection, reconnecting (every 500 ms) after it drops. */
  onNotify(handler: (payload: string) => void): () => void {
    this.#notifyHandlers.add(handler);
    if (this.#listener === undefined && !this.#listenerStop) void this.#listen();
    return () => this.#notifyHandlers.delete(handler);
  }

  async #listen(): Promise<void> {
    while (!this.#closed && !this.#listenerStop) {
      const client = new pg.Client({
        connectionString: this.#connectionUrl,
        connectionTimeoutMillis: 2000,
        keepAlive: true,
      });
      this.#listener = client;
      const ended = new Promise<void>((resolve) => {
        client.once('end', resolve);
        client.once('error', () => {
          resolve();
        });
      });
      client.on('notification', (msg) => {
        for (const handler of this.#notifyHandlers) handler(msg.payload ?? '');
      });
      try {
        await client.connect();
        await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
        await ended;
      } catch {
        // Reconnect below.
      }
      await client.end().catch(() => undefined);
      if (!this.#closed) await sleep(500);
    }
    this.#listener = undefined;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // Finish writes already queued, then refuse new ones.
    while (this.#flushing !== undefined) await this.#flushing.catch(() => undefined);
    this.#closed = true;
    this.#listenerStop = true;
    await this.#listener?.end().catch(() => undefined);
    await Promise.all([this.#pool.end(), this.#haPool.end()]).catch(() => undefined);
  }
}

function readFailed(cause: unknown): CofferError {
  if (cause instanceof CofferError) return cause;
  return new CofferError('internal', 'postgresql storage: the read failed', { cause });
}

function writeFailed(cause: unknown): CofferError {
  return new CofferError('internal', 'postgresql storage: the write transaction failed', {
    cause,
  });
}

function asWriteError(err: unknown): Error {
  return err instanceof CofferError ? err : writeFailed(err);
}

/** Opens a pool to PostgreSQL; the tables are created (if missing) before the first call. */
export function openPostgresBackend(options: PostgresBackendOptions): PostgresBackend {
  return new PostgresBackendImpl(options);
}
