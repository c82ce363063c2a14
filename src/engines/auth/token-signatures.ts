// What the jwt and kubernetes auth methods share about checking signed tokens: the asymmetric
// algorithms (never HS*, never "none"), PEM public keys, and which jose failures mean "this
// key does not fit, try the next one" rather than "the token is bad".
import { createPublicKey, type KeyObject } from 'node:crypto';
import { errors as joseErrors } from 'jose';
import { invalidField } from '../../sdk/errors.js';

/** RSA (PKCS#1 v1.5 and PSS) and ECDSA signing algorithms, as JOSE names them. */
export const RSA_EC_ALGS: readonly string[] = [
  'RS256',
  'RS384',
  'RS512',
  'ES256',
  'ES384',
  'ES512',
  'PS256',
  'PS384',
  'PS512',
];

/** Parses one PEM public key or certificate; throws invalid_request naming `field`. */
export function parsePublicKeyPem(pem: string, field: string): KeyObject {
  try {
    const key = createPublicKey(pem);
    if (key.type !== 'public') throw new Error('not a public key');
    return key;
  } catch {
    throw invalidField(field, 'must be PEM public keys or certificates');
  }
}

/**
 * Whether a jose verification failure only says the key does not fit the token (another
 * signature, another key type): with several configured keys, Vault tries the next one.
 * Claim failures from a key that fits are final.
 */
export function isKeyMismatch(err: unknown): boolean {
  return (
    err instanceof joseErrors.JWSSignatureVerificationFailed ||
    err instanceof joseErrors.JOSENotSupported ||
    err instanceof TypeError
  );
}
