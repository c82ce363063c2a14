// The AWS Secrets Manager door: `POST /` with `X-Amz-Target: secretsmanager.<Action>` and a
// JSON 1.1 body, signed with SigV4. Each action becomes ONE Core.handleRequest on the engine's
// mount (BatchGetSecretValue: one per secret), with the door credential and the method, so
// ACL, audit and sealing apply exactly as for the Vault door. Answers in AWS's shapes: PascalCase
// JSON, epoch-second numbers, `{"__type", "message"}` errors, `x-amzn-RequestId`, and a `Date`
// header that SDKs correct their clock from.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Core } from '../../core/core.js';
import {
  AWS_ACTIONS,
  actionPath,
  isAwsAction,
  TARGET_PREFIX,
  type AwsAction,
} from '../../engines/aws-secrets/actions.js';
import { parseSecretId, REGION_PATTERN } from '../../engines/aws-secrets/common.js';
import { CofferError, isCofferError } from '../../sdk/errors.js';
import type { EngineResult } from '../../sdk/engine.js';
import { isPlainObject, type JsonObject, type JsonValue } from '../../sdk/json.js';
import { checkJsonLimits, DEFAULT_BODY_LIMITS } from '../body.js';
import {
  checkClock,
  headerValues,
  parseAuthorization,
  SigV4Error,
  verifySignature,
  type ParsedAuth,
} from './sigv4.js';
import { clientAddress } from '../client-address.js';

export const AWS_JSON = 'application/x-amz-json-1.1';
/** Ample for a 64 KiB secret in base64 plus the rest of any request (AWS caps far lower). */
export const AWS_MAX_BODY_BYTES = 1024 * 1024;

export interface AwsDoorOptions {
  readonly core: Core;
  readonly logger: Logger;
  readonly now: () => number;
  /** The aws-sm mount the door serves, with its trailing slash ("aws/"). */
  readonly mountPath: string;
}

/** An AWS error reply: `__type`, `message`, and the HTTP status clients expect. */
export class AwsError extends Error {
  readonly type: string;
  readonly status: number;

  constructor(type: string, message: string, status = 400) {
    super(message);
    this.type = type;
    this.status = status;
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    awsAuth?: { auth: ParsedAuth; secret: string };
  }
}

function header(req: FastifyRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** Any error as AWS renders it. SECURITY: unknown throwables become "internal error". */
export function toAwsError(err: unknown, action: string): AwsError {
  if (err instanceof AwsError) return err;
  if (err instanceof SigV4Error) return new AwsError(err.type, err.message);
  if (!isCofferError(err)) return new AwsError('InternalServiceError', 'internal error', 500);
  if (err.doorCode !== undefined) {
    return new AwsError(err.doorCode, err.message, err.code === 'internal' ? 500 : 400);
  }
  switch (err.code) {
    case 'permission_denied':
      return err.field === 'credential'
        ? new AwsError(
            'UnrecognizedClientException',
            'The security token included in the request is invalid.',
          )
        : new AwsError(
            'AccessDeniedException',
            `User is not authorized to perform: secretsmanager:${action} because no Coffer policy allows it`,
          );
    case 'not_found':
      return new AwsError(
        'ResourceNotFoundException',
        "Secrets Manager can't find the specified secret.",
      );
    case 'sealed':
      return new AwsError('ServiceUnavailableException', 'Coffer is sealed.', 503);
    case 'not_active':
      return new AwsError('ServiceUnavailableException', 'This Coffer node is not active.', 503);
    case 'no_route':
      return new AwsError(
        'InternalServiceError',
        'The AWS door has no aws-sm mount to serve.',
        500,
      );
    case 'payload_too_large':
      return new AwsError('RequestEntityTooLargeException', 'Request body is too large.', 413);
    case 'rate_limited':
      return new AwsError('ThrottlingException', err.message);
    case 'invalid_request':
    case 'cas_mismatch':
      return new AwsError('InvalidParameterException', err.message);
    case 'upstream_failure':
      return new AwsError('InternalServiceError', err.message, 500);
    case 'internal':
    case 'integrity_failure':
      return new AwsError('InternalServiceError', 'internal error', 500);
    case 'already_initialized':
    case 'not_initialized':
    case 'unsupported_media_type':
    case 'unsupported_operation':
    case 'unsupported_path':
      return new AwsError('InvalidRequestException', err.message);
  }
}

function send(reply: FastifyReply, status: number, body: JsonObject): FastifyReply {
  return reply
    .code(status)
    .header('content-type', AWS_JSON)
    .header('x-amzn-requestid', reply.request.id)
    .send(Buffer.from(JSON.stringify(body)));
}

/** Parses the JSON body: an object, within the body limits; SerializationException otherwise. */
function parseInput(body: Buffer): JsonObject {
  const text = body.toString('utf8');
  if (text.trim() === '') return {};
  try {
    checkJsonLimits(text, DEFAULT_BODY_LIMITS);
    const parsed: unknown = JSON.parse(text);
    if (isPlainObject(parsed)) return parsed as JsonObject;
  } catch {
    // falls through
  }
  throw new AwsError('SerializationException', 'The request body is not a JSON object.');
}

export function registerAwsDoor(app: FastifyInstance, options: AwsDoorOptions): void {
  const { core, now } = options;
  const mount = options.mountPath;

  void app.register((scope, _opts, done) => {
    scope.addContentTypeParser(
      AWS_JSON,
      { parseAs: 'buffer', bodyLimit: AWS_MAX_BODY_BYTES },
      (_req, body, next) => {
        next(null, body);
      },
    );

    scope.setErrorHandler((err, req, reply) => {
      const fastifyCode = (err as { code?: string }).code;
      const action = actionOf(req) ?? 'Unknown';
      const error =
        fastifyCode === 'FST_ERR_CTP_BODY_TOO_LARGE'
          ? new AwsError('RequestEntityTooLargeException', 'Request body is too large.', 413)
          : fastifyCode === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
            ? new AwsError('SerializationException', `Content-Type must be ${AWS_JSON}.`)
            : toAwsError(err, action);
      if (error.status >= 500 && !(isCofferError(err) && err.code === 'sealed')) {
        options.logger.error(
          { reqId: req.id, err: isCofferError(err) ? err.code : 'error' },
          'aws door request failed',
        );
      }
      // Refused before the body was read: do not keep reading it on this connection.
      if (req.awsAuth === undefined) void reply.header('connection', 'close');
      return reply
        .code(error.status)
        .header('content-type', AWS_JSON)
        .header('x-amzn-requestid', req.id)
        .header('x-amzn-errortype', error.type)
        .send(Buffer.from(JSON.stringify({ __type: error.type, message: error.message })));
    });

    scope.route({
      method: 'POST',
      url: '/',
      bodyLimit: AWS_MAX_BODY_BYTES,
      // SECURITY: authentication before the body is buffered. Only a well-formed, current
      // signature by a known key gets its body read (and the body is capped).
      preParsing: async (req, _reply, payload) => {
        const auth = parseAuthorization(header(req, 'authorization'), header(req, 'x-amz-date'));
        if (!REGION_PATTERN.test(auth.region)) {
          throw new AwsError(
            'InvalidSignatureException',
            'Credential should be scoped to a valid region.',
          );
        }
        checkClock(auth, now());
        if (new URLSearchParams((req.raw.url ?? '').split('?')[1] ?? '').size > 0) {
          throw new AwsError(
            'InvalidRequestException',
            'Query-string authentication and parameters are not supported.',
          );
        }
        const record = await core.doorCredentials.lookup('aws', auth.accessKeyId);
        const secret = record?.material['secret_access_key'];
        if (typeof secret !== 'string') {
          throw new AwsError(
            'UnrecognizedClientException',
            'The security token included in the request is invalid.',
          );
        }
        req.awsAuth = { auth, secret };
        return payload;
      },
      handler: async (req, reply) => {
        const { auth, secret } = req.awsAuth!;
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        verifySignature({
          auth,
          secret,
          method: 'POST',
          path: (req.raw.url ?? '/').split('?')[0]!,
          headers: headerValues(req.raw.rawHeaders),
          body,
        });
        if (header(req, 'x-amz-security-token') !== undefined) {
          throw new AwsError(
            'UnrecognizedClientException',
            'The security token included in the request is invalid.',
          );
        }
        const target = header(req, 'x-amz-target') ?? '';
        const action = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
        if (!isAwsAction(action)) {
          throw new AwsError(
            'UnknownOperationException',
            'The requested operation is not supported by this service.',
          );
        }
        const input = parseInput(body);
        const result =
          action === 'BatchGetSecretValue'
            ? await batchGet(req, auth, input)
            : await call(req, auth, action, input);
        return send(reply, 200, result);
      },
    });
    done();
  });

  function actionOf(req: FastifyRequest): string | undefined {
    const target = header(req, 'x-amz-target') ?? '';
    return target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : undefined;
  }

  /** The name (and region) an action is about, from Name or SecretId. */
  function targetOf(
    action: AwsAction,
    region: string,
    input: JsonObject,
  ): { region: string; name?: string } {
    const route = AWS_ACTIONS[action];
    if (route.target !== 'secret') return { region };
    const member = action === 'CreateSecret' ? 'Name' : 'SecretId';
    const value = input[member];
    if (typeof value !== 'string' || value === '') {
      throw new AwsError(
        'ValidationException',
        `1 validation error detected: Value at '${member.charAt(0).toLowerCase()}${member.slice(1)}' failed to satisfy constraint: Member must not be null`,
      );
    }
    if (value.length > 2048) {
      throw new AwsError(
        'ValidationException',
        `1 validation error detected: Value at '${member.charAt(0).toLowerCase()}${member.slice(1)}' failed to satisfy constraint: Member must have length less than or equal to 2048`,
      );
    }
    if (action === 'CreateSecret') return { region, name: value };
    const ref = parseSecretId(value, region);
    return { region: ref.region, name: ref.name };
  }

  async function call(
    req: FastifyRequest,
    auth: ParsedAuth,
    action: AwsAction,
    input: JsonObject,
  ): Promise<JsonObject> {
    const target = targetOf(action, auth.region, input);
    const result: EngineResult = await core.handleRequest({
      operation: AWS_ACTIONS[action].operation,
      path: `${mount}${actionPath(action, target.region, target.name)}`,
      data: input,
      token: undefined,
      credential: { api: 'aws', id: auth.accessKeyId },
      door: { api: 'aws', method: `${TARGET_PREFIX}${action}` },
      requestId: req.id,
      remoteAddress: clientAddress(req),
    });
    if (result.kind !== 'data') return {};
    return result.data;
  }

  /**
   * BatchGetSecretValue: one GetSecretValue-shaped core request per secret (each authorised
   * and audited on its own), per-secret failures in Errors; with Filters, a ListSecrets first.
   */
  async function batchGet(
    req: FastifyRequest,
    auth: ParsedAuth,
    input: JsonObject,
  ): Promise<JsonObject> {
    const ids = input['SecretIdList'];
    const filters = input['Filters'];
    const hasIds = Array.isArray(ids);
    const hasFilters = Array.isArray(filters);
    if (hasIds === hasFilters) {
      throw new AwsError(
        'InvalidParameterException',
        'Specify either SecretIdList or Filters, not both and not neither.',
      );
    }
    let secretIds: string[];
    let nextToken: string | undefined;
    if (hasIds) {
      if (input['MaxResults'] !== undefined) {
        throw new AwsError(
          'InvalidParameterException',
          'MaxResults can only be used with Filters.',
        );
      }
      if (ids.length < 1 || ids.length > 20 || !ids.every((i) => typeof i === 'string')) {
        throw new AwsError(
          'ValidationException',
          "1 validation error detected: Value at 'secretIdList' failed to satisfy constraint: Member must have length between 1 and 20",
        );
      }
      secretIds = ids;
    } else {
      const max = input['MaxResults'];
      if (max !== undefined && (typeof max !== 'number' || max < 1 || max > 20)) {
        throw new AwsError(
          'ValidationException',
          "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 20",
        );
      }
      const listed = await call(req, auth, 'ListSecrets', {
        Filters: filters as JsonValue,
        MaxResults: max ?? 20,
        ...(typeof input['NextToken'] === 'string' ? { NextToken: input['NextToken'] } : {}),
      });
      secretIds = ((listed['SecretList'] ?? []) as JsonObject[]).map((s) =>
        typeof s['Name'] === 'string' ? s['Name'] : '',
      );
      nextToken = typeof listed['NextToken'] === 'string' ? listed['NextToken'] : undefined;
    }
    const values: JsonValue[] = [];
    const errors: JsonValue[] = [];
    for (const secretId of secretIds) {
      try {
        const value = await call(req, auth, 'BatchGetSecretValue', { SecretId: secretId });
        values.push(value);
      } catch (err) {
        if (isCofferError(err) && (err.code === 'sealed' || err.field === 'credential')) throw err;
        const aws = toAwsError(err, 'GetSecretValue');
        if (aws.status >= 500) throw err;
        errors.push({ SecretId: secretId, ErrorCode: aws.type, Message: aws.message });
      }
    }
    return {
      SecretValues: values,
      Errors: errors,
      ...(nextToken === undefined ? {} : { NextToken: nextToken }),
    };
  }
}

export { CofferError };
