// The built-in secret engines, by type name. The core is handed this map; it never imports an
// engine itself.
import type { EngineFactory } from '../sdk/engine.js';
import { kvEngineFactory } from './kv/engine.js';

export function builtinEngines(): ReadonlyMap<string, EngineFactory> {
  return new Map<string, EngineFactory>([[kvEngineFactory.type, kvEngineFactory]]);
}
