// Pending OIDC logins: the state, nonce and PKCE verifier created by `oidc/auth_url` and
// consumed, exactly once, by `oidc/callback`. Held in memory per mount and node, as Vault does
// (an unauthenticated endpoint must not be able to fill storage); bounded in count and age.
import { randomBytes } from 'node:crypto';

/** How long a login may take between auth_url and callback (Vault: 10 minutes). */
export const STATE_TTL_MS = 10 * 60_000;
/** Pending logins kept at most; beyond it the oldest is dropped. */
export const MAX_PENDING_STATES = 10_000;

export interface OidcState {
  readonly roleName: string;
  readonly nonce: string;
  readonly redirectUri: string;
  /** '' when the client sent none. */
  readonly clientNonce: string;
  /** PKCE (RFC 7636) code_verifier, sent with the code exchange. */
  readonly codeVerifier: string;
  /** Epoch ms. */
  readonly expiresAt: number;
}

export class OidcStates {
  /** Insertion order is creation order, so the oldest entries come first. */
  readonly #pending = new Map<string, OidcState>();

  readonly #maxEntries: number;
  readonly #ttlMs: number;

  constructor(maxEntries = MAX_PENDING_STATES, ttlMs = STATE_TTL_MS) {
    this.#maxEntries = maxEntries;
    this.#ttlMs = ttlMs;
  }

  /** Records a pending login and returns its state id (160 random bits, as Vault). */
  create(entry: Omit<OidcState, 'expiresAt'>, nowMs: number): string {
    for (const [id, state] of this.#pending) {
      if (state.expiresAt > nowMs && this.#pending.size < this.#maxEntries) break;
      this.#pending.delete(id);
    }
    const id = randomBytes(20).toString('hex');
    this.#pending.set(id, { ...entry, expiresAt: nowMs + this.#ttlMs });
    return id;
  }

  /**
   * Removes and returns the pending login. SECURITY: a state is consumed by its first use,
   * whatever the outcome, so a code or state cannot be replayed.
   */
  take(id: string, nowMs: number): OidcState | undefined {
    const state = this.#pending.get(id);
    if (state === undefined) return undefined;
    this.#pending.delete(id);
    return state.expiresAt > nowMs ? state : undefined;
  }

  /** Pending logins held (tests). */
  get size(): number {
    return this.#pending.size;
  }
}
