// Wiring of one server from its parts: storage → barrier → seal → core (with the built-in
// engines) → HTTP app. main.ts, the HTTP tests and the benchmarks all build servers here, so
// there is one assembly to keep right. It reads no environment and no clock of its own.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { AesGcmBarrier } from './barrier/aes-gcm-barrier.js';
import { Core } from './core/core.js';
import { builtinEngines } from './engines/registry.js';
import { buildApp } from './http/app.js';
import type { EngineFactory } from './sdk/engine.js';
import { isSnapshotBackend } from './physical/physical.js';
import type { PhysicalBackend } from './physical/physical.js';
import { restoreSnapshotBytes, snapshotBytes } from './physical/snapshot-bytes.js';
import { SealManager } from './seal/seal-manager.js';

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
  readonly maxRequestSizeBytes?: number;
  /** Engines and auth methods by type; default the built-in ones (tests add their own). */
  readonly engines?: ReadonlyMap<string, EngineFactory>;
  /** The AWS door's mount path ("aws/"); absent = the door is off. */
  readonly awsDoorMount?: string;
}

export interface AssembledServer {
  readonly barrier: AesGcmBarrier;
  readonly seal: SealManager;
  readonly core: Core;
  readonly app: FastifyInstance;
}

export function assembleServer(options: AssembleOptions): AssembledServer {
  const { physical, now } = options;
  const barrier = new AesGcmBarrier(physical, { now });
  const seal = new SealManager({
    physical,
    barrier,
    ...(options.staticKey === undefined ? {} : { staticKey: options.staticKey }),
  });
  const core = new Core({
    barrier,
    seal,
    engines: options.engines ?? builtinEngines(),
    now,
    defaultLeaseTtlSeconds: options.defaultLeaseTtlSeconds,
    maxLeaseTtlSeconds: options.maxLeaseTtlSeconds,
    logger: options.logger.child({ component: 'core' }),
    ...(isSnapshotBackend(physical) ? { snapshot: () => snapshotBytes(physical) } : {}),
  });
  const app = buildApp({
    core,
    logger: options.logger,
    version: options.version,
    storageType: physical.type,
    now,
    ...(options.maxRequestSizeBytes === undefined
      ? {}
      : { maxRequestSizeBytes: options.maxRequestSizeBytes }),
    ...(options.awsDoorMount === undefined ? {} : { awsDoor: { mountPath: options.awsDoorMount } }),
    ...(isSnapshotBackend(physical)
      ? { restoreSnapshot: (bytes: Uint8Array) => restoreSnapshotBytes(physical, bytes) }
      : {}),
  });
  return { barrier, seal, core, app };
}
