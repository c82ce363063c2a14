// Starts a whole Coffer server in this process from the BUILT code in dist/ (storage → barrier →
// seal → core → Fastify app → loopback listener on an OS-chosen port), initialised, unsealed and
// with KV v2 mounted at secret/, like dev mode.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';

export async function importDist(path) {
  try {
    return await import(new URL(`../../dist/${path}`, import.meta.url).href);
  } catch (err) {
    throw new Error(`cannot load dist/${path}: run "npm run build" first (${err.message})`, {
      cause: err,
    });
  }
}

const VERSION = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
).version;

/**
 * @typedef {object} RunningCoffer
 * @property {string} url          e.g. "http://127.0.0.1:41234"
 * @property {string} [tlsUrl]     "https://127.0.0.1:…" when started with `tls`
 * @property {string} rootToken
 * @property {import('../../dist/physical/physical.js').PhysicalBackend} physical
 * @property {() => Promise<void>} close  Stops the listener, then closes the storage.
 */

/**
 * @param {({ storage: 'inmem' } | { storage: 'sqlite', path: string, groupCommit: boolean } | { storage: 'postgresql', connectionUrl: string, table: string }) & { awsKey?: { id: string, secret: string }, tls?: { cert: Buffer, key: Buffer }, plaintextCacheLifetimeSeconds?: number }} options
 *   SQLite always runs with synchronous=FULL (a write is on disk before it is acknowledged).
 *   `plaintextCacheLifetimeSeconds` as in the configuration (the server default when absent).
 * @returns {Promise<RunningCoffer>}
 */
export async function startCoffer(options) {
  const [{ assembleServer }, listen] = await Promise.all([
    importDist('assemble.js'),
    importDist('http/listener.js'),
  ]);
  let physical;
  if (options.storage === 'sqlite') {
    const { openSqliteBackend } = await importDist('physical/sqlite.js');
    physical = openSqliteBackend({
      path: options.path,
      synchronous: 'full',
      groupCommit: options.groupCommit,
    });
  } else if (options.storage === 'postgresql') {
    const { openPostgresBackend } = await importDist('physical/postgresql.js');
    physical = openPostgresBackend({
      connectionUrl: options.connectionUrl,
      table: options.table,
      haTable: `${options.table}_ha`,
    });
  } else {
    const { createInmemBackend } = await importDist('physical/inmem.js');
    physical = createInmemBackend();
  }
  try {
    const { core, app, gcpRestApp } = assembleServer({
      physical,
      logger: pino({ level: 'warn' }),
      now: () => Date.now(),
      version: VERSION,
      defaultLeaseTtlSeconds: 2_764_800,
      maxLeaseTtlSeconds: 2_764_800,
      ...(options.awsKey === undefined ? {} : { awsDoorMount: 'aws/' }),
      ...(options.gcp === true ? { gcpDoorMount: 'gcp/' } : {}),
      // Absent (undefined): the barrier's default.
      plaintextCacheLifetimeSeconds: options.plaintextCacheLifetimeSeconds,
    });
    const { shares, rootToken } = await core.initialize({ secretShares: 1, secretThreshold: 1 });
    await core.unseal(shares[0]);
    await core.mounts.enable('secret/', { type: 'kv', options: { version: '2' } });
    if (options.awsKey !== undefined) {
      // The AWS door at aws/ with a root key pair, like --dev-aws-access-key-id.
      await core.mounts.enable('aws/', { type: 'aws-sm', options: {} });
      await core.doorCredentials.create('aws', {
        id: options.awsKey.id,
        policies: ['root'],
        fields: { secret_access_key: options.awsKey.secret },
      });
    }
    const listener = await listen.startListener(app, { host: '127.0.0.1', port: 0 });
    // TLS: a second listener on the same app (same core, audit devices and tokens), so a TLS
    // variant differs from its plain twin only in the transport; setup goes over plain HTTP.
    const tlsListener =
      options.tls === undefined
        ? undefined
        : await listen.startListener(app, { host: '127.0.0.1', port: 0, tls: options.tls });
    // The Google door on its own REST and gRPC ports, like `gcp_door` (bench/gcp.js).
    let gcp;
    if (options.gcp === true) {
      await core.mounts.enable('gcp/', { type: 'gcp-sm', options: {} });
      const { startGcpGrpc } = await importDist('http/gcp/grpc.js');
      const { doorAuth } = await importDist('http/gcp/auth.js');
      const rest = await listen.startListener(gcpRestApp, { host: '127.0.0.1', port: 0 });
      const grpcDoor = await startGcpGrpc(
        {
          core,
          logger: pino({ level: 'warn' }),
          mountPath: 'gcp/',
          auth: doorAuth(() => core.doorCredentials, Date.now),
        },
        { host: '127.0.0.1', port: 0 },
      );
      gcp = { restUrl: rest.url, grpcAddress: grpcDoor.address, rest, grpcDoor };
    }
    return {
      url: listener.url,
      ...(tlsListener === undefined ? {} : { tlsUrl: tlsListener.url }),
      ...(gcp === undefined ? {} : { gcp: { restUrl: gcp.restUrl, grpcAddress: gcp.grpcAddress } }),
      rootToken,
      physical,
      async close() {
        if (gcp !== undefined) {
          await gcp.rest.close(2_000);
          await gcp.grpcDoor.close();
        }
        if (tlsListener !== undefined) await tlsListener.close(2_000);
        await listener.close(2_000);
        // Stops the core's timers (as main.ts does on shutdown) so the process can exit.
        await core.sealForShutdown();
        await physical.close();
      },
    };
  } catch (err) {
    await physical.close();
    throw err;
  }
}

/**
 * A self-signed P-256 certificate for 127.0.0.1 made with the openssl CLI in `dir` (the load
 * generator does not verify it; it is only there so both sides of a TLS variant do a handshake
 * and encrypt every byte).
 * @param {string} dir
 */
export function selfSignedCert(dir) {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) };
}

/** Enables a file audit device at `file` through the API, as an operator would. */
export async function enableFileAudit(server, file, options = {}) {
  const res = await fetch(`${server.url}/v1/sys/audit/file`, {
    method: 'PUT',
    headers: { 'x-vault-token': server.rootToken, 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'file', options: { file_path: file, ...options } }),
  });
  await res.arrayBuffer();
  if (res.status !== 204) throw new Error(`enabling the audit device failed: HTTP ${res.status}`);
}
