// Who is making a request, as the core's own backends (the token store, sys/) see it. Engines
// never get this: they receive only their EngineRequest.
import type { EngineRequest, EngineResult } from '../sdk/engine.js';
import type { TokenEntry } from './token-store.js';

export interface Caller {
  /** The presented token, in clear (needed by lookup-self, revoke-self, child creation). */
  readonly token: string;
  readonly entry: TokenEntry;
  /** Holds the root policy. */
  readonly isRoot: boolean;
  /** What the token's entity and its groups add to its own policies, resolved for this request. */
  readonly identityPolicies?: readonly string[];
  /** Whether the caller's policies grant `sudo` on `path` (full logical path, e.g. "auth/token/create"). */
  sudoOn(path: string): boolean;
}

/** A backend inside the core: like an engine, but it may see the caller. */
export interface InternalBackend {
  handle(req: EngineRequest, caller: Caller): Promise<EngineResult>;
  exists(req: EngineRequest): Promise<boolean | undefined>;
  /** Paths (relative, no trailing '/') served without a token, e.g. OIDC discovery. */
  readonly unauthenticatedPaths?: ReadonlySet<string>;
  /** Serves one of `unauthenticatedPaths`. */
  handleUnauthenticated?(req: EngineRequest): Promise<EngineResult>;
}
