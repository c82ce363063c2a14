// The client address a request is judged by (CIDR bindings, rate limits, lockout, audit).
// Normally the socket's peer. Behind an HA standby that forwarded the request, the peer is the
// standby, so the standby states the client's address in a header, authenticated with a key
// every unsealed node of the cluster derives (Core.forwardingKey). The active node believes the
// statement only if its MAC verifies and it is fresh; a client cannot forge one, and one seen on
// the wire is bound to its method, URL, token and moment.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';

export const FORWARDED_FOR_HEADER = 'x-coffer-forwarded-for';
export const FORWARDED_MAC_HEADER = 'x-coffer-forwarded-mac';
/** How far a statement's time may be from the active node's clock. */
const FRESH_MS = 60_000;

const stated = new WeakMap<FastifyRequest, string>();

/** The address to judge this request by. */
export function clientAddress(req: FastifyRequest): string {
  return stated.get(req) ?? req.ip;
}

function mac(key: Buffer, at: number, method: string, url: string, token: string, ip: string) {
  return createHmac('sha256', key)
    .update(`${at}\n${method}\n${url}\n${token}\n${ip}`)
    .digest('base64url');
}

function tokenHeader(headers: IncomingHttpHeaders): string {
  const token = headers['x-vault-token'] ?? headers.authorization ?? '';
  return Array.isArray(token) ? token.join(',') : token;
}

/** Headers a standby adds to a request it forwards (replacing any the client sent). */
export function statementHeaders(
  key: Buffer,
  now: number,
  method: string,
  url: string,
  headers: IncomingHttpHeaders,
  ip: string,
): Record<string, string> {
  return {
    [FORWARDED_FOR_HEADER]: ip,
    [FORWARDED_MAC_HEADER]: `v1.${now}.${mac(key, now, method, url, tokenHeader(headers), ip)}`,
  };
}

/** Checks a forwarded request's statement; the address, or undefined when it does not hold. */
export function verifyStatement(
  key: Buffer,
  now: number,
  method: string,
  url: string,
  headers: IncomingHttpHeaders,
): string | undefined {
  const ip = headers[FORWARDED_FOR_HEADER];
  const stamp = headers[FORWARDED_MAC_HEADER];
  if (typeof ip !== 'string' || typeof stamp !== 'string') return undefined;
  const match = /^v1\.(\d{1,15})\.([A-Za-z0-9_-]{43})$/.exec(stamp);
  if (match === null) return undefined;
  const at = Number(match[1]);
  if (Math.abs(now - at) > FRESH_MS) return undefined;
  const expected = Buffer.from(mac(key, at, method, url, tokenHeader(headers), ip));
  const given = Buffer.from(match[2]!);
  return expected.length === given.length && timingSafeEqual(expected, given) ? ip : undefined;
}

/**
 * On every node of an HA cluster: a request carrying a statement is judged by the stated
 * address when the statement verifies; otherwise by its peer, with a warning (a client that
 * sends the headers itself, a node of another cluster, or a clock more than a minute off).
 */
export function registerForwardedAddress(
  app: FastifyInstance,
  deps: { forwardingKey(): Promise<Buffer | undefined>; logger: Logger; now?: () => number },
): void {
  app.addHook('onRequest', async (req) => {
    if (req.headers[FORWARDED_FOR_HEADER] === undefined) return;
    const key = await deps.forwardingKey();
    const address =
      key === undefined
        ? undefined
        : verifyStatement(
            key,
            (deps.now ?? Date.now)(),
            req.method,
            req.raw.url ?? '',
            req.headers,
          );
    if (address === undefined) {
      deps.logger.warn(
        { reqId: req.id },
        'a forwarded client address did not verify; judging the request by its peer address',
      );
      return;
    }
    stated.set(req, address);
  });
}
