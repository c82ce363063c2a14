// GET /v1/sys/events/stream: secret-change events as server-sent events, for `coffer run
// --watch`, the agent and later the Kubernetes sync. Each event names a path and version the
// token may read, never a value. The stream ends when the token stops being valid or the
// server seals.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ChangeEvent } from '../core/change-events.js';
import type { Core } from '../core/core.js';
import { invalidField } from '../sdk/errors.js';
import { clientAddress } from './client-address.js';

export const EVENTS_PATH = '/v1/sys/events/stream';
export const DEFAULT_HEARTBEAT_MS = 15_000;
const MAX_PREFIXES = 64;

function prefixesOf(req: FastifyRequest): string[] {
  const raw = (req.query as Record<string, unknown>)['prefix'];
  const list = raw === undefined ? [''] : Array.isArray(raw) ? raw : [raw];
  if (list.length > MAX_PREFIXES) throw invalidField('prefix', `at most ${MAX_PREFIXES} allowed`);
  return list.map((value) => {
    if (typeof value !== 'string') throw invalidField('prefix', 'must be a string');
    return value.replace(/^\/+/, '');
  });
}

function eventFrame(event: ChangeEvent): string {
  const data = {
    path: event.path,
    mount: event.mount,
    operation: event.operation,
    ...(event.version === undefined ? {} : { version: event.version }),
    ...(event.eventType === undefined ? {} : { eventType: event.eventType }),
    ...(event.secretId === undefined ? {} : { secretId: event.secretId }),
    time: new Date(event.time).toISOString(),
  };
  return `event: change\nid: ${event.seq}\ndata: ${JSON.stringify(data)}\n\n`;
}

export function registerEventsRoute(
  app: FastifyInstance,
  deps: {
    readonly core: Core;
    readonly tokenOf: (req: FastifyRequest) => string | undefined;
    readonly heartbeatMs?: number;
  },
): void {
  app.get(EVENTS_PATH, async (req, reply) => {
    const prefixes = prefixesOf(req);
    let write: (chunk: string) => void = () => undefined;
    let end: (reason: string) => void = () => undefined;
    // Authenticated and audited before any byte of the stream is sent, so a bad token gets
    // the usual JSON error.
    const subscription = await deps.core.subscribeChanges({
      token: deps.tokenOf(req),
      remoteAddress: clientAddress(req),
      requestId: req.id,
      prefixes,
      onEvent: (event) => {
        write(eventFrame(event));
      },
      onEnd: (reason) => {
        end(reason);
      },
    });
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    let open = true;
    const heartbeat = setInterval(() => {
      write(': ping\n\n');
    }, deps.heartbeatMs ?? DEFAULT_HEARTBEAT_MS);
    heartbeat.unref();
    const finish = (): void => {
      if (!open) return;
      open = false;
      clearInterval(heartbeat);
      subscription.close();
    };
    write = (chunk) => {
      if (open) res.write(chunk);
    };
    end = (reason) => {
      if (!open) return;
      res.write(`event: end\ndata: ${JSON.stringify({ reason })}\n\n`);
      finish();
      res.end();
    };
    req.raw.on('close', finish);
    res.on('close', finish);
    res.write('event: ready\ndata: {}\n\n');
  });
}
