// The transit secret engine (type "transit"): encryption as a service with named keys that
// never leave Coffer unless marked exportable. Assembled from its paths; all crypto is
// node:crypto (see key.ts).
import type { EngineFactory, SecretEngine } from '../../sdk/engine.js';
import { createPathEngine } from '../../sdk/path.js';
import { pathCrypto } from './path-crypto.js';
import { pathExport } from './path-export.js';
import { pathKeys } from './path-keys.js';
import { pathSign } from './path-sign.js';
import { pathTools } from './path-tools.js';

export function createTransitEngine(): SecretEngine {
  return createPathEngine([
    ...pathKeys(),
    ...pathCrypto(),
    ...pathSign(),
    ...pathTools(),
    ...pathExport(),
  ]);
}

export const transitEngineFactory: EngineFactory = {
  type: 'transit',
  description: 'Encryption as a service: encrypt, decrypt, sign, verify and HMAC with named keys.',
  create: () => createTransitEngine(),
};
