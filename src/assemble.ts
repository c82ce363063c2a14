// Wiring of one server from its parts: storage → barrier → seal → core (with the built-in
// engines) → HTTP app. main.ts, the HTTP tests and the benchmarks all build servers here, so
// there is one assembly to keep right. It reads no environment and no clock of its own.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { AesGcmBarrier } from './barrier/aes-gcm-barrier.js';
import { Core } from './core/core.js';
import { Metrics } from './core/metrics.js';
import { builtinEngines } from './engines/registry.js';
import { buildApp } from './http/app.js';
import { doorAuth } from './http/gcp/auth.js';
import { buildGcpRestApp } from './http/gcp/rest.js';
import type { EngineFactory } from './sdk/engine.js';
import {
  isCommitTimedBackend,
  isSnapshotBackend,
  type PhysicalBackend,
} from './physical/physical.js';
import { restoreSnapshotBytes, snapshotBytes } from './physical/snapshot-bytes.js';
import { SealManager } from './seal/seal-manager.js';
import { HaCoordinator } from './core/ha-coordinator.js';
import type { StandbyMode } from './http/standby-forward.js';
import { isHaBackend } from './physical/physical.js';
import { CofferError } from './sdk/errors.js';

export interface AssembleOptions {
  readonly physical: PhysicalBackend;
  readonly logger: Logger;
  /** The clock, epoch ms (main passes the real one; tests may pass a fake). */
  readonly now: () => number;
  readonly version: string;
  /** With a static seal: the 32-byte key that protects the root key. */
  readonly staticKey?: Uint8Array;
  readonly defaultLeaseTtlSeconds: number;
  readonly maxLeaseTtlSeconds: number;
  /** How long the barrier may serve a value read again decrypted from memory; its default. */
  readonly plaintextCacheLifetimeSeconds?: number;
  readonly maxRequestSizeBytes?: number;
  /** Engines and auth methods by type; default the built-in ones (tests add their own). */
  readonly engines?: ReadonlyMap<string, EngineFactory>;
  /** The AWS door's mount path ("aws/"); absent = the door is off. */
  readonly awsDoorMount?: string;
  /** Add the process metrics (CPU, memory, event loop) to sys/metrics; main does. */
  readonly processMetrics?: boolean;
  /** `telemetry { unauthenticated_metrics_access = true }`: sys/metrics without a token. */
  readonly unauthenticatedMetrics?: boolean;
  /**
   * HA (storage with ha_enabled): this node's identity and addresses. `physical` must be a
   * fenced HA backend. The caller starts and stops `AssembledServer.ha`.
   */
  readonly ha?: {
    readonly holderId: string;
    readonly apiAddr: string;
    readonly clusterAddr?: string | undefined;
    readonly standbyMode: StandbyMode;
    readonly leaseTtlMs?: number;
  };
  /** The Google door's mount path ("gcp/"); absent = the door is off. */
  readonly gcpDoorMount?: string;
  /** This server's API address (the identity token issuer's default base). */
  readonly apiAddr?: string | undefined;
}

export interface AssembledServer {
  readonly barrier: AesGcmBarrier;
  readonly seal: SealManager;
  readonly core: Core;
  readonly app: FastifyInstance;
  readonly metrics: Metrics;
  readonly ha?: HaCoordinator;
  /** The Google door's REST application (its own listener); absent when the door is off. */
  readonly gcpRestApp?: FastifyInstance;
}

export function assembleServer(options: AssembleOptions): AssembledServer {
  const { physical, now } = options;
  const barrier = new AesGcmBarrier(physical, {
    now,
    ...(options.plaintextCacheLifetimeSeconds === undefined
      ? {}
      : { plaintextLifetimeMs: options.plaintextCacheLifetimeSeconds * 1000 }),
  });
  const seal = new SealManager({
    physical,
    barrier,
    ...(options.staticKey === undefined ? {} : { staticKey: options.staticKey }),
  });
  const metrics = new Metrics({ now, processMetrics: options.processMetrics ?? false });
  if (isCommitTimedBackend(physical)) physical.timeCommits(metrics.commitTimer(physical.type));
  const core = new Core({
    barrier,
    seal,
    engines:
      options.engines ?? builtinEngines({ logger: options.logger.child({ component: 'engines' }) }),
    now,
    defaultLeaseTtlSeconds: options.defaultLeaseTtlSeconds,
    maxLeaseTtlSeconds: options.maxLeaseTtlSeconds,
    logger: options.logger.child({ component: 'core' }),
    ...(options.ha === undefined ? {} : { standbyUntilActivated: true }),
    metrics,
    ...(isSnapshotBackend(physical) ? { snapshot: () => snapshotBytes(physical) } : {}),
    apiAddr: options.apiAddr ?? options.ha?.apiAddr,
  });
  metrics.setSources({
    sealed: () => core.isSealed,
    initialized: () => core.isInitialized(),
    leaseCounts: async (edgesMs) =>
      core.isSealed ? undefined : core.leases.countByExpiry(edgesMs),
  });
  let ha: HaCoordinator | undefined;
  if (options.ha !== undefined) {
    if (!isHaBackend(physical)) {
      throw new CofferError('invalid_request', `storage "${physical.type}" does not support HA`, {
        field: 'ha_enabled',
      });
    }
    ha = new HaCoordinator({
      backend: physical,
      core,
      holderId: options.ha.holderId,
      apiAddr: options.ha.apiAddr,
      clusterAddr: options.ha.clusterAddr,
      ...(options.ha.leaseTtlMs === undefined ? {} : { leaseTtlMs: options.ha.leaseTtlMs }),
      now,
      logger: options.logger.child({ component: 'ha' }),
    });
    const coordinator = ha;
    core.attachHa({ stepDown: () => coordinator.stepDown() });
  }
  const app = buildApp({
    core,
    logger: options.logger,
    version: options.version,
    storageType: physical.type,
    now,
    metrics: { registry: metrics, unauthenticated: options.unauthenticatedMetrics ?? false },
    ...(options.maxRequestSizeBytes === undefined
      ? {}
      : { maxRequestSizeBytes: options.maxRequestSizeBytes }),
    ...(options.awsDoorMount === undefined ? {} : { awsDoor: { mountPath: options.awsDoorMount } }),
    ...(ha === undefined
      ? {}
      : { ha: { currentStatus: () => ha.currentStatus(), mode: options.ha!.standbyMode } }),
    ...(isSnapshotBackend(physical)
      ? { restoreSnapshot: (bytes: Uint8Array) => restoreSnapshotBytes(physical, bytes) }
      : {}),
  });
  const gcpRestApp =
    options.gcpDoorMount === undefined
      ? undefined
      : buildGcpRestApp({
          core,
          logger: options.logger,
          mountPath: options.gcpDoorMount,
          auth: doorAuth(() => core.doorCredentials, now),
        });
  return {
    barrier,
    seal,
    core,
    app,
    metrics,
    ...(ha === undefined ? {} : { ha }),
    ...(gcpRestApp === undefined ? {} : { gcpRestApp }),
  };
}
