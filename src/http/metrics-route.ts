// GET /v1/sys/metrics: the server's metrics as Vault serves them, JSON by default and the
// Prometheus text format with ?format=prometheus. A token with `read` on sys/metrics is
// needed (checked and audited by the core) unless the configuration allows unauthenticated
// scrapes (`telemetry { unauthenticated_metrics_access = true }`).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Core } from '../core/core.js';
import type { Metrics } from '../core/metrics.js';
import { invalidField } from '../sdk/errors.js';
import { clientAddress } from './client-address.js';

export const METRICS_PATH = '/v1/sys/metrics';

export interface MetricsRouteDeps {
  readonly core: Core;
  readonly metrics: Metrics;
  readonly unauthenticated: boolean;
  readonly tokenOf: (req: FastifyRequest) => string | undefined;
  readonly now: () => number;
}

export function registerMetricsRoute(app: FastifyInstance, deps: MetricsRouteDeps): void {
  app.get(METRICS_PATH, async (req, reply) => {
    const query = new URLSearchParams((req.raw.url ?? '').split('?')[1] ?? '');
    const format = query.get('format') ?? '';
    if (format !== '' && format !== 'prometheus' && format !== 'json') {
      throw invalidField('format', 'must be "prometheus", or empty for JSON');
    }
    if (!deps.unauthenticated) {
      // SECURITY: the same pipeline as any read: sealed → 503, token and ACL, audited.
      await deps.core.handleRequest({
        operation: 'read',
        path: 'sys/metrics',
        data: format === '' ? {} : { format },
        token: deps.tokenOf(req),
        requestId: req.id,
        remoteAddress: clientAddress(req),
      });
    }
    if (format === 'prometheus') {
      const text = await deps.metrics.prometheus();
      return reply.code(200).header('content-type', text.contentType).send(text.body);
    }
    const body = await deps.metrics.json(deps.now());
    return reply
      .code(200)
      .header('content-type', 'application/json')
      .send(Buffer.from(JSON.stringify(body)));
  });
}
