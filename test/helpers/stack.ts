// A whole Coffer stack in one process for HTTP-level tests: storage → barrier → seal → core →
// Fastify app, driven with inject() (no ports) or a real listener on port 0.
import { pino } from 'pino';
import { AesGcmBarrier } from '../../src/barrier/aes-gcm-barrier.js';
import { Core } from '../../src/core/core.js';
import { builtinEngines } from '../../src/engines/registry.js';
import { buildApp } from '../../src/http/app.js';
import { createInmemBackend } from '../../src/physical/inmem.js';
import type { PhysicalBackend } from '../../src/physical/physical.js';
import { SealManager } from '../../src/seal/seal-manager.js';

export interface Stack {
  readonly app: ReturnType<typeof buildApp>;
  readonly core: Core;
  readonly physical: PhysicalBackend;
  readonly logs: string[];
}

export function createStack(
  options: { physical?: PhysicalBackend; now?: () => number } = {},
): Stack {
  const now = options.now ?? (() => Date.now());
  const physical = options.physical ?? createInmemBackend();
  const barrier = new AesGcmBarrier(physical, { now });
  const seal = new SealManager({ physical, barrier });
  const core = new Core({
    barrier,
    seal,
    engines: builtinEngines(),
    now,
    defaultLeaseTtlSeconds: 2_764_800,
    maxLeaseTtlSeconds: 2_764_800,
  });
  const logs: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => logs.push(line) });
  const app = buildApp({ core, logger, version: '0.0.0-test', storageType: physical.type, now });
  return { app, core, physical, logs };
}

/** Initialises (1 share), unseals and mounts `secret/` as KV v2, like dev mode. */
export async function createUnsealedStack(
  options: { physical?: PhysicalBackend; now?: () => number } = {},
): Promise<Stack & { rootToken: string; unsealKey: Uint8Array }> {
  const stack = createStack(options);
  const { shares, rootToken } = await stack.core.initialize({
    secretShares: 1,
    secretThreshold: 1,
  });
  await stack.core.unseal(shares[0]!);
  await stack.core.mounts.enable('secret/', { type: 'kv', options: { version: '2' } });
  return { ...stack, rootToken, unsealKey: shares[0]! };
}
