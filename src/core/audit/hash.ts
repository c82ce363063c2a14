// Audit HMACs: the per-device keyed hash of one string (`hmac-sha256:<hex>`, the form
// `sys/audit-hash` returns) and the walk that replaces every string in a structure with it.
import { createHmac, randomBytes } from 'node:crypto';
import type { JsonObject, JsonValue } from '../../sdk/json.js';

export const HMAC_PREFIX = 'hmac-sha256:';
/** Bytes of the random per-device salt (the HMAC key). */
export const SALT_BYTES = 32;
/**
 * Subtrees nested deeper than this are hashed whole, as their JSON text: never written in
 * clear and never a stack overflow (the HTTP layer already caps JSON depth far below this).
 */
export const MAX_HASH_DEPTH = 64;

/** Turns one string into what the audit line shows instead of it. */
export type Hasher = (value: string) => string;

export function newSalt(): Buffer {
  return randomBytes(SALT_BYTES);
}

/** `hmac-sha256:` + hex HMAC-SHA256 of the UTF-8 string under `salt`. */
export function hmacString(salt: Uint8Array, value: string): string {
  return HMAC_PREFIX + createHmac('sha256', salt).update(value, 'utf8').digest('hex');
}

/**
 * The hasher of one device. The empty string stays empty (it hides nothing and keeps "no
 * accessor" readable); every other string becomes its HMAC.
 */
export function deviceHasher(salt: Uint8Array): Hasher {
  return (value) => (value === '' ? '' : hmacString(salt, value));
}

function jsonTextOf(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  } catch {
    return '[unserialisable]';
  }
}

function setOwn(target: JsonObject, key: string, value: JsonValue): void {
  if (key !== '__proto__') {
    target[key] = value;
    return;
  }
  // A "__proto__" key from parsed JSON must stay a plain data property (an assignment would
  // set the copy's prototype instead).
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/**
 * A copy of `value` as JSON with every string replaced by `hash(string)`, at any depth.
 * Numbers, booleans and null pass in clear, as in Vault (its docs tell users to send sensitive
 * values as strings); object keys stay in clear too. Values JSON cannot hold are dropped from
 * objects and become null in arrays, exactly as JSON.stringify would write them.
 * SECURITY: no string of the input survives in the output.
 */
export function hashStructure(value: unknown, hash: Hasher, depth = 0): JsonValue {
  switch (typeof value) {
    case 'string':
      return hash(value);
    case 'number':
      return Number.isFinite(value) ? value : null;
    case 'boolean':
      return value;
    case 'bigint':
      return hash(value.toString());
    case 'undefined':
    case 'function':
    case 'symbol':
      return null;
    case 'object':
      break;
  }
  if (value === null) return null;
  if (depth >= MAX_HASH_DEPTH) return hash(jsonTextOf(value));
  if (Array.isArray(value)) return value.map((item) => hashStructure(item, hash, depth + 1));
  if (value instanceof Uint8Array) return hash(Buffer.from(value).toString('base64'));
  const toJson = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJson === 'function') {
    return hashStructure((toJson as () => unknown).call(value), hash, depth + 1);
  }
  const out: JsonObject = {};
  for (const [key, item] of Object.entries(value)) {
    if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
    setOwn(out, key, hashStructure(item, hash, depth + 1));
  }
  return out;
}
