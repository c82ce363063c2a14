// Shamir splitting of the unseal key, through the audited `shamir-secret-sharing` library.
// One share is a special case (as in Vault): the share is the key itself.
import { combine, split } from 'shamir-secret-sharing';
import { CofferError, invalidField } from '../sdk/errors.js';

export const MAX_SHARES = 255;

export function validateShareConfig(shares: number, threshold: number): void {
  if (!Number.isInteger(shares) || shares < 1 || shares > MAX_SHARES) {
    throw invalidField('secret_shares', `must be between 1 and ${MAX_SHARES}`);
  }
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > shares) {
    throw invalidField('secret_threshold', 'must be between 1 and secret_shares');
  }
  if (shares > 1 && threshold < 2) {
    throw invalidField('secret_threshold', 'must be at least 2 when secret_shares is more than 1');
  }
  if (shares === 1 && threshold !== 1) {
    throw invalidField('secret_threshold', 'must be 1 when secret_shares is 1');
  }
}

export async function splitKey(
  key: Uint8Array,
  shares: number,
  threshold: number,
): Promise<Uint8Array[]> {
  validateShareConfig(shares, threshold);
  if (shares === 1) return [Uint8Array.from(key)];
  // The library checks `constructor === Uint8Array`, so hand it plain copies, not Buffers.
  return split(new Uint8Array(key), shares, threshold);
}

/** Rebuilds the key; the caller must verify it (it is only proven by decrypting with it). */
export async function combineShares(shares: readonly Uint8Array[]): Promise<Uint8Array> {
  if (shares.length === 1) return Uint8Array.from(shares[0]!);
  try {
    return await combine(shares.map((share) => new Uint8Array(share)));
  } catch (cause) {
    throw new CofferError('invalid_request', 'unseal keys could not be combined', { cause });
  }
}
