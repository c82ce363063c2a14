// `coffer server`: the only module that reads argv, the environment and the real clock. It
// wires storage → barrier → seal → core → HTTP and owns start-up and graceful shutdown.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import { assembleServer } from './assemble.js';
import { devServerConfig, parseServerConfig, type ServerConfig } from './config/config.js';
import { DEFAULT_CONNECTION_LIMITS, startListener, type RunningListener } from './http/listener.js';
import { openStorage } from './open-storage.js';
import type { EngineFactory } from './sdk/engine.js';
import { doorAuth } from './http/gcp/auth.js';
import { startGcpGrpc } from './http/gcp/grpc.js';
import { isCofferError } from './sdk/errors.js';

type Env = Readonly<Record<string, string | undefined>>;

const USAGE = `Usage: coffer server --dev [options] | coffer server --config FILE

  --config FILE               Server configuration (Vault-style HCL).
  --dev                       Start an unsealed development server (NOT for production).
  --dev-listen-address ADDR   host:port for the dev server (default 127.0.0.1:8200; port 0 = any).
  --dev-root-token-id ID      Use ID as the root token instead of a random one.
  --dev-in-memory             Keep dev data in memory instead of a temporary SQLite file.
  --dev-storage-path FILE     Keep dev data in this SQLite file (must not exist yet).
  --dev-aws-access-key-id ID  With --dev-aws-secret-access-key: an AWS key pair with the root
  --dev-aws-secret-access-key KEY   policy for the AWS Secrets Manager door (mounted at aws/).
`;

interface ServerFlags {
  config?: string;
  dev: boolean;
  devListenAddress: string;
  devRootTokenId?: string;
  devInMemory: boolean;
  devStoragePath?: string;
  devAwsAccessKeyId?: string;
  devAwsSecretAccessKey?: string;
}

class UsageError extends Error {}

function parseFlags(argv: readonly string[]): ServerFlags {
  const flags: ServerFlags = { dev: false, devListenAddress: '127.0.0.1:8200', devInMemory: false };
  const takesValue = new Set([
    'config',
    'dev-listen-address',
    'dev-root-token-id',
    'dev-storage-path',
    'dev-aws-access-key-id',
    'dev-aws-secret-access-key',
  ]);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--?([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (m === null) throw new UsageError(`unexpected argument "${arg}"`);
    const name = m[1]!;
    let value = m[2];
    if (takesValue.has(name) && value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`-${name} needs a value`);
    }
    switch (name) {
      case 'config':
        flags.config = value!;
        break;
      case 'dev':
        flags.dev = value === undefined || value === 'true';
        break;
      case 'dev-listen-address':
        flags.devListenAddress = value!;
        break;
      case 'dev-root-token-id':
        flags.devRootTokenId = value!;
        break;
      case 'dev-in-memory':
        flags.devInMemory = value === undefined || value === 'true';
        break;
      case 'dev-storage-path':
        flags.devStoragePath = value!;
        break;
      case 'dev-aws-access-key-id':
        flags.devAwsAccessKeyId = value!;
        break;
      case 'dev-aws-secret-access-key':
        flags.devAwsSecretAccessKey = value!;
        break;
      case 'help':
      case 'h':
        throw new UsageError('');
      default:
        throw new UsageError(`unknown flag -${name}`);
    }
  }
  if (!flags.dev && flags.config === undefined) {
    throw new UsageError('either --dev or --config FILE is required');
  }
  if ((flags.devAwsAccessKeyId === undefined) !== (flags.devAwsSecretAccessKey === undefined)) {
    throw new UsageError(
      '--dev-aws-access-key-id and --dev-aws-secret-access-key must be given together',
    );
  }
  if (flags.devAwsAccessKeyId !== undefined && !flags.dev) {
    throw new UsageError('--dev-aws-access-key-id needs --dev');
  }
  return flags;
}

/** Words for the errors listen() gives; the rest keep their code. */
const LISTEN_REASONS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'the address is already in use',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'the address is not one of this machine',
};

/** One line for a listener that could not start: "cannot listen on 127.0.0.1:8200: ...". */
function listenError(err: unknown, address: string): unknown {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return err;
  const words = LISTEN_REASONS[code];
  return new UsageError(
    `cannot listen on ${address}: ${words === undefined ? code : `${words} (${code})`}`,
  );
}

function splitAddress(address: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(address);
  if (m === null) throw new UsageError(`listen address "${address}" must be host:port`);
  return { host: m[1]!, port: Number.parseInt(m[2]!, 10) };
}

function readVersion(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const pkg = JSON.parse(readFileSync(join(here, '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** The static auto-unseal key: 32 bytes, base64 (or raw 32 bytes in a file). */
function loadStaticKey(config: ServerConfig, env: Env): Uint8Array | undefined {
  const seal = config.seal;
  if (seal === undefined) return undefined;
  let text: string | undefined;
  let source: string;
  if (seal.keyFile !== undefined) {
    source = `seal key_file ${seal.keyFile}`;
    const raw = readFileSync(seal.keyFile);
    if (raw.length === 32) return raw;
    text = raw.toString('utf8');
  } else {
    source = `seal key_env ${seal.keyEnv ?? ''}`;
    text = seal.keyEnv === undefined ? undefined : env[seal.keyEnv];
  }
  if (text === undefined) throw new UsageError(`${source}: no key found`);
  const key = Buffer.from(text.trim(), 'base64');
  // SECURITY: name the source, never the key.
  if (key.length !== 32)
    throw new UsageError(`${source}: the key must be 32 bytes, base64-encoded`);
  return key;
}

/** COFFER_HA_LEASE_TTL_MS: the leader lease length (tests shorten or lengthen it). */
function leaseTtlFromEnv(env: Env): number | undefined {
  const raw = env.COFFER_HA_LEASE_TTL_MS;
  if (raw === undefined || raw === '') return undefined;
  const ms = Number(raw);
  if (!Number.isSafeInteger(ms) || ms < 500 || ms > 600_000) {
    throw new UsageError('COFFER_HA_LEASE_TTL_MS: must be whole milliseconds from 500 to 600000');
  }
  return ms;
}

/** What an embedding program (a test fixture, say) may replace; the `coffer` command passes nothing. */
export interface RunServerOptions {
  /** The engine registry; defaults to the built-in engines. */
  readonly engines?: ReadonlyMap<string, EngineFactory>;
}

export async function runServer(
  argv: readonly string[],
  env: Env,
  options: RunServerOptions = {},
): Promise<void> {
  let flags: ServerFlags;
  try {
    flags = parseFlags(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      if (err.message !== '') process.stderr.write(`Error: ${err.message}\n`);
      process.stderr.write(USAGE);
      process.exitCode = 2;
      return;
    }
    throw err;
  }

  let devDir: string | undefined;
  let config: ServerConfig;
  if (flags.dev) {
    let storagePath: string | undefined;
    if (!flags.devInMemory) {
      if (flags.devStoragePath === undefined) {
        devDir = mkdtempSync(join(tmpdir(), 'coffer-dev-'));
        storagePath = join(devDir, 'coffer.db');
      } else {
        storagePath = flags.devStoragePath;
      }
    }
    config = devServerConfig({
      address: flags.devListenAddress,
      ...(storagePath === undefined ? {} : { storagePath }),
    });
  } else {
    const file = flags.config!;
    config = parseServerConfig(readFileSync(file, 'utf8'), env, { baseDir: dirname(file) });
  }

  const logger: Logger = pino(
    {
      level: config.logLevel,
      redact: {
        paths: [
          'req.headers["x-vault-token"]',
          'req.headers.authorization',
          '*.password',
          '*.token',
          '*.client_token',
        ],
        censor: '[redacted]',
      },
    },
    pino.destination(2),
  );

  const now = (): number => Date.now();
  const physical = openStorage(config.storage);
  const staticKey = loadStaticKey(config, env);
  const version = readVersion();
  const haEnabled = config.storage.type === 'postgresql' && config.storage.haEnabled;
  const { barrier, core, seal, app, ha, gcpRestApp } = assembleServer({
    ...(options.engines === undefined ? {} : { engines: options.engines }),
    physical,
    logger,
    now,
    version,
    ...(staticKey === undefined ? {} : { staticKey }),
    defaultLeaseTtlSeconds: config.defaultLeaseTtlSeconds,
    maxLeaseTtlSeconds: config.maxLeaseTtlSeconds,
    plaintextCacheLifetimeSeconds: config.plaintextCacheLifetimeSeconds,
    maxRequestSizeBytes: config.listener.maxRequestSizeBytes,
    apiAddr:
      config.apiAddr ??
      `${config.listener.tlsDisable ? 'http' : 'https'}://${config.listener.address}`,
    ...(config.awsMount === undefined ? {} : { awsDoorMount: config.awsMount }),
    processMetrics: true,
    unauthenticatedMetrics: config.unauthenticatedMetricsAccess ?? false,
    ...(haEnabled
      ? {
          ha: {
            holderId: randomUUID(),
            apiAddr: config.apiAddr!,
            clusterAddr: config.clusterAddr,
            standbyMode: config.standbyMode,
            ...(leaseTtlFromEnv(env) === undefined ? {} : { leaseTtlMs: leaseTtlFromEnv(env)! }),
          },
        }
      : {}),
    ...(config.gcpDoor === undefined ? {} : { gcpDoorMount: config.gcpDoor.mount }),
  });
  ha?.start();

  let devBanner: string[] = [];
  if (flags.dev) {
    const { shares, rootToken } = await core.initialize({
      secretShares: 1,
      secretThreshold: 1,
      ...(flags.devRootTokenId === undefined ? {} : { rootTokenId: flags.devRootTokenId }),
    });
    await core.unseal(shares[0]!);
    await core.mounts.enable('secret/', { type: 'kv', options: { version: '2' } });
    if (config.awsMount !== undefined) {
      await core.mounts.enable(config.awsMount, { type: 'aws-sm', options: {} });
    }
    if (config.gcpDoor !== undefined) {
      await core.mounts.enable(config.gcpDoor.mount, { type: 'gcp-sm', options: {} });
    }
    if (flags.devAwsAccessKeyId !== undefined) {
      await core.doorCredentials.create('aws', {
        id: flags.devAwsAccessKeyId,
        policies: ['root'],
        displayName: 'dev',
        fields: { secret_access_key: flags.devAwsSecretAccessKey },
      });
    }
    devBanner = [
      'WARNING! dev mode is enabled! In this mode, Coffer runs entirely unsealed with a',
      'single unseal key and a known root token. Do not run dev mode in production!',
      '',
      `Unseal Key: ${Buffer.from(shares[0]!).toString('base64')}`,
      `Root Token: ${rootToken}`,
      `Storage: ${physical.type}${config.storage.type === 'sqlite' ? ` (${config.storage.path})` : ''}`,
    ];
  } else if (seal.type === 'static' && (await core.isInitialized())) {
    await core.autoUnseal();
  }

  const { host, port } = splitAddress(config.listener.address);
  const listenerTls = config.listener.tlsDisable
    ? undefined
    : {
        cert: readFileSync(config.listener.tlsCertFile!),
        key: readFileSync(config.listener.tlsKeyFile!),
      };
  let listener: RunningListener;
  try {
    listener = await startListener(app, {
      host,
      port,
      limits: { ...DEFAULT_CONNECTION_LIMITS, ...config.listener.connectionLimits },
      ...(listenerTls === undefined ? {} : { tls: listenerTls }),
    });
  } catch (err) {
    await physical.close();
    throw listenError(err, config.listener.address);
  }
  // The Google door's own listeners (docs/adr/0007-google-door.md), with the main one's TLS.
  const doorListeners: { close(): Promise<void> }[] = [];
  /** Every listener whose certificate SIGHUP reloads (the main one first: it checks the pair). */
  const tlsListeners: Pick<RunningListener, 'reloadTls'>[] = [listener];
  const doorLines: string[] = [];
  try {
    if (config.gcpDoor !== undefined && gcpRestApp !== undefined) {
      const rest = await startListener(gcpRestApp, {
        ...splitAddress(config.gcpDoor.restAddress),
        limits: { ...DEFAULT_CONNECTION_LIMITS, ...config.listener.connectionLimits },
        ...(listenerTls === undefined ? {} : { tls: listenerTls }),
      });
      doorListeners.push(rest);
      tlsListeners.push(rest);
      doorLines.push(`Google Secret Manager (REST): ${rest.url}`);
      if (config.gcpDoor.grpcAddress !== undefined) {
        const grpcDoor = await startGcpGrpc(
          {
            core,
            logger,
            mountPath: config.gcpDoor.mount,
            auth: doorAuth(() => core.doorCredentials, now),
          },
          {
            ...splitAddress(config.gcpDoor.grpcAddress),
            ...(listenerTls === undefined ? {} : { tls: listenerTls }),
          },
        );
        doorListeners.push({ close: () => grpcDoor.close() });
        tlsListeners.push(grpcDoor);
        doorLines.push(`Google Secret Manager (gRPC): ${grpcDoor.address}`);
      }
    }
  } catch (err) {
    await listener.close();
    await physical.close();
    throw err;
  }

  const lines = [
    '==> Coffer server started.',
    '',
    `             Api Address: ${listener.url}`,
    `                 Version: ${version}`,
    `                 Storage: ${physical.type}`,
    `                    Seal: ${seal.type}`,
    // From the barrier itself, so the banner shows what the configuration reached.
    `         Plaintext cache: ${plaintextCacheText(barrier.plaintextLifetimeMs)}`,
    ...(ha === undefined ? [] : [`              HA Enabled: true (${config.standbyMode})`]),
    ...(config.awsMount === undefined
      ? []
      : [`   AWS Secrets Manager: ${listener.url} (aws_mount ${config.awsMount})`]),
    ...doorLines,
    '',
    ...devBanner,
    ...(devBanner.length === 0
      ? []
      : [
          '',
          'You may need to set the following environment variable:',
          '',
          `    $ export COFFER_ADDR='${listener.url}'`,
        ]),
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  logger.info({ address: listener.url, storage: physical.type }, 'listening');

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    void (async () => {
      try {
        // Event streams never finish on their own; they would hold the grace period open.
        core.endChangeStreams();
        for (const door of doorListeners) await door.close();
        await listener.close();
        // Hand the lease over now rather than letting it run out.
        await ha?.stop();
        await core.sealForShutdown();
        await physical.close();
      } catch (err) {
        logger.error({ err }, 'shutdown failed');
        process.exitCode = 1;
      } finally {
        if (devDir !== undefined) rmSync(devDir, { recursive: true, force: true });
        logger.flush();
      }
    })();
  };
  process.once('SIGINT', () => {
    stop('SIGINT');
  });
  process.once('SIGTERM', () => {
    stop('SIGTERM');
  });
  // SIGHUP reloads the TLS certificate and key from their files (as Vault does) on the main
  // listener and the Google doors' (REST and gRPC); a pair that cannot be read or does not
  // match is logged and the old one kept.
  process.on('SIGHUP', () => {
    if (config.listener.tlsDisable) {
      logger.info('SIGHUP: nothing to reload (TLS is disabled)');
      return;
    }
    try {
      const tls = {
        cert: readFileSync(config.listener.tlsCertFile!),
        key: readFileSync(config.listener.tlsKeyFile!),
      };
      // The first call checks the pair (and throws, changing nothing, when it is bad).
      for (const each of tlsListeners) each.reloadTls(tls);
      logger.info({ certFile: config.listener.tlsCertFile }, 'reloaded the TLS certificate');
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      logger.error(
        { certFile: config.listener.tlsCertFile, code: typeof code === 'string' ? code : 'error' },
        'TLS certificate reload failed; keeping the current one',
      );
    }
  });
}

/** Start-up errors: one clear line, exit code 1. */
export function reportStartupError(err: unknown): void {
  const message = isCofferError(err) || err instanceof UsageError ? err.message : String(err);
  process.stderr.write(`Error: ${message}\n`);
  process.exitCode = 1;
}

/** The banner's plaintext cache line: "off" or the lifetime ("30s"). */
function plaintextCacheText(lifetimeMs: number): string {
  return lifetimeMs === 0 ? 'off (every read decrypts)' : `${lifetimeMs / 1000}s lifetime`;
}
