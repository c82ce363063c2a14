// The Google Secret Manager door over gRPC: the SecretManagerService defined by the protos that
// `@google-cloud/secret-manager` ships (loaded with @grpc/proto-loader from its protos.json),
// served by @grpc/grpc-js on the door's own port. Each RPC becomes the same single core
// request as over REST (call.ts); messages are converted between protobuf objects
// (Timestamp/Duration messages, FieldMask) and the proto3 JSON the engine speaks. Over
// plaintext gRPC Google's client sends credentials only as explicit `authorization` metadata.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { createSecureContext } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { Logger } from 'pino';
import type { Core } from '../../core/core.js';
import { isGcpMethod, type GcpMethod } from '../../engines/gcp-sm/methods.js';
import { isCofferError } from '../../sdk/errors.js';
import type { GcpAuth } from './auth.js';
import { callCore } from './call.js';
import { STATUS, toGoogleError } from './errors.js';

export interface GcpGrpcOptions {
  readonly core: Core;
  readonly logger: Logger;
  readonly mountPath: string;
  readonly auth: GcpAuth;
}

export interface RunningGrpc {
  /** host:port as bound. */
  readonly address: string;
  /**
   * Serves new connections with this certificate and key (SIGHUP); throws, keeping the old
   * pair, when they do not make one. Existing connections keep theirs.
   */
  reloadTls(tls: { cert: Buffer; key: Buffer }): void;
  close(): Promise<void>;
}

type IdentityListener = grpc.experimental.IdentityCertificateUpdateListener;

/**
 * The door's certificate as grpc-js's certificate-provider credentials take it: each update
 * becomes the HTTP/2 server's new TLS context for new connections. Listeners hear the current
 * pair on the next tick after they are added (grpc-js adds the server's own watcher only after
 * the provider's listener, so an update given at once would be lost).
 */
class ReloadableIdentity implements grpc.experimental.CertificateProvider {
  #current: grpc.experimental.IdentityCertificateUpdate;
  readonly #listeners = new Set<IdentityListener>();

  constructor(tls: { cert: Buffer; key: Buffer }) {
    this.#current = { certificate: tls.cert, privateKey: tls.key };
  }

  update(tls: { cert: Buffer; key: Buffer }): void {
    // Throws on a pair that does not match, before any listener sees it.
    createSecureContext({ cert: tls.cert, key: tls.key });
    this.#current = { certificate: tls.cert, privateKey: tls.key };
    for (const listener of this.#listeners) listener(this.#current);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.#listeners.add(listener);
    process.nextTick(() => {
      if (this.#listeners.has(listener)) listener(this.#current);
    });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.#listeners.delete(listener);
  }

  // No client certificates: there is no CA to provide.
  addCaCertificateListener(): void {}
  removeCaCertificateListener(): void {}
}

type Obj = Record<string, unknown>;

/** Fields that are google.protobuf.Timestamp / Duration in Secret Manager's messages. */
const TIMESTAMPS = new Set([
  'createTime',
  'expireTime',
  'destroyTime',
  'scheduledDestroyTime',
  'nextRotationTime',
]);
const DURATIONS = new Set(['ttl', 'rotationPeriod', 'versionDestroyTtl']);

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** protobuf objects → proto3 JSON (Timestamps as RFC 3339, Durations as "Ns"). */
function toJson(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => toJson(v));
  if (!isObj(value)) return value;
  if (TIMESTAMPS.has(key) || DURATIONS.has(key)) {
    const seconds = Number(value['seconds'] ?? 0);
    const nanos = Number(value['nanos'] ?? 0);
    if (DURATIONS.has(key)) return `${seconds + nanos / 1e9}s`;
    return new Date(seconds * 1000 + Math.floor(nanos / 1e6)).toISOString();
  }
  const out: Obj = {};
  for (const [k, v] of Object.entries(value)) out[k] = toJson(v, k);
  return out;
}

/** proto3 JSON → protobuf objects. */
function fromJson(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => fromJson(v));
  if (typeof value === 'string' && TIMESTAMPS.has(key)) {
    const ms = Date.parse(value);
    return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 };
  }
  if (typeof value === 'string' && DURATIONS.has(key)) {
    return { seconds: String(Math.floor(Number(value.slice(0, -1)))) };
  }
  if (!isObj(value)) return value;
  const out: Obj = {};
  for (const [k, v] of Object.entries(value)) out[k] = fromJson(v, k);
  return out;
}

/** The resource a request message names, and the rest of it as the input. */
function splitRequest(
  method: GcpMethod,
  request: Obj,
): {
  resource: string;
  secretId?: string;
  input: Obj;
} {
  const input = toJson(request) as Obj;
  if (method === 'UpdateSecret') {
    const secret = isObj(input['secret']) ? input['secret'] : {};
    return { resource: typeof secret['name'] === 'string' ? secret['name'] : '', input };
  }
  for (const field of ['parent', 'name', 'resource']) {
    if (typeof input[field] === 'string') {
      const { [field]: resource, secretId, ...rest } = input;
      return {
        resource: resource as string,
        ...(typeof secretId === 'string' ? { secretId } : {}),
        input: rest,
      };
    }
  }
  return { resource: '', input };
}

let cachedDefinition: grpc.GrpcObject | undefined;

function serviceDefinition(): grpc.ServiceDefinition {
  if (cachedDefinition === undefined) {
    const require = createRequire(import.meta.url);
    const json = require('@google-cloud/secret-manager/build/protos/protos.json') as object;
    const definition = protoLoader.fromJSON(json, {
      keepCase: false,
      longs: String,
      enums: String,
      bytes: String,
      defaults: false,
      oneofs: false,
    });
    cachedDefinition = grpc.loadPackageDefinition(definition);
  }
  const pkg = cachedDefinition as unknown as {
    google: {
      cloud: { secretmanager: { v1: { SecretManagerService: grpc.ServiceClientConstructor } } };
    };
  };
  return pkg.google.cloud.secretmanager.v1.SecretManagerService.service;
}

export async function startGcpGrpc(
  options: GcpGrpcOptions,
  listen: { host: string; port: number; tls?: { cert: Buffer; key: Buffer } },
): Promise<RunningGrpc> {
  const { core, logger, mountPath, auth } = options;
  const service = serviceDefinition();
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const rpc of Object.keys(service)) {
    handlers[rpc] = (call: grpc.ServerUnaryCall<Obj, Obj>, callback: grpc.sendUnaryData<Obj>) => {
      const requestId = randomUUID();
      const started = Date.now();
      void (async () => {
        try {
          if (!isGcpMethod(rpc)) {
            throw Object.assign(new Error('unimplemented'), { grpcStatus: 'UNIMPLEMENTED' });
          }
          const authorization = call.metadata.get('authorization')[0];
          const caller = await auth.resolve(
            typeof authorization === 'string' ? authorization : undefined,
          );
          const { resource, secretId, input } = splitRequest(rpc, call.request);
          const data = await callCore(core, mountPath, {
            method: rpc,
            resource,
            ...(secretId === undefined ? {} : { secretId }),
            input,
            ...caller,
            requestId,
            remoteAddress: call
              .getPeer()
              .replace(/:\d+$/, '')
              .replace(/^\[|\]$/g, ''),
          });
          callback(null, fromJson(data) as Obj);
          logger.info(
            { reqId: requestId, door: 'gcp-grpc', rpc, ms: Date.now() - started },
            'request',
          );
        } catch (err) {
          const google =
            (err as { grpcStatus?: string }).grpcStatus === 'UNIMPLEMENTED'
              ? { status: 'UNIMPLEMENTED' as const, message: `${rpc} is not implemented by Coffer` }
              : toGoogleError(err, rpc);
          if (STATUS[google.status].http >= 500 && !(isCofferError(err) && err.code === 'sealed')) {
            logger.error(
              { reqId: requestId, err: isCofferError(err) ? err.code : 'error' },
              'gcp grpc request failed',
            );
          }
          callback({ code: grpc.status[google.status], details: google.message });
        }
      })();
    };
  }
  const server = new grpc.Server();
  server.addService(service, handlers);
  const identity = listen.tls === undefined ? undefined : new ReloadableIdentity(listen.tls);
  // grpc-js names this function's first parameter the CA provider, but passes it on as the
  // identity provider (its constructor's first); no CA provider means no client certificates.
  const credentials =
    identity === undefined
      ? grpc.ServerCredentials.createInsecure()
      : grpc.experimental.createCertificateProviderServerCredentials(identity, null, false);
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${listen.port}`, credentials, (err, bound) => {
      if (err !== null) reject(err);
      else resolve(bound);
    });
  });
  return {
    address: `${host}:${port}`,
    reloadTls: (tls) => {
      identity?.update(tls);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => {
          resolve();
        });
      }),
  };
}
