// HA standbys: every client request except the few a standby answers itself (health, leader,
// seal status, unseal, init) goes to the active node, either proxied with its original method,
// headers and body ("forward", the default) or answered with a 307 to the active node's
// api_addr ("redirect").
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Core } from '../core/core.js';
import type { HaStatus } from '../core/ha-coordinator.js';
import {
  FORWARDED_FOR_HEADER,
  FORWARDED_MAC_HEADER,
  registerForwardedAddress,
  statementHeaders,
} from './client-address.js';

export type StandbyMode = 'forward' | 'redirect';

export interface StandbyDeps {
  readonly core: Core;
  readonly logger: Logger;
  readonly ha: { currentStatus(): Promise<HaStatus>; readonly mode: StandbyMode };
}

/** Answered by every node itself (Vault's standbys answer these too). */
const LOCAL_PATHS = new Set([
  '/v1/sys/health',
  '/v1/sys/leader',
  '/v1/sys/seal-status',
  '/v1/sys/unseal',
  '/v1/sys/init',
]);

/** Hop-by-hop headers (RFC 9110 §7.6.1) are not forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
]);

const FORWARD_TIMEOUT_MS = 60_000;

function forwardHeaders(
  headers: IncomingHttpHeaders,
  host: string,
  clientIp: string,
  statement: Record<string, string>,
) {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    if (name === FORWARDED_FOR_HEADER || name === FORWARDED_MAC_HEADER) continue;
    out[name] = value;
  }
  Object.assign(out, statement);
  out.host = host;
  const prior = headers['x-forwarded-for'];
  out['x-forwarded-for'] =
    typeof prior === 'string' && prior !== '' ? `${prior}, ${clientIp}` : clientIp;
  return out;
}

function unavailable(reason: string, requestId: string): Buffer {
  return Buffer.from(
    JSON.stringify({ errors: [reason], code: 'not_active', request_id: requestId }),
  );
}

export function registerStandbyForwarding(app: FastifyInstance, deps: StandbyDeps): void {
  const { core, ha, logger } = deps;
  registerForwardedAddress(app, { forwardingKey: () => core.forwardingKey(), logger });
  app.addHook('onRequest', async (req, reply) => {
    if (!core.isStandby) return;
    const path = (req.raw.url ?? '').split('?')[0]!;
    if (LOCAL_PATHS.has(path)) return;
    const leader = await ha.currentStatus();
    if (leader.isSelf) return;
    if (leader.leaderAddress === '') {
      return reply
        .code(503)
        .header('content-type', 'application/json')
        .send(unavailable('no active node is known yet; retry shortly', req.id));
    }
    const target = new URL(req.raw.url ?? '/', leader.leaderAddress);
    if (ha.mode === 'redirect') {
      return reply.code(307).header('location', target.toString()).send();
    }
    // Forward: the raw request body has not been read yet (parsing comes after onRequest).
    reply.hijack();
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    // SECURITY: the client's address, signed, so the active node judges the request by it
    // (CIDR bindings, rate limits) rather than by this standby's address.
    const key = await core.forwardingKey();
    const statement =
      key === undefined
        ? {}
        : statementHeaders(key, Date.now(), req.method, req.raw.url ?? '', req.headers, req.ip);
    const upstream = send(target, {
      method: req.method,
      headers: forwardHeaders(req.headers, target.host, req.ip, statement),
      timeout: FORWARD_TIMEOUT_MS,
    });
    const fail = (): void => {
      logger.warn({ reqId: req.id }, 'forwarding to the active node failed');
      if (!reply.raw.headersSent) {
        reply.raw.writeHead(503, { 'content-type': 'application/json' });
        reply.raw.end(unavailable('the active node could not be reached; retry', req.id));
      } else reply.raw.destroy();
    };
    upstream.on('timeout', () => upstream.destroy(new Error('timeout')));
    upstream.on('error', fail);
    upstream.on('response', (res) => {
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(res.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
      }
      reply.raw.writeHead(res.statusCode ?? 502, headers);
      res.pipe(reply.raw);
      res.on('error', () => reply.raw.destroy());
    });
    req.raw.pipe(upstream);
    req.raw.on('error', () => upstream.destroy());
  });
}
