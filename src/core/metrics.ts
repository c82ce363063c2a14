// The server's metrics: every metric name and label is declared here, in one registry per
// server (prom-client), rendered as Prometheus text or as Vault's JSON form for sys/metrics.
// SECURITY: labels hold only mount paths and types, operations, error codes, outcomes and
// fixed bucket names: never a secret, a request path below a mount, a token or an accessor.
import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type Metric,
  type MetricType,
  type MetricObjectWithValues,
  type MetricValue,
  type MetricValueWithName,
} from 'prom-client';

/** The mount a request was routed to; `none` when it was refused before routing. */
export interface RequestMetric {
  /** The mount path ("secret/", "auth/userpass/", "sys/"), or "none". */
  readonly mount: string;
  readonly mountType: string;
  readonly operation: string;
  /** "ok", or the error code the request ended with ("permission_denied", "sealed", ...). */
  readonly outcome: string;
  readonly seconds: number;
}

/** What the metrics read from the server at scrape time. */
export interface MetricSources {
  sealed(): boolean;
  initialized(): Promise<boolean>;
  /** Leases by expiry (see LeaseManager.countByExpiry); undefined while sealed. */
  leaseCounts(
    edgesMs: readonly number[],
  ): Promise<{ readonly counts: number[]; readonly irrevocable: number } | undefined>;
}

/** Bucket names of `coffer_leases`, and the upper edges (from now) of all but the last. */
export const LEASE_BUCKETS = ['1h', '1d', '7d', '30d', 'later'] as const;
const LEASE_EDGES_MS = [3_600_000, 86_400_000, 7 * 86_400_000, 30 * 86_400_000];
/** Lease counts read storage; a scrape reuses them for this long. */
const LEASE_CACHE_MS = 15_000;

const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const COMMIT_BUCKETS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1];

interface RequestSeries {
  readonly labels: Readonly<Record<'mount' | 'mount_type' | 'operation' | 'outcome', string>>;
  /** Observations per bucket (not cumulative); the last slot is above every bound. */
  readonly counts: number[];
  sum: number;
  count: number;
}

/**
 * `coffer_request_duration_seconds`, aggregated here and handed to prom-client's registry as a
 * metric of its own: prom-client's Histogram validates and hashes the label set on every
 * observation, a few per cent of a KV read's server time. The exposition is the same
 * (cumulative `_bucket` series with `le`, `_sum`, `_count`).
 */
class RequestDurations {
  readonly name = 'coffer_request_duration_seconds';
  readonly help = 'Logical requests by mount, operation and outcome; _count is the request count.';
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #series = new Map<string, RequestSeries>();

  observe(m: Omit<RequestMetric, 'seconds'>, seconds: number): void {
    const key = `${m.mount}\u0000${m.mountType}\u0000${m.operation}\u0000${m.outcome}`;
    let series = this.#series.get(key);
    if (series === undefined) {
      series = {
        labels: {
          mount: m.mount,
          mount_type: m.mountType,
          operation: m.operation,
          outcome: m.outcome,
        },
        counts: new Array<number>(REQUEST_BUCKETS.length + 1).fill(0),
        sum: 0,
        count: 0,
      };
      this.#series.set(key, series);
    }
    let bucket = 0;
    while (bucket < REQUEST_BUCKETS.length && seconds > REQUEST_BUCKETS[bucket]!) bucket++;
    series.counts[bucket]!++;
    series.sum += seconds;
    series.count++;
  }

  get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    const values: MetricValueWithName<string>[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const series of this.#series.values()) {
      let below = 0;
      REQUEST_BUCKETS.forEach((bound, i) => {
        below += series.counts[i]!;
        values.push({
          labels: { le: bound, ...series.labels },
          value: below,
          metricName: bucketName,
        });
      });
      values.push(
        { labels: { le: '+Inf', ...series.labels }, value: series.count, metricName: bucketName },
        { labels: { ...series.labels }, value: series.sum, metricName: `${this.name}_sum` },
        { labels: { ...series.labels }, value: series.count, metricName: `${this.name}_count` },
      );
    }
    return Promise.resolve({
      name: this.name,
      help: this.help,
      // prom-client's types say a numeric enum; at run time the type is the text name.
      type: this.type as unknown as MetricType,
      values,
      aggregator: this.aggregator,
      collect: () => undefined,
    });
  }

  reset(): void {
    this.#series.clear();
  }
}

export class Metrics {
  readonly registry = new Registry();
  readonly #requests = new RequestDurations();
  readonly #auditFailures: Counter<'device_type'>;
  readonly #auditRefusals: Counter;
  readonly #commits: Histogram<'backend'>;
  readonly #rotations: Counter<'mount' | 'mount_type' | 'outcome'>;
  readonly #jobs: Counter<'mount' | 'mount_type' | 'job' | 'outcome'>;
  #sources: MetricSources | undefined;
  #leaseCache: { at: number; value: Awaited<ReturnType<MetricSources['leaseCounts']>> } | undefined;

  constructor(options: { readonly now: () => number; readonly processMetrics?: boolean }) {
    const registers = [this.registry];
    this.registry.registerMetric(this.#requests as unknown as Metric);
    this.#auditFailures = new Counter({
      name: 'coffer_audit_device_failures_total',
      help: 'Times an audit device failed to open, record or checkpoint.',
      labelNames: ['device_type'],
      registers,
    });
    this.#auditRefusals = new Counter({
      name: 'coffer_audit_refused_total',
      help: 'Audit batches no device could record: their requests were refused (fail closed).',
      registers,
    });
    this.#commits = new Histogram({
      name: 'coffer_storage_commit_duration_seconds',
      help: 'Storage write transactions (one group commit each) and how long they took.',
      labelNames: ['backend'],
      buckets: COMMIT_BUCKETS,
      registers,
    });
    this.#rotations = new Counter({
      name: 'coffer_rotations_total',
      help: 'Scheduled rotations (database static roles, AWS secrets) by outcome.',
      labelNames: ['mount', 'mount_type', 'outcome'],
      registers,
    });
    this.#jobs = new Counter({
      name: 'coffer_scheduled_jobs_total',
      help: 'Scheduled engine jobs (rotations, purges, sweeps) by kind and outcome.',
      labelNames: ['mount', 'mount_type', 'job', 'outcome'],
      registers,
    });
    const sources = (): MetricSources | undefined => this.#sources;
    new Gauge({
      name: 'coffer_core_sealed',
      help: '1 while the server is sealed (or not initialised), 0 when unsealed.',
      registers,
      collect() {
        this.set(sources()?.sealed() === false ? 0 : 1);
      },
    });
    new Gauge({
      name: 'coffer_core_initialized',
      help: '1 once the server is initialised.',
      registers,
      async collect() {
        this.set((await sources()?.initialized()) === true ? 1 : 0);
      },
    });
    const leases = async (): Promise<Awaited<ReturnType<MetricSources['leaseCounts']>>> => {
      const now = options.now();
      const cached = this.#leaseCache;
      if (cached !== undefined && now - cached.at < LEASE_CACHE_MS) return cached.value;
      const value = await this.#sources?.leaseCounts(LEASE_EDGES_MS);
      this.#leaseCache = { at: now, value };
      return value;
    };
    new Gauge({
      name: 'coffer_leases',
      help: 'Stored leases by when they expire (expires_in: within 1h, 1h-1d, 1d-7d, 7d-30d, later; irrevocable).',
      labelNames: ['expires_in'],
      registers,
      async collect() {
        this.reset();
        const counts = await leases();
        if (counts === undefined) return;
        LEASE_BUCKETS.forEach((bucket, i) => {
          this.set({ expires_in: bucket }, counts.counts[i] ?? 0);
        });
        this.set({ expires_in: 'irrevocable' }, counts.irrevocable);
      },
    });
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** Connects the gauges read at scrape time (the core, once built). */
  setSources(sources: MetricSources): void {
    this.#sources = sources;
    this.#leaseCache = undefined;
  }

  /** Starts timing one request; call the result with its labels when it ends. */
  startRequest(): (m: Omit<RequestMetric, 'seconds'>) => void {
    const start = performance.now();
    return (m) => {
      this.#requests.observe(m, (performance.now() - start) / 1000);
    };
  }

  auditDeviceFailure(deviceType: string): void {
    this.#auditFailures.inc({ device_type: deviceType });
  }

  auditRefused(): void {
    this.#auditRefusals.inc();
  }

  /** A timer for a storage backend's commits (see CommitTimedBackend). */
  commitTimer(backend: string): () => () => void {
    return () => {
      const end = this.#commits.startTimer({ backend });
      return () => {
        end();
      };
    };
  }

  /**
   * One run of a scheduled job named `name` ("static-role/<role>", "rotate/<secret>",
   * "lockout-sweep"): only its kind (the part before "/") is a label, never the role or secret.
   */
  scheduledJob(
    mount: string,
    mountType: string,
    name: string,
    outcome: 'success' | 'failure',
  ): void {
    const kind = jobKind(name);
    this.#jobs.inc({ mount, mount_type: mountType, job: kind, outcome });
    if (ROTATION_JOBS.has(kind)) this.#rotations.inc({ mount, mount_type: mountType, outcome });
  }

  /** Prometheus text exposition format 0.0.4. */
  async prometheus(): Promise<{ readonly contentType: string; readonly body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /**
   * Vault's JSON form (go-metrics' in-memory sink): Gauges, Counters and Samples, each with
   * Name and Labels. Histograms become Samples with Count, Sum and Mean.
   */
  async json(nowMs: number): Promise<Record<string, unknown>> {
    const gauges: unknown[] = [];
    const counters: unknown[] = [];
    const samples: unknown[] = [];
    for (const metric of await this.registry.getMetricsAsJSON()) {
      // prom-client's types say a numeric enum; at run time the type is the text name.
      const type = String(metric.type);
      if (type === 'histogram') samples.push(...histogramSamples(metric));
      for (const value of metric.values) {
        if (type === 'gauge') {
          gauges.push({ Name: metric.name, Value: value.value, Labels: labelsOf(value) });
        } else if (type === 'counter') {
          counters.push({
            Name: metric.name,
            Count: value.value,
            Sum: value.value,
            Labels: labelsOf(value),
          });
        }
      }
    }
    return {
      Timestamp: new Date(nowMs).toISOString(),
      Gauges: gauges,
      Counters: counters,
      Samples: samples,
      Points: [],
    };
  }
}

/** Job kinds that are rotations: database static roles and AWS secret rotation. */
const ROTATION_JOBS = new Set(['static-role', 'rotate']);

/** The label for a job: its kind before the first "/", or "other" for anything unexpected. */
export function jobKind(name: string): string {
  const slash = name.indexOf('/');
  const kind = slash === -1 ? name : name.slice(0, slash);
  return /^[a-z][a-z-]{0,39}$/.test(kind) ? kind : 'other';
}

function labelsOf(value: MetricValue<string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value.labels)) out[k] = String(v);
  return out;
}

function histogramSamples(metric: MetricObjectWithValues<MetricValue<string>>): unknown[] {
  // prom-client lists _bucket, _sum and _count values; one sample per label set.
  const byLabels = new Map<
    string,
    { labels: Record<string, string>; count: number; sum: number }
  >();
  for (const value of metric.values) {
    const name = (value as { metricName?: string }).metricName ?? '';
    if (!name.endsWith('_sum') && !name.endsWith('_count')) continue;
    const labels = labelsOf(value);
    const key = JSON.stringify(labels);
    const entry = byLabels.get(key) ?? { labels, count: 0, sum: 0 };
    if (name.endsWith('_sum')) entry.sum = value.value;
    else entry.count = value.value;
    byLabels.set(key, entry);
  }
  return [...byLabels.values()].map((e) => ({
    Name: metric.name,
    Count: e.count,
    Sum: e.sum,
    Mean: e.count === 0 ? 0 : e.sum / e.count,
    Labels: e.labels,
  }));
}
