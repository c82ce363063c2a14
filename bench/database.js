// Bench: dynamic PostgreSQL credentials issued and revoked per second through a Coffer server
// (HTTP → core → database engine → PostgreSQL), against the same CREATE ROLE + GRANT and
// DROP ROLE statements run directly over one pg connection in the same run: the baseline is
// what the database itself costs, so the ratio is what Coffer adds (HTTP, lease registration
// and write-ahead entries on storage, password generation).
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { startCoffer } from './lib/coffer.js';
import { isMainModule, num, printTable, writeResult } from './lib/report.js';

export const DEFAULTS = {
  /** Credentials per round (issued, then revoked). */
  creds: 300,
  /** Concurrent HTTP clients issuing credentials. */
  concurrency: 8,
  rounds: 3,
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

/** The database's own cost: the same statements, one connection, sequential (as Coffer runs them). */
async function baselineRound(client, count) {
  const names = Array.from({ length: count }, (_, i) => `${PREFIX}_b${i}`);
  const started = performance.now();
  for (const name of names) {
    const password = randomBytes(16).toString('hex');
    await client.query('BEGIN');
    await client.query(
      `CREATE ROLE ${pg.escapeIdentifier(name)} WITH LOGIN PASSWORD ${pg.escapeLiteral(password)} VALID UNTIL 'infinity'`,
    );
    await client.query(
      `GRANT SELECT ON ${pg.escapeIdentifier(TABLE)} TO ${pg.escapeIdentifier(name)}`,
    );
    await client.query('COMMIT');
  }
  const createMs = performance.now() - started;
  const revokeStart = performance.now();
  for (const name of names) {
    await client.query('BEGIN');
    await client.query(`REASSIGN OWNED BY ${pg.escapeIdentifier(name)} TO CURRENT_USER`);
    await client.query(`DROP OWNED BY ${pg.escapeIdentifier(name)}`);
    await client.query(`DROP ROLE ${pg.escapeIdentifier(name)}`);
    await client.query('COMMIT');
  }
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
    const rows = [];
    for (let r = 0; r < settings.rounds; r++) {
      const base = await baselineRound(client, settings.creds);
      const run = await cofferRound(coffer, client, settings.creds, settings.concurrency);
      rows.push({ base, run });
    }
    const med = (pick) => rows.map(pick).sort((a, b) => a - b)[Math.floor(rows.length / 2)];
    const result = {
      settings,
      cofferIssuedPerSecond: med((x) => x.run.createPerSecond),
      cofferRevokedPerSecond: med((x) => x.run.revokePerSecond),
      directCreatePerSecond: med((x) => x.base.createPerSecond),
      directDropPerSecond: med((x) => x.base.revokePerSecond),
    };
    result.issueRatio = result.cofferIssuedPerSecond / result.directCreatePerSecond;
    result.revokeRatio = result.cofferRevokedPerSecond / result.directDropPerSecond;
    printTable(
      `Dynamic PostgreSQL credentials: ${settings.creds} per round, ${settings.concurrency} clients, median of ${settings.rounds} rounds`,
      [
        ['what', 'l'],
        ['Coffer per s', 'r'],
        ['direct SQL per s', 'r'],
        ['ratio', 'r'],
      ],
      [
        [
          'issue (creds/app)',
          num(result.cofferIssuedPerSecond),
          num(result.directCreatePerSecond),
          `${num(result.issueRatio, 2)}x`,
        ],
        [
          'revoke (revoke-prefix)',
          num(result.cofferRevokedPerSecond),
          num(result.directDropPerSecond),
          `${num(result.revokeRatio, 2)}x`,
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

if (isMainModule(import.meta.url)) await runDatabaseBench();
