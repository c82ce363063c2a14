// The built-in secret engines and auth methods, by type name. The core is handed this map; it
// never imports an engine itself.
import type { EngineFactory } from '../sdk/engine.js';
import { approleAuthFactory } from './auth/approle/engine.js';
import { jwtAuthFactory, oidcAuthFactory } from './auth/jwt/engine.js';
import { kubernetesAuthFactory } from './auth/kubernetes/engine.js';
import { databaseEngineFactory } from './database/engine.js';
import { userpassAuthFactory } from './auth/userpass/engine.js';
import { kvEngineFactory } from './kv/engine.js';
import { awsEngineFactory } from './aws-secrets/engine.js';
import { gcpEngineFactory } from './gcp-sm/engine.js';
import { transitEngineFactory } from './transit/engine.js';
import { createOutbound } from '../shared/outbound.js';

const BUILTIN = (options: BuiltinEngineOptions): readonly EngineFactory[] => [
  kvEngineFactory,
  databaseEngineFactory,
  userpassAuthFactory,
  approleAuthFactory,
  jwtAuthFactory,
  oidcAuthFactory,
  kubernetesAuthFactory,
  // Rotation webhooks go through the outbound chokepoint like every other outbound call.
  awsEngineFactory({
    rotation: { outbound: createOutbound() },
    ...(options.afterBuiltinStep === undefined
      ? {}
      : { afterBuiltinStep: options.afterBuiltinStep }),
  }),
  // Topic webhooks and rotation functions, through the same chokepoint.
  gcpEngineFactory({
    delivery: {
      outbound: createOutbound(),
      onError: (err, about) => {
        // SECURITY: the error names the target kind and status, never a URL or a message.
        options.logger?.warn(
          { ...about, error: err instanceof Error ? err.message : 'delivery failed' },
          'Google notification delivery failed',
        );
      },
    },
  }),
  transitEngineFactory,
];

export interface BuiltinEngineOptions {
  /** Crash tests only: hooks the aws-sm engine's built-in rotators (see main.ts). */
  readonly afterBuiltinStep?: (step: string) => Promise<void>;
  /** Delivery failures of the gcp-sm engine's notifications (topic webhooks, functions). */
  readonly logger?: { warn(obj: object, msg: string): void };
}

export function builtinEngines(
  options: BuiltinEngineOptions = {},
): ReadonlyMap<string, EngineFactory> {
  return new Map(BUILTIN(options).map((factory) => [factory.type, factory]));
}
