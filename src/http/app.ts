// buildApp(deps): the Fastify application speaking the Vault HTTP API. No listen() here
// (see listener.ts); tests drive it with inject().
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { Transform, type Readable } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Core } from '../core/core.js';
import type { AuthResult, EngineResult, Operation } from '../sdk/engine.js';
import { CofferError, invalidField } from '../sdk/errors.js';
import { parseDurationSeconds } from '../sdk/duration.js';
import { parseBool, parseFields, parseInt64 } from '../sdk/fields.js';
import type { JsonObject } from '../sdk/json.js';
import {
  DEFAULT_BODY_LIMITS,
  UNAUTHENTICATED_BODY_LIMIT_BYTES,
  parseBody,
  type BodyLimits,
} from './body.js';
import { errorReply } from './error-response.js';
import { registerCeremonyRoutes } from './ceremony-routes.js';
import { registerEventsRoute } from './events-route.js';
import { registerMetricsRoute } from './metrics-route.js';
import type { Metrics } from '../core/metrics.js';
import { registerUiRoute } from './ui-route.js';
import { METHOD_HEADER } from './list-method.js';
import { parseVaultUrl } from './vault-path.js';
import { clientErrorHandler, vaultClientErrorBody } from './client-error.js';
import { registerAwsDoor } from './aws/door.js';
import { registerStandbyForwarding, type StandbyDeps } from './standby-forward.js';
import { clientAddress } from './client-address.js';

export interface AppDeps {
  readonly core: Core;
  readonly logger: Logger;
  readonly version: string;
  readonly storageType: string;
  /** Requests with larger bodies get 413 before parsing. */
  readonly maxRequestSizeBytes?: number;
  readonly bodyLimits?: BodyLimits;
  readonly now: () => number;
  /** The AWS Secrets Manager door (`POST /`) and the aws-sm mount it serves; absent = off. */
  readonly awsDoor?: { readonly mountPath: string };
  /** GET /v1/sys/metrics; absent = the route answers like any unknown sys path. */
  readonly metrics?: { readonly registry: Metrics; readonly unauthenticated: boolean };
  /** HA (ha_enabled): leadership status and what standbys do with client requests. */
  readonly ha?: StandbyDeps['ha'];
  /** Replaces the storage with a snapshot (sys/storage/raft/snapshot-force); absent = cannot. */
  readonly restoreSnapshot?: (bytes: Uint8Array) => Promise<void>;
}

const TOKEN_HEADER = 'x-vault-token';
const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;
const JSON_TYPE = 'application/json';

/** Routes whose `data` is the whole response body (standards documents, as Vault sends them). */
const RAW_BODY = [
  /^identity\/oidc\/\.well-known\/(keys|openid-configuration)\/?$/,
  /^identity\/oidc\/introspect\/?$/,
];

/** sys/ routes whose `data` Vault also copies to the top level of the response. */
const TOP_LEVEL_INJECTED = [
  /^sys\/audit(\/|$)/,
  /^sys\/audit-hash\//,
  /^sys\/auth(\/|$)/,
  /^sys\/mounts(\/|$)/,
  /^sys\/capabilities(-self|-accessor)?$/,
  /^sys\/config\/cors$/,
  /^sys\/config\/auditing\/request-headers/,
  /^sys\/ha-status$/,
  /^sys\/key-status$/,
  /^sys\/policy(\/|$)/,
  /^sys\/rotate$/,
  /^sys\/wrapping\/wrap$/,
  /^sys\/remount$/,
];

function sendJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  // A Buffer, so Fastify sends the type exactly as set (no "; charset=utf-8").
  return reply
    .code(status)
    .header('content-type', JSON_TYPE)
    .send(Buffer.from(JSON.stringify(body)));
}

function requestToken(req: FastifyRequest): string | undefined {
  const header = req.headers[TOKEN_HEADER];
  if (typeof header === 'string' && header !== '') return header;
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && /^Bearer\s+/i.test(auth)) return auth.replace(/^Bearer\s+/i, '');
  return undefined;
}

function requestData(req: FastifyRequest): Record<string, unknown> {
  const body = req.body;
  if (body === undefined || body === null) return {};
  return body as Record<string, unknown>;
}

/** Decodes an unseal key share given as hex or base64. */
function decodeKey(key: string): Uint8Array {
  const text = key.trim();
  if (/^[0-9a-fA-F]+$/.test(text) && text.length % 2 === 0) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return Buffer.from(text, 'base64');
  throw invalidField('key', 'must be hex or base64');
}

/** Maps method + query to the operation, per Vault's rules (LIST verb, ?list=<bool>). */
function operationFor(req: FastifyRequest, query: URLSearchParams): Operation {
  const override = req.headers[METHOD_HEADER];
  if (override !== undefined) {
    if (override !== 'LIST' || req.method !== 'GET') {
      throw new CofferError('invalid_request', `${METHOD_HEADER}: unexpected value`);
    }
    return 'list';
  }
  switch (req.method) {
    case 'GET': {
      const list = query.get('list');
      if (list !== null && parseBool(list, 'list')) return 'list';
      return 'read';
    }
    case 'POST':
    case 'PUT':
      return 'update';
    case 'PATCH': {
      const type = req.headers['content-type'] ?? '';
      if (!type.toLowerCase().startsWith('application/merge-patch+json')) {
        throw new CofferError(
          'unsupported_media_type',
          'PATCH requires Content-Type: application/merge-patch+json',
        );
      }
      return 'patch';
    }
    case 'DELETE':
      return 'delete';
    default:
      throw new CofferError('unsupported_operation', 'unsupported operation');
  }
}

/** Error codes of a request body stream cut short by the client. */
const ABORT_CODES = new Set(['ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE']);

/** Whether `err` comes from the client closing its connection while sending the request. */
function isClientAbort(err: unknown, req: FastifyRequest): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && ABORT_CODES.has(code)) return true;
  if ((err as { message?: unknown }).message === 'aborted') return true;
  return req.raw.destroyed && !req.raw.complete;
}

function bodyTooLarge(limitBytes: number, why: string): CofferError {
  return new CofferError('payload_too_large', `body: larger than ${limitBytes} bytes${why}`, {
    field: 'body',
  });
}

function restoreIntoInitialised(): CofferError {
  return new CofferError(
    'invalid_request',
    'a snapshot can be restored only into an uninitialised server',
  );
}

/** Passes a streamed body through, failing once more than `limitBytes` arrived. */
function capBody(payload: Readable, limitBytes: number, onExceeded: () => void): Transform {
  let received = 0;
  const capped = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      if (received > limitBytes) {
        onExceeded();
        callback(bodyTooLarge(limitBytes, ' without a valid token'));
        return;
      }
      callback(null, chunk);
    },
  });
  payload.on('error', (err) => capped.destroy(err));
  return payload.pipe(capped);
}

/**
 * Ends a connection once the reply has been written, without reading the rest of a body
 * the server refused (Node would otherwise read and discard it, however large).
 */
function closeAfterReply(req: FastifyRequest, reply: FastifyReply): void {
  const socket = req.raw.socket;
  void reply.header('connection', 'close');
  reply.raw.once('finish', () => {
    socket.end(() => socket.destroy());
    setTimeout(() => socket.destroy(), 1_000).unref();
  });
}

export function buildApp(deps: AppDeps): FastifyInstance {
  const { core, logger } = deps;
  const limits = deps.bodyLimits ?? DEFAULT_BODY_LIMITS;
  const app = Fastify({
    // Fastify's own request logging stays off: the hooks below log one line per request,
    // without bodies or headers.
    logger: false,
    bodyLimit: deps.maxRequestSizeBytes ?? DEFAULT_MAX_BODY_BYTES,
    genReqId: () => randomUUID(),
    serverFactory: (handler) => createServer(handler),
    clientErrorHandler: clientErrorHandler(vaultClientErrorBody),
    // Routing sees the raw path; vault-path.ts decides what a path means.
    routerOptions: { ignoreDuplicateSlashes: false, maxParamLength: 8192 },
    // Errors raised before routing (a malformed URL escape, a bad header) in our error shape.
    frameworkErrors: (_err, req, reply) => {
      void sendJson(reply, 400, {
        errors: ['path: malformed request URL or percent-encoding'],
        code: 'invalid_request',
        request_id: req.id,
      });
    },
  });

  if (deps.ha !== undefined) registerStandbyForwarding(app, { core, logger, ha: deps.ha });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (req, body, done) => {
    try {
      done(null, parseBody(body as string, req.headers['content-type'], limits));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  // SECURITY: authentication before the body is read. A body may exceed 64 KiB only with a
  // live token or on a login path; a larger declared body is refused from its headers, a
  // streamed one as soon as it passes the limit, and the connection is closed either way.
  const closing = new WeakSet<FastifyRequest>();
  const admitsBody = async (req: FastifyRequest): Promise<boolean> => {
    const rawUrl = req.raw.url ?? '';
    if (!rawUrl.startsWith('/v1/')) return false;
    try {
      const path = parseVaultUrl(rawUrl).path;
      // A snapshot restore needs no token, and only an uninitialised server (holding nothing
      // to protect) takes one; its body is the whole snapshot.
      if (path === 'sys/storage/raft/snapshot-force' && deps.restoreSnapshot !== undefined) {
        return !(await core.isInitialized());
      }
      return await core.admitsBody(path, requestToken(req));
    } catch {
      return false;
    }
  };
  /** A body that may be larger than the unauthenticated limit, and so needs admitsBody. */
  const mayBeLarge = (req: FastifyRequest): boolean => {
    // The AWS door authenticates its signature before reading (aws/door.ts).
    if (deps.awsDoor !== undefined && req.routeOptions.url === '/') return false;
    const declaredHeader = req.headers['content-length'];
    const declared = declaredHeader === undefined ? undefined : Number(declaredHeader);
    const streamed = req.headers['transfer-encoding'] !== undefined;
    // `!(<=)`: a Content-Length that is not a number is not small either.
    return streamed || (declared !== undefined && !(declared <= UNAUTHENTICATED_BODY_LIMIT_BYTES));
  };
  const guardBody = async (req: FastifyRequest, payload: Readable): Promise<Readable> => {
    const declaredHeader = req.headers['content-length'];
    const declared = declaredHeader === undefined ? undefined : Number(declaredHeader);
    if (await admitsBody(req)) return payload;
    if (
      req.routeOptions.url === '/v1/sys/storage/raft/snapshot-force' &&
      deps.restoreSnapshot !== undefined
    ) {
      // admitsBody refused it: the server is initialised (see the route below).
      closing.add(req);
      throw restoreIntoInitialised();
    }
    if (declared !== undefined && declared > UNAUTHENTICATED_BODY_LIMIT_BYTES) {
      closing.add(req);
      throw bodyTooLarge(UNAUTHENTICATED_BODY_LIMIT_BYTES, ' without a valid token');
    }
    return capBody(payload, UNAUTHENTICATED_BODY_LIMIT_BYTES, () => closing.add(req));
  };
  // Callback style, so the common request (no body, or a small declared one) passes without
  // an async function's promise; a body that may be large is checked before it is read.
  app.addHook('preParsing', (req, _reply, payload, done) => {
    if (!mayBeLarge(req)) {
      done(null, payload);
      return;
    }
    guardBody(req, payload).then(
      (checked) => {
        done(null, checked);
      },
      (err: unknown) => {
        done(err as Error);
      },
    );
  });

  app.addHook('onSend', (_req, reply, payload, done) => {
    reply.header('cache-control', 'no-store');
    // Fastify appends "; charset=utf-8" to JSON strings; hvac compares the type with ==.
    const type = reply.getHeader('content-type');
    if (typeof type === 'string' && type.startsWith(JSON_TYPE)) {
      reply.header('content-type', JSON_TYPE);
    }
    done(null, payload);
  });

  app.addHook('onResponse', (req, reply, done) => {
    if (!logger.isLevelEnabled('info')) {
      done();
      return;
    }
    const path = (req.raw.url ?? '').split('?')[0];
    const method = req.headers[METHOD_HEADER] === 'LIST' ? 'LIST' : req.method;
    logger.info(
      { reqId: req.id, method, path, status: reply.statusCode, ms: reply.elapsedTime },
      'request',
    );
    done();
  });

  app.setErrorHandler((err, req, reply) => {
    let error: unknown = err;
    const fastifyCode = (err as { code?: string }).code;
    if (fastifyCode === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      closing.add(req);
      error = new CofferError('payload_too_large', 'body: request body is too large');
    } else if (fastifyCode === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      error = new CofferError('unsupported_media_type', 'unsupported content type');
    } else if (
      typeof fastifyCode === 'string' &&
      fastifyCode.startsWith('FST_ERR') &&
      (err as { statusCode?: number }).statusCode !== undefined &&
      (err as { statusCode: number }).statusCode < 500
    ) {
      error = new CofferError('invalid_request', 'malformed request');
    }
    if (closing.has(req)) closeAfterReply(req, reply);
    if (isClientAbort(err, req)) {
      // The client went away mid-request: not a server failure, and nobody reads a reply.
      logger.debug({ reqId: req.id, code: fastifyCode ?? 'aborted' }, 'client aborted the request');
      error = new CofferError('invalid_request', 'request aborted by the client');
    }
    const reply_ = errorReply(error, req.id);
    if (reply_.internalCause !== undefined) {
      logger.error({ reqId: req.id, err: reply_.internalCause }, 'request failed');
    }
    if (reply_.retryAfterSeconds !== undefined) {
      void reply.header('retry-after', String(reply_.retryAfterSeconds));
    }
    return sendJson(reply, reply_.status, reply_.body);
  });

  app.setNotFoundHandler((req, reply) => {
    return sendJson(reply, 404, { errors: [], request_id: req.id });
  });

  registerSysRoutes(app, deps);
  registerEventsRoute(app, { core, tokenOf: requestToken });
  if (deps.metrics !== undefined) {
    registerMetricsRoute(app, {
      core,
      metrics: deps.metrics.registry,
      unauthenticated: deps.metrics.unauthenticated,
      tokenOf: requestToken,
      now: deps.now,
    });
  }
  registerUiRoute(app);
  if (deps.awsDoor !== undefined) {
    registerAwsDoor(app, { core, logger, now: deps.now, mountPath: deps.awsDoor.mountPath });
  }

  app.all('/v1/*', async (req, reply) => {
    const wrapTtlSeconds = wrapTtlOf(req);
    const namespace = req.headers['x-vault-namespace'];
    if (namespace !== undefined && !['', 'root', '/', 'root/'].includes(String(namespace))) {
      throw invalidField('X-Vault-Namespace', 'namespaces are not supported');
    }
    const url = parseVaultUrl(req.raw.url ?? '');
    const operation = operationFor(req, url.query);
    let path = url.path;
    let data: Record<string, unknown>;
    if (operation === 'read' || operation === 'list' || operation === 'delete') {
      data = {};
      for (const [k, v] of url.query) if (k !== 'list') data[k] = v;
    } else {
      data = requestData(req);
    }
    if (operation === 'list' && !path.endsWith('/')) path += '/';
    const result = await core.handleRequest({
      operation,
      path,
      data,
      token: requestToken(req),
      requestId: req.id,
      remoteAddress: clientAddress(req),
      ...(wrapTtlSeconds === undefined ? {} : { wrapTtlSeconds }),
    });
    return renderResult(reply, req.id, path, result);
  });

  return app;
}

/** X-Vault-Wrap-TTL in seconds or as a duration; absent = no wrapping. */
function wrapTtlOf(req: FastifyRequest): number | undefined {
  const raw = req.headers['x-vault-wrap-ttl'];
  if (raw === undefined || raw === '') return undefined;
  const seconds = parseDurationSeconds(String(raw), 'X-Vault-Wrap-TTL');
  if (seconds <= 0) throw invalidField('X-Vault-Wrap-TTL', 'must be a positive duration');
  return seconds;
}

function renderResult(
  reply: FastifyReply,
  requestId: string,
  path: string,
  result: EngineResult,
): FastifyReply {
  if (result.kind === 'wrapped') {
    // A wrapped response carries only wrap_info, as Vault renders it.
    const info = result.wrapInfo;
    return sendJson(reply, 200, {
      request_id: '',
      lease_id: '',
      renewable: false,
      lease_duration: 0,
      data: null,
      wrap_info: {
        token: info.token,
        accessor: info.accessor,
        ttl: info.ttlSeconds,
        creation_time: new Date(info.creationTime).toISOString(),
        creation_path: info.creationPath,
        ...(info.wrappedAccessor === undefined ? {} : { wrapped_accessor: info.wrappedAccessor }),
      },
      warnings: null,
      auth: null,
    });
  }
  if (result.kind === 'empty' && (result.warnings?.length ?? 0) === 0) {
    return reply.code(204).send();
  }
  // A lease with nothing in it (a renewal) renders data null, as Vault does.
  const data =
    result.kind !== 'data' ||
    (result.leaseId !== undefined && Object.keys(result.data).length === 0)
      ? null
      : result.data;
  const envelope: JsonObject = {
    request_id: requestId,
    lease_id: result.kind === 'data' ? (result.leaseId ?? '') : '',
    renewable: result.kind === 'data' ? (result.renewable ?? false) : false,
    lease_duration: result.kind === 'data' ? (result.leaseDurationSeconds ?? 0) : 0,
    data,
    wrap_info: null,
    warnings: result.warnings === undefined ? null : [...result.warnings],
    auth: result.kind === 'auth' ? renderAuth(result.auth) : null,
  };
  // Vault answers OIDC discovery, its JWKS and introspection with the bare document.
  if (data !== null && RAW_BODY.some((re) => re.test(path))) return sendJson(reply, 200, data);
  if (data !== null && TOP_LEVEL_INJECTED.some((re) => re.test(path))) {
    for (const [k, v] of Object.entries(data)) if (!(k in envelope)) envelope[k] = v;
  }
  const status = result.kind === 'data' && result.absent === true ? 404 : 200;
  return sendJson(reply, status, envelope);
}

function renderAuth(auth: AuthResult): JsonObject {
  return {
    client_token: auth.clientToken,
    accessor: auth.accessor,
    policies: [...auth.policies],
    token_policies: [...auth.tokenPolicies],
    ...(auth.identityPolicies === undefined
      ? {}
      : { identity_policies: [...auth.identityPolicies] }),
    metadata: auth.metadata === null ? null : { ...auth.metadata },
    lease_duration: auth.leaseDurationSeconds,
    renewable: auth.renewable,
    entity_id: auth.entityId,
    token_type: auth.tokenType,
    orphan: auth.orphan,
    mfa_requirement: null,
    num_uses: auth.numUses,
  };
}

function registerSysRoutes(app: FastifyInstance, deps: AppDeps): void {
  const { core } = deps;

  const sealStatusBody = async (): Promise<JsonObject> => {
    const status = await core.sealStatus();
    return {
      type: status.type,
      initialized: status.initialized,
      sealed: status.sealed || core.isSealed,
      t: status.t,
      n: status.n,
      progress: status.progress,
      nonce: status.nonce,
      version: deps.version,
      build_date: '',
      migration: false,
      recovery_seal: false,
      storage_type: deps.storageType,
    };
  };

  app.get('/v1/sys/seal-status', async (_req, reply) =>
    sendJson(reply, 200, await sealStatusBody()),
  );

  app.get('/v1/sys/init', async (_req, reply) =>
    sendJson(reply, 200, { initialized: await core.isInitialized() }),
  );

  const initFields = {
    secret_shares: { type: 'int', description: 'Number of unseal key shares.' },
    secret_threshold: { type: 'int', description: 'Shares needed to unseal.' },
    pgp_keys: { type: 'string-list', description: 'Not supported.' },
    root_token_pgp_key: { type: 'string', description: 'Not supported.' },
    stored_shares: { type: 'int', description: 'Accepted for compatibility.' },
    recovery_shares: { type: 'int', description: 'Not supported.' },
    recovery_threshold: { type: 'int', description: 'Not supported.' },
    recovery_pgp_keys: { type: 'string-list', description: 'Not supported.' },
  } as const;

  const init = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const fields = parseFields(initFields, requestData(req));
    if ((fields.pgp_keys?.length ?? 0) > 0 || (fields.root_token_pgp_key ?? '') !== '') {
      throw invalidField('pgp_keys', 'PGP-encrypted unseal keys are not supported');
    }
    const sealType = (await core.sealStatus()).type;
    if (sealType === 'shamir') {
      if (fields.secret_shares === undefined) throw invalidField('secret_shares', 'is required');
      if (fields.secret_threshold === undefined) {
        throw invalidField('secret_threshold', 'is required');
      }
    }
    const result = await core.initialize({
      secretShares: fields.secret_shares ?? 0,
      secretThreshold: fields.secret_threshold ?? 0,
    });
    const keys = result.shares.map((s) => Buffer.from(s).toString('hex'));
    const keysBase64 = result.shares.map((s) => Buffer.from(s).toString('base64'));
    return sendJson(reply, 200, {
      keys,
      keys_base64: keysBase64,
      root_token: result.rootToken,
      ...(sealType === 'static' ? { recovery_keys: [], recovery_keys_base64: [] } : {}),
    });
  };
  app.put('/v1/sys/init', init);
  app.post('/v1/sys/init', init);

  // Restore a storage snapshot into an uninitialised server (which then unseals with the keys
  // of the server the snapshot came from). Like sys/init it needs no token: an uninitialised
  // server holds nothing. SECURITY: refused once initialised, so it can never replace data.
  const restoreFields = {
    snapshot: { type: 'string', description: 'The snapshot file, base64.' },
  } as const;
  const restore = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const fields = parseFields(restoreFields, requestData(req));
    if (deps.restoreSnapshot === undefined) {
      throw new CofferError(
        'unsupported_operation',
        'this storage backend cannot restore snapshots',
      );
    }
    if (await core.isInitialized()) throw restoreIntoInitialised();
    const text = fields.snapshot ?? '';
    if (text === '' || !/^[A-Za-z0-9+/]+=*$/.test(text)) {
      throw invalidField('snapshot', 'must be the snapshot file in base64');
    }
    await deps.restoreSnapshot(Buffer.from(text, 'base64'));
    return reply.code(204).send();
  };
  app.put('/v1/sys/storage/raft/snapshot-force', restore);
  app.post('/v1/sys/storage/raft/snapshot-force', restore);

  const unsealFields = {
    key: { type: 'string', description: 'One unseal key share, hex or base64.' },
    reset: { type: 'bool', description: 'Discard the shares submitted so far.' },
    migrate: { type: 'bool', description: 'Not supported.' },
  } as const;
  const unseal = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const fields = parseFields(unsealFields, requestData(req));
    if (fields.migrate === true) throw invalidField('migrate', 'seal migration is not supported');
    if (fields.reset === true) {
      await core.resetUnseal();
    } else {
      if (fields.key === undefined || fields.key === '') throw invalidField('key', 'is required');
      if (!(await core.isInitialized())) {
        throw new CofferError('invalid_request', 'Vault is not initialized');
      }
      if (!core.isSealed) return sendJson(reply, 200, await sealStatusBody());
      await core.unseal(decodeKey(fields.key));
    }
    return sendJson(reply, 200, await sealStatusBody());
  };
  app.put('/v1/sys/unseal', unseal);
  app.post('/v1/sys/unseal', unseal);

  const seal = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    if (core.isSealed) throw new CofferError('sealed', 'Vault is sealed');
    await core.seal(requestToken(req), clientAddress(req));
    return reply.code(204).send();
  };
  app.put('/v1/sys/seal', seal);
  app.post('/v1/sys/seal', seal);

  const stepDown = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    await core.stepDown(requestToken(req), clientAddress(req));
    return reply.code(204).send();
  };
  app.put('/v1/sys/step-down', stepDown);
  app.post('/v1/sys/step-down', stepDown);
  registerCeremonyRoutes(app, {
    ceremonies: core.ceremonies,
    isSealed: () => core.isSealed,
    isInitialized: () => core.isInitialized(),
    sendJson,
    decodeKey,
  });

  app.get('/v1/sys/leader', async (_req, reply) => {
    if (!(await core.isInitialized())) {
      throw new CofferError('not_initialized', 'Vault is not initialized');
    }
    const ha = await deps.ha?.currentStatus();
    return sendJson(reply, 200, {
      ha_enabled: ha !== undefined,
      is_self: ha?.isSelf ?? false,
      active_time:
        ha?.activeSince === undefined
          ? '0001-01-01T00:00:00Z'
          : new Date(ha.activeSince).toISOString(),
      leader_address: ha?.leaderAddress ?? '',
      leader_cluster_address: ha?.leaderClusterAddress ?? '',
      performance_standby: false,
      performance_standby_last_remote_wal: 0,
      raft_committed_index: 0,
      raft_applied_index: 0,
    });
  });

  const health = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const query = new URLSearchParams((req.raw.url ?? '').split('?')[1] ?? '');
    const code = (name: string, fallback: number): number => {
      const raw = query.get(name);
      if (raw === null || raw === '') return fallback;
      const n = parseInt64(raw, name);
      if (n < 100 || n > 599) throw invalidField(name, 'must be an HTTP status code');
      return n;
    };
    // Every code is parsed, so a malformed value is a 400 whatever the state.
    const uninitCode = code('uninitcode', 501);
    const sealedCode = code('sealedcode', 503);
    const activeCode = code('activecode', 200);
    const standbyCode = code('standbycode', 429);
    code('performancestandbycode', 473);
    const standbyOkRaw = query.get('standbyok');
    const standbyOk =
      standbyOkRaw !== null && standbyOkRaw !== '' && parseBool(standbyOkRaw, 'standbyok');
    const initialized = await core.isInitialized();
    const standby = core.isStandby;
    const sealed = core.isSealed && !standby;
    const status = !initialized
      ? uninitCode
      : sealed
        ? sealedCode
        : standby
          ? standbyOk
            ? activeCode
            : standbyCode
          : activeCode;
    const body = {
      initialized,
      sealed,
      standby,
      performance_standby: false,
      replication_performance_mode: 'disabled',
      replication_dr_mode: 'disabled',
      server_time_utc: Math.floor(deps.now() / 1000),
      version: deps.version,
    };
    if (req.method === 'HEAD') return reply.code(status).header('content-type', JSON_TYPE).send();
    return sendJson(reply, status, body);
  };
  app.route({
    method: ['GET', 'HEAD'],
    url: '/v1/sys/health',
    exposeHeadRoute: false,
    handler: health,
  });
}
