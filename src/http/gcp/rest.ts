// The Google Secret Manager door over REST: Secret Manager v1's HTTP bindings
// (`/v1/projects/p/secrets/s/versions/v:access`, proto3 JSON) plus Resource Manager's project
// IAM (`/v1/projects/p:getIamPolicy`) and Locations, on its OWN listener (docs/adr/0007):
// `/v1/projects/...` would otherwise collide with the Vault API's `/v1/<mount>`. Bearer tokens
// are Coffer tokens; enums render as names, or as numbers with `$alt=json;enum-encoding=int`
// (what the Node client sends); errors are `{"error": {code, message, status}}`.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Core } from '../../core/core.js';
import { type GcpMethod } from '../../engines/gcp-sm/methods.js';
import { CofferError, isCofferError } from '../../sdk/errors.js';
import { isPlainObject, type JsonObject, type JsonValue } from '../../sdk/json.js';
import { checkJsonLimits, DEFAULT_BODY_LIMITS } from '../body.js';
import type { GcpAuth } from './auth.js';
import { callCore } from './call.js';
import { clientErrorHandler } from '../client-error.js';
import { STATUS, toGoogleError } from './errors.js';
import { encodeEnums } from './enums.js';

/** Ample for a 64 KiB payload in base64 plus the rest of any request. */
export const GCP_MAX_BODY_BYTES = 1024 * 1024;

export interface GcpRestOptions {
  readonly core: Core;
  readonly logger: Logger;
  /** The gcp-sm mount the door serves, with its trailing slash ("gcp/"). */
  readonly mountPath: string;
  /** Turns the Authorization header into a token or a verified credential. */
  readonly auth: GcpAuth;
}

/** Query parameters that only shape the response (or carry API keys we do not use). */
const IGNORED_QUERY = new Set(['$alt', 'alt', 'prettyPrint', '$.xgafv', 'fields', 'quotaUser']);

interface Route {
  readonly method: GcpMethod;
  readonly resource: string;
}

/**
 * Which method an HTTP verb and path denote (Secret Manager's google.api.http bindings).
 * `path` is after `/v1/`, with any `:verb` split off.
 */
function routeOf(
  httpMethod: string,
  name: string,
  verb: string | undefined,
): GcpMethod | undefined {
  const segments = name.split('/');
  const last = segments.at(-1);
  const secretsCollection = last === 'secrets';
  const versionsCollection = last === 'versions';
  const isProject = /^projects\/[^/]+$/.test(name);
  const isLocation = /^projects\/[^/]+\/locations\/[^/]+$/.test(name);
  const isLocations = /^projects\/[^/]+\/locations$/.test(name);
  const isVersion = segments.at(-2) === 'versions';
  const isSecret = segments.at(-2) === 'secrets';
  if (verb !== undefined) {
    const byVerb: Record<string, [string, GcpMethod, boolean][]> = {
      addVersion: [['POST', 'AddSecretVersion', isSecret]],
      access: [['GET', 'AccessSecretVersion', isVersion]],
      enable: [['POST', 'EnableSecretVersion', isVersion]],
      disable: [['POST', 'DisableSecretVersion', isVersion]],
      destroy: [['POST', 'DestroySecretVersion', isVersion]],
      getIamPolicy: [
        ['GET', 'GetIamPolicy', isSecret],
        ['POST', 'GetProjectIamPolicy', isProject],
      ],
      setIamPolicy: [
        ['POST', 'SetIamPolicy', isSecret],
        ['POST', 'SetProjectIamPolicy', isProject],
      ],
      testIamPermissions: [
        ['POST', 'TestIamPermissions', isSecret],
        ['POST', 'TestProjectIamPermissions', isProject],
      ],
    };
    return (byVerb[verb] ?? []).find(([m, , ok]) => m === httpMethod && ok)?.[1];
  }
  if (secretsCollection) {
    return httpMethod === 'GET'
      ? 'ListSecrets'
      : httpMethod === 'POST'
        ? 'CreateSecret'
        : undefined;
  }
  if (versionsCollection) return httpMethod === 'GET' ? 'ListSecretVersions' : undefined;
  if (isLocations) return httpMethod === 'GET' ? 'ListLocations' : undefined;
  if (isLocation) return httpMethod === 'GET' ? 'GetLocation' : undefined;
  if (isVersion) return httpMethod === 'GET' ? 'GetSecretVersion' : undefined;
  if (isSecret) {
    const byMethod: Record<string, GcpMethod> = {
      GET: 'GetSecret',
      PATCH: 'UpdateSecret',
      DELETE: 'DeleteSecret',
    };
    return byMethod[httpMethod];
  }
  return undefined;
}

function parseRoute(httpMethod: string, rawPath: string): Route {
  const notFound = () =>
    new CofferError('unsupported_path', 'unsupported path', { doorCode: 'NOT_FOUND' });
  if (!rawPath.startsWith('/v1/')) throw notFound();
  let path: string;
  try {
    path = decodeURIComponent(rawPath.slice(4));
  } catch {
    throw notFound();
  }
  const colon = path.lastIndexOf(':');
  const slash = path.lastIndexOf('/');
  const hasVerb = colon > slash;
  const name = hasVerb ? path.slice(0, colon) : path;
  const verb = hasVerb ? path.slice(colon + 1) : undefined;
  const method = routeOf(httpMethod, name, verb);
  if (method === undefined) throw notFound();
  const resource =
    method === 'ListSecrets' || method === 'CreateSecret' || method === 'ListSecretVersions'
      ? name.slice(0, name.lastIndexOf('/'))
      : method === 'ListLocations'
        ? name.slice(0, name.lastIndexOf('/'))
        : name;
  return { method, resource };
}

/** Query parameters as message fields; `a.b=1` becomes `{a: {b: "1"}}`. */
function queryInput(query: URLSearchParams): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  for (const [key, value] of query) {
    if (IGNORED_QUERY.has(key)) continue;
    const parts = key.split('.');
    let node: Record<string, JsonValue> = out;
    for (const part of parts.slice(0, -1)) {
      const next = node[part];
      if (!isPlainObject(next)) node[part] = {};
      node = node[part] as Record<string, JsonValue>;
    }
    node[parts.at(-1)!] = value;
  }
  return out;
}

/** The request message: the body where the binding says `body: "*"`, or the named field. */
function messageOf(
  method: GcpMethod,
  body: JsonObject,
  query: Record<string, JsonValue>,
): JsonObject {
  // CreateSecret and UpdateSecret bind `body: "secret"`; the others `body: "*"`.
  return method === 'CreateSecret' || method === 'UpdateSecret'
    ? { ...query, secret: body }
    : { ...query, ...body };
}

function wantsIntEnums(query: URLSearchParams): boolean {
  const alt = query.get('$alt') ?? '';
  return alt.split(';').some((p) => p.trim() === 'enum-encoding=int');
}

function parseBody(raw: string): JsonObject {
  if (raw.trim() === '') return {};
  try {
    checkJsonLimits(raw, DEFAULT_BODY_LIMITS);
    const parsed: unknown = JSON.parse(raw);
    if (isPlainObject(parsed)) return parsed as JsonObject;
  } catch (err) {
    if (isCofferError(err)) throw err;
  }
  throw new CofferError('invalid_request', 'body: must be a JSON object', {
    doorCode: 'INVALID_ARGUMENT',
    field: 'body',
  });
}

function sendJson(reply: FastifyReply, status: number, body: JsonValue): FastifyReply {
  return reply
    .code(status)
    .header('content-type', 'application/json; charset=UTF-8')
    .header('cache-control', 'no-store')
    .send(Buffer.from(JSON.stringify(body)));
}

/** The REST door as its own Fastify application (started on its own listener by main). */
export function buildGcpRestApp(options: GcpRestOptions): FastifyInstance {
  const { core, logger, mountPath, auth } = options;
  const app = Fastify({
    logger: false,
    bodyLimit: GCP_MAX_BODY_BYTES,
    genReqId: () => randomUUID(),
    serverFactory: (handler) => createServer(handler),
    clientErrorHandler: clientErrorHandler((status, message) =>
      JSON.stringify({
        error: {
          code: status,
          message,
          status: status === 408 ? 'DEADLINE_EXCEEDED' : 'INVALID_ARGUMENT',
        },
      }),
    ),
    routerOptions: { ignoreDuplicateSlashes: false, maxParamLength: 8192 },
    frameworkErrors: (_err, _req, reply) => {
      void sendJson(reply, 400, {
        error: { code: 400, message: 'malformed request URL', status: 'INVALID_ARGUMENT' },
      });
    },
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    done(null, body);
  });

  app.addHook('onResponse', (req, reply, done) => {
    logger.info(
      {
        reqId: req.id,
        door: 'gcp-rest',
        method: req.method,
        path: (req.raw.url ?? '').split('?')[0],
        status: reply.statusCode,
        ms: reply.elapsedTime,
      },
      'request',
    );
    done();
  });

  app.setErrorHandler((err, req, reply) => {
    const fastifyCode = (err as { code?: string }).code;
    const method = req.gcpMethod ?? 'google.cloud.secretmanager.v1.SecretManagerService';
    const google =
      fastifyCode === 'FST_ERR_CTP_BODY_TOO_LARGE'
        ? { status: 'INVALID_ARGUMENT' as const, message: 'body: request body is too large' }
        : typeof fastifyCode === 'string' && fastifyCode.startsWith('FST_ERR')
          ? { status: 'INVALID_ARGUMENT' as const, message: 'malformed request' }
          : toGoogleError(err, method);
    const { http } = STATUS[google.status];
    if (http >= 500 && !(isCofferError(err) && err.code === 'sealed')) {
      logger.error(
        { reqId: req.id, err: isCofferError(err) ? err.code : 'error' },
        'gcp door request failed',
      );
    }
    return sendJson(reply, http, {
      error: { code: http, message: google.message, status: google.status },
    });
  });

  app.route({
    method: ['GET', 'POST', 'PATCH', 'DELETE', 'PUT'],
    url: '/*',
    handler: async (req, reply) => {
      const [rawPath = '', rawQuery = ''] = (req.raw.url ?? '').split('?', 2);
      const query = new URLSearchParams(rawQuery);
      const route = parseRoute(req.method, rawPath);
      req.gcpMethod = route.method;
      const caller = await auth.resolve(req.headers.authorization);
      const body = parseBody(typeof req.body === 'string' ? req.body : '');
      const fromQuery = queryInput(query);
      const secretId = fromQuery['secretId'];
      delete fromQuery['secretId'];
      const input = messageOf(route.method, body, fromQuery);
      const data = await callCore(core, mountPath, {
        method: route.method,
        resource: route.resource,
        ...(typeof secretId === 'string' ? { secretId } : {}),
        input,
        ...caller,
        requestId: req.id,
        remoteAddress: req.ip,
      });
      return sendJson(reply, 200, wantsIntEnums(query) ? encodeEnums(data) : data);
    },
  });
  return app;
}

declare module 'fastify' {
  interface FastifyRequest {
    gcpMethod?: string;
  }
}

export type { FastifyRequest };
