// Bench: dynamic PostgreSQL credentials issued and revoked per second through a Coffer server
// (HTTP → core → database engine → PostgreSQL), against the same statements run directly in
// the same run: the baseline is what the database itself costs, so the ratio is what Coffer
// adds (HTTP, lease registration and write-ahead entries on storage, password generation).
// Fair by construction: both sides use `concurrency` clients over `concurrency` database
// connections, both run role DDL one group at a time (as the engine must: PostgreSQL fails
// concurrent GRANTs and role drops on one object), the revoke baseline does the engine's whole
// default revocation (existence check, ending sessions before and after, REASSIGN/DROP OWNED,
// DROP ROLE), and the order alternates per round (baseline first, then Coffer first). Ratios
// are per round, reported as the median with the min-max over rounds.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { startCoffer } from './lib/coffer.js';
import { isMainModule, num, printTable, writeResult } from './lib/report.js';
import { median, ratioText } from './lib/rounds.js';

export const DEFAULTS = {
  /** Credentials per round (issued, then revoked). */
  creds: 300,
  /** Concurrent clients on each side (and database connections: max_open_connections). */
  concurrency: 4,
  rounds: 4,
};

const PG_URL = process.env.TEST_PG_URL || 'postgresql://postgres@127.0.0.1:5432/test';
const PREFIX = `cbench_${randomBytes(3).toString('hex')}`;
const TABLE = `${PREFIX}_t`;
const ADMIN = `${PREFIX}_admin`;

async function forEachLimit(count, limit, fn) {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await fn(i);
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

async function vault(url, token, method, path, body) {
  const res = await fetch(`${url}/v1/${path}`, {
    method,
    headers: { 'x-vault-token': token, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text === '' ? {} : JSON.parse(text);
}

/** One group of statements at a time, like the engine's PostgreSQL driver. */
function serialQueue() {
  let queue = Promise.resolve();
  return (fn) => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => undefined);
    return next;
  };
}

async function inTransaction(client, statements) {
  await client.query('BEGIN');
  try {
    for (const statement of statements) await client.query(statement);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * The database's own cost: the statements the engine runs for each credential, from the same
 * number of concurrent clients over a pool of as many connections, DDL serialised as the engine
 * does it.
 */
async function baselineRound(pool, count, concurrency) {
  const names = Array.from({ length: count }, (_, i) => `${PREFIX}_b${i}`);
  const serial = serialQueue();
  const withClient = async (fn) => {
    const client = await pool.connect();
    try {
      return await fn(client);
    } finally {
      client.release();
    }
  };
  const started = performance.now();
  await forEachLimit(count, concurrency, async (i) => {
    const name = pg.escapeIdentifier(names[i]);
    const password = randomBytes(16).toString('hex');
    await serial(() =>
      withClient((client) =>
        inTransaction(client, [
          `CREATE ROLE ${name} WITH LOGIN PASSWORD ${pg.escapeLiteral(password)} VALID UNTIL 'infinity'`,
          `GRANT SELECT ON ${pg.escapeIdentifier(TABLE)} TO ${name}`,
        ]),
      ),
    );
  });
  const createMs = performance.now() - started;
  const endSessions = (client, name) =>
    client.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()',
      [name],
    );
  const revokeStart = performance.now();
  await forEachLimit(count, concurrency, async (i) => {
    const role = pg.escapeIdentifier(names[i]);
    await serial(() =>
      withClient(async (client) => {
        const found = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [names[i]]);
        if (found.rowCount === 0) throw new Error(`baseline role ${names[i]} is missing`);
        await endSessions(client, names[i]);
        await inTransaction(client, [
          `REASSIGN OWNED BY ${role} TO CURRENT_USER`,
          `DROP OWNED BY ${role}`,
          `DROP ROLE IF EXISTS ${role}`,
        ]);
        await endSessions(client, names[i]);
      }),
    );
  });
  return {
    createPerSecond: (count * 1000) / createMs,
    revokePerSecond: (count * 1000) / (performance.now() - revokeStart),
  };
}

async function cofferRound(coffer, client, count, concurrency) {
  const started = performance.now();
  await forEachLimit(count, concurrency, async () => {
    const body = await vault(coffer.url, coffer.rootToken, 'GET', 'database/creds/app');
    if (typeof body.lease_id !== 'string' || body.lease_id === '') throw new Error('no lease');
  });
  const createMs = performance.now() - started;
  const revokeStart = performance.now();
  await vault(coffer.url, coffer.rootToken, 'PUT', 'sys/leases/revoke-prefix/database/creds/app');
  const revokeMs = performance.now() - revokeStart;
  const left = await client.query('SELECT count(*)::int AS n FROM pg_roles WHERE rolname LIKE $1', [
    `${PREFIX}\\_c\\_%`,
  ]);
  if (left.rows[0].n !== 0)
    throw new Error(`${left.rows[0].n} generated roles survived revocation`);
  return { createPerSecond: (count * 1000) / createMs, revokePerSecond: (count * 1000) / revokeMs };
}

export async function runDatabaseBench(options = {}) {
  const settings = { ...DEFAULTS, ...options };
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  const adminPassword = randomBytes(16).toString('hex');
  await client.query(`CREATE TABLE ${pg.escapeIdentifier(TABLE)} (id int)`);
  await client.query(
    `CREATE ROLE ${pg.escapeIdentifier(ADMIN)} WITH LOGIN SUPERUSER PASSWORD ${pg.escapeLiteral(adminPassword)}`,
  );
  const coffer = await startCoffer({ storage: 'inmem' });
  try {
    const { host, port, pathname } = new URL(PG_URL);
    await vault(coffer.url, coffer.rootToken, 'POST', 'sys/mounts/database', { type: 'database' });
    await vault(coffer.url, coffer.rootToken, 'POST', 'database/config/pg', {
      plugin_name: 'postgresql-database-plugin',
      connection_url: `postgresql://{{username}}:{{password}}@${host}${port === '' ? ':5432' : ''}${pathname}`,
      username: ADMIN,
      password: adminPassword,
      allowed_roles: '*',
      max_open_connections: settings.concurrency,
      username_template: `{{ printf "${PREFIX}_c_%s" (random 20) | lowercase }}`,
    });
    await vault(coffer.url, coffer.rootToken, 'POST', 'database/roles/app', {
      db_name: 'pg',
      creation_statements: [
        `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`,
        `GRANT SELECT ON ${TABLE} TO "{{name}}";`,
      ],
      default_ttl: '1h',
    });
    const pool = new pg.Pool({ connectionString: PG_URL, max: settings.concurrency });
    const rows = [];
    try {
      for (let r = 0; r < settings.rounds; r++) {
        // Alternate the order so neither side always runs first.
        let base;
        let run;
        if (r % 2 === 0) {
          base = await baselineRound(pool, settings.creds, settings.concurrency);
          run = await cofferRound(coffer, client, settings.creds, settings.concurrency);
        } else {
          run = await cofferRound(coffer, client, settings.creds, settings.concurrency);
          base = await baselineRound(pool, settings.creds, settings.concurrency);
        }
        rows.push({ base, run });
      }
    } finally {
      await pool.end();
    }
    const per = (pick) => rows.map(pick);
    const ratioRow = (ratios) => ({ ratio: median(ratios), ratioByRound: ratios });
    const issue = ratioRow(per((x) => x.run.createPerSecond / x.base.createPerSecond));
    const revoke = ratioRow(per((x) => x.run.revokePerSecond / x.base.revokePerSecond));
    const result = {
      settings,
      cofferIssuedPerSecond: median(per((x) => x.run.createPerSecond)),
      cofferRevokedPerSecond: median(per((x) => x.run.revokePerSecond)),
      directCreatePerSecond: median(per((x) => x.base.createPerSecond)),
      directDropPerSecond: median(per((x) => x.base.revokePerSecond)),
      issueRatio: issue.ratio,
      issueRatioByRound: issue.ratioByRound,
      revokeRatio: revoke.ratio,
      revokeRatioByRound: revoke.ratioByRound,
    };
    printTable(
      `Dynamic PostgreSQL credentials: ${settings.creds} per round, ${settings.concurrency} clients on each side, ${settings.rounds} rounds in alternating order`,
      [
        ['what', 'l'],
        ['Coffer per s', 'r'],
        ['direct SQL per s', 'r'],
        ['ratio (min-max over rounds)', 'r'],
      ],
      [
        [
          'issue (creds/app)',
          num(result.cofferIssuedPerSecond),
          num(result.directCreatePerSecond),
          ratioText(issue),
        ],
        [
          'revoke (revoke-prefix)',
          num(result.cofferRevokedPerSecond),
          num(result.directDropPerSecond),
          ratioText(revoke),
        ],
      ],
    );
    writeResult('database', result);
    return result;
  } finally {
    await coffer.close();
    const leftovers = await client.query(
      'SELECT rolname FROM pg_roles WHERE rolname LIKE $1 AND rolname <> $2',
      [`${PREFIX}%`, ADMIN],
    );
    for (const row of leftovers.rows) {
      await client
        .query(`DROP OWNED BY ${pg.escapeIdentifier(row.rolname)}`)
        .catch(() => undefined);
      await client.query(`DROP ROLE ${pg.escapeIdentifier(row.rolname)}`).catch(() => undefined);
    }
    await client.query(`DROP TABLE IF EXISTS ${pg.escapeIdentifier(TABLE)}`);
    await client.query(`DROP OWNED BY ${pg.escapeIdentifier(ADMIN)}`).catch(() => undefined);
    await client.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(ADMIN)}`);
    await client.end();
  }
}

if (isMainModule(import.meta.url)) {
  const arg = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const options = {};
  for (const name of ['creds', 'concurrency', 'rounds']) {
    if (arg(name) !== undefined) options[name] = Number(arg(name));
  }
  await runDatabaseBench(options);
}
