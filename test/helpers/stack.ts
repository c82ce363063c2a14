// A whole Coffer stack in one process for HTTP-level tests: storage → barrier → seal → core →
// Fastify app, driven with inject() (no ports) or a real listener on port 0.
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { assembleServer } from '../../src/assemble.js';
import type { Core } from '../../src/core/core.js';
import { createInmemBackend } from '../../src/physical/inmem.js';
import type { PhysicalBackend } from '../../src/physical/physical.js';
import type { EngineFactory } from '../../src/sdk/engine.js';

export interface Stack {
  readonly app: FastifyInstance;
  readonly core: Core;
  readonly physical: PhysicalBackend;
  readonly logs: string[];
}

export interface StackOptions {
  readonly physical?: PhysicalBackend;
  readonly now?: () => number;
  /** Replaces the built-in engines (tests add engines of their own). */
  readonly engines?: ReadonlyMap<string, EngineFactory>;
}

export function createStack(options: StackOptions = {}): Stack {
  const physical = options.physical ?? createInmemBackend();
  const logs: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => logs.push(line) });
  const { app, core } = assembleServer({
    physical,
    logger,
    now: options.now ?? (() => Date.now()),
    version: '0.0.0-test',
    defaultLeaseTtlSeconds: 2_764_800,
    maxLeaseTtlSeconds: 2_764_800,
    ...(options.engines === undefined ? {} : { engines: options.engines }),
  });
  return { app, core, physical, logs };
}

/** Initialises (1 share), unseals and mounts `secret/` as KV v2, like dev mode. */
export async function createUnsealedStack(
  options: StackOptions = {},
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
