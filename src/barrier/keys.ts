// Physical storage keys the barrier owns. They sit beside the barrier, not behind it: they are
// encrypted under the root key, because the barrier needs them before it can decrypt anything.

export const BARRIER_KEYS = {
  /** The keyring (every term's AES-256 key), encrypted under the root key. */
  keyring: 'core/keyring',
  /** Best-effort encryption counts per term, written at seal, encrypted under the root key. */
  keyringUsage: 'core/keyring-usage',
} as const;

/**
 * Reserved for the seal manager's own physical entries (`core/seal-config`,
 * `core/seal/root-key`), which are not barrier-encrypted either.
 */
export const SEAL_RESERVED_PREFIX = 'core/seal';

/**
 * SECURITY: true for keys no caller may write through the barrier's Storage methods. Writing
 * one would destroy the keyring or the sealed root key (every secret lost), so the barrier
 * refuses instead. The rest of `core/` belongs to the core and stays writable.
 */
export function isReservedKey(key: string): boolean {
  return (
    key === BARRIER_KEYS.keyring ||
    key === BARRIER_KEYS.keyringUsage ||
    key.startsWith(SEAL_RESERVED_PREFIX)
  );
}
