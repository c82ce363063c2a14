// Bench: logins per second over HTTP through AppRole and userpass (argon2id at the parameters
// src/engines/auth/userpass/hasher.ts sets), against a token lookup-self on the same in-process
// server as the baseline, in interleaved rounds of the same run.
import { startCoffer, importDist } from './coffer.js';
import { runLoadInWorker } from './load.js';
import { assertNoErrors, isMainModule, num, pct, printTable, writeResult } from './report.js';
import { median, ratioText } from './rounds.js';

/**
 * 4 variants x 3 rounds x (0.3 s warm-up + 1.5 s) plus 0.2 s more first warm-ups: about 23 s,
 * plus a second of setup (the users' password hashes).
 */
export const DEFAULTS = {
  connections: 16,
  rounds: 3,
  firstWarmupMs: 500,
  warmupMs: 300,
  durationMs: 1_500,
  /** Users (one load worker each) in the many-users userpass variant. */
  users: 4,
};

const USERPASS = 'bench-userpass';
const APPROLE = 'bench-approle';
const PASSWORD = 'bench password, long enough to be a real one';

/** A request through the Vault API that must succeed; returns the parsed body (if any). */
async function call(server, method, path, body) {
  const res = await fetch(`${server.url}/v1/${path}`, {
    method,
    headers: { 'x-vault-token': server.rootToken, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
  return text === '' ? undefined : JSON.parse(text);
}

/**
 * Enables both auth methods as an operator would, with the per-address login rate limit off
 * (every request of the bench comes from 127.0.0.1; the bench measures the login, not the
 * limiter), and makes `users` userpass users plus one AppRole role with an unlimited secret ID.
 */
async function setUp(server, users) {
  const rateOff = { login_rate_per_second: '0' };
  await call(server, 'POST', `sys/auth/${USERPASS}`, { type: 'userpass', options: rateOff });
  await call(server, 'POST', `sys/auth/${APPROLE}`, { type: 'approle', options: rateOff });
  await call(server, 'PUT', 'sys/policies/acl/bench-login', {
    policy: 'path "secret/data/bench" {\n  capabilities = ["read"]\n}\n',
  });
  const names = Array.from({ length: users }, (_, i) => `bench-user-${i}`);
  for (const name of names) {
    await call(server, 'POST', `auth/${USERPASS}/users/${name}`, {
      password: PASSWORD,
      token_policies: ['bench-login'],
      token_ttl: '1h',
    });
  }
  await call(server, 'POST', `auth/${APPROLE}/role/bench-role`, {
    token_policies: ['bench-login'],
    token_ttl: '1h',
    secret_id_num_uses: 0,
  });
  const roleId = (await call(server, 'GET', `auth/${APPROLE}/role/bench-role/role-id`)).data
    .role_id;
  const secretId = (await call(server, 'POST', `auth/${APPROLE}/role/bench-role/secret-id`, {}))
    .data.secret_id;
  // One login each by hand first: a misconfiguration fails here, with its message.
  await call(server, 'POST', `auth/${USERPASS}/login/${names[0]}`, { password: PASSWORD });
  await call(server, 'POST', `auth/${APPROLE}/login`, { role_id: roleId, secret_id: secretId });
  return { names, roleId, secretId };
}

/**
 * Like rounds.js's runRounds, except that a variant may be several loads run at once (one
 * worker each, their throughputs added): userpass logins of one user are queued one at a time
 * by design (the lockout check), so only several users show what the server can do.
 */
async function runLoginRounds(variants, settings) {
  const results = variants.map(() => []);
  for (let round = 0; round < settings.rounds; round++) {
    const order = variants.map((_, v) => v);
    if (round % 2 === 1) order.reverse();
    for (const v of order) {
      const loads = variants[v].loads;
      const warmupMs = round === 0 ? settings.firstWarmupMs : settings.warmupMs;
      const parts = await Promise.all(
        loads.map((load) =>
          runLoadInWorker({
            ...load,
            connections: Math.max(1, Math.floor(settings.connections / loads.length)),
            warmupMs,
            durationMs: settings.durationMs,
          }),
        ),
      );
      parts.forEach((part) =>
        assertNoErrors(`logins (${variants[v].name}, round ${round + 1})`, part),
      );
      results[v].push({
        perSecond: parts.reduce((sum, p) => sum + p.perSecond, 0),
        requests: parts.reduce((sum, p) => sum + p.requests, 0),
        p50: median(parts.map((p) => p.latencyMs.p50)),
        p99: Math.max(...parts.map((p) => p.latencyMs.p99)),
        serverBusy: median(parts.map((p) => p.serverBusy)),
        clientBusy: parts.reduce((sum, p) => sum + p.clientBusy, 0),
      });
    }
  }
  const baseline = results[0];
  return variants.map((variant, v) => {
    const runs = results[v];
    const ratioByRound = runs.map((r, round) => r.perSecond / baseline[round].perSecond);
    return {
      name: variant.name,
      perSecond:
        runs.reduce((sum, r) => sum + r.requests, 0) /
        ((settings.rounds * settings.durationMs) / 1000),
      perSecondByRound: runs.map((r) => r.perSecond),
      latencyMs: { p50: median(runs.map((r) => r.p50)), p99: median(runs.map((r) => r.p99)) },
      serverBusy: median(runs.map((r) => r.serverBusy)),
      clientBusy: median(runs.map((r) => r.clientBusy)),
      ratio: median(ratioByRound),
      ratioByRound,
      rounds: runs,
    };
  });
}

/**
 * Measures a token lookup-self (the baseline: the same HTTP pipeline and token check, no
 * login), AppRole logins, userpass logins of one user and userpass logins of several users in
 * parallel, against one in-memory Coffer; prints the table, writes bench/results/logins.json
 * and returns it.
 * @param {Partial<typeof DEFAULTS>} [options]
 */
export async function runLoginsBench(options = {}) {
  const settings = { ...DEFAULTS, ...options };
  const { ARGON2_PARAMS } = await importDist('engines/auth/userpass/hasher.js');
  const kdf =
    `argon2id m=${ARGON2_PARAMS.memoryCost} KiB, t=${ARGON2_PARAMS.timeCost}, ` +
    `p=${ARGON2_PARAMS.parallelism}`;
  const server = await startCoffer({ storage: 'inmem' });
  try {
    const { names, roleId, secretId } = await setUp(server, settings.users);
    const json = { 'content-type': 'application/json' };
    const userpass = (name) => ({
      url: server.url,
      method: 'POST',
      path: `/v1/auth/${USERPASS}/login/${name}`,
      headers: json,
      body: JSON.stringify({ password: PASSWORD }),
    });
    const variants = [
      {
        name: 'token lookup-self (baseline)',
        loads: [
          {
            url: server.url,
            method: 'GET',
            path: '/v1/auth/token/lookup-self',
            headers: { 'x-vault-token': server.rootToken },
          },
        ],
      },
      {
        name: 'AppRole login (one role, one secret ID)',
        loads: [
          {
            url: server.url,
            method: 'POST',
            path: `/v1/auth/${APPROLE}/login`,
            headers: json,
            body: JSON.stringify({ role_id: roleId, secret_id: secretId }),
          },
        ],
      },
      { name: 'userpass login, one user', loads: [userpass(names[0])] },
      { name: `userpass login, ${names.length} users at once`, loads: names.map(userpass) },
    ];
    const rows = await runLoginRounds(variants, settings);

    printTable(
      `Logins per second vs a token lookup-self on the same server (in-memory storage; ` +
        `userpass: ${kdf}; ${settings.connections} connections per variant, ` +
        `${settings.rounds} rounds x ${settings.durationMs / 1000} s)`,
      [
        ['variant', 'l'],
        ['requests/s', 'r'],
        ['p50 ms', 'r'],
        ['p99 ms', 'r'],
        ['server busy', 'r'],
        ['client busy', 'r'],
        ['ratio to lookup-self (min-max)', 'r'],
      ],
      rows.map((r) => [
        r.name,
        num(r.perSecond),
        num(r.latencyMs.p50, 2),
        num(r.latencyMs.p99, 2),
        pct(r.serverBusy),
        pct(r.clientBusy),
        ratioText(r),
      ]),
    );
    process.stdout.write(
      `userpass logins of one user wait for each other (one KDF at a time per name, for the ` +
        `lockout check); "${names.length} users at once" runs one load worker per user. ` +
        `Server busy is the event loop only: the KDF runs on libuv worker threads. Every ` +
        `login creates a service token (1h TTL) with its lease.\n`,
    );
    const [, approle, onePerson, manyUsers] = rows;
    const summary = {
      settings,
      kdf: { algorithm: 'argon2id', ...ARGON2_PARAMS },
      approleToLookup: approle.ratio,
      userpassOneUserToLookup: onePerson.ratio,
      userpassManyUsersToLookup: manyUsers.ratio,
      rows,
    };
    process.stdout.write(`wrote ${writeResult('logins', summary)}\n`);
    return summary;
  } finally {
    await server.close();
  }
}

if (isMainModule(import.meta.url)) {
  await runLoginsBench();
}
