// The keyring: every AES-256 key term the barrier has used, which one is active, and its
// binary (de)serialisation. The encoded form is secret; it is only stored encrypted.
import { CofferError } from '../sdk/errors.js';

/** AES-256 key length in bytes. */
export const KEY_BYTES = 32;
/** Terms are u32 in the ciphertext header; term 0 is reserved for root-key encryption. */
export const MAX_TERM = 0xffff_ffff;

/** Version byte of the encoded keyring (not the ciphertext version). */
const FORMAT_VERSION = 1;
/** version u8, active term u32, term count u32. */
const HEADER_BYTES = 9;
/** term u32, installTimeMs u64, encryptions u64, key. */
const ENTRY_BYTES = 4 + 8 + 8 + KEY_BYTES;

export interface KeyTerm {
  readonly term: number;
  /** SECURITY: the AES-256 key; private to the barrier, zero-filled by Keyring.wipe(). */
  readonly key: Uint8Array;
  /** When the term was added (epoch ms). */
  readonly installTimeMs: number;
  /**
   * Encryptions made with this key. GCM with random 96-bit nonces should stay well below 2^32
   * encryptions per key; operators rotate on this count.
   */
  encryptions: number;
}

function malformed(why: string): CofferError {
  return new CofferError('integrity_failure', `the keyring entry is malformed: ${why}`);
}

/** A private copy of key material, so the caller's buffer can be wiped independently. */
function copyKey(key: Uint8Array): Uint8Array {
  if (key.length !== KEY_BYTES) {
    throw new CofferError('internal', `a keyring key must be ${KEY_BYTES} bytes`);
  }
  const copy = new Uint8Array(KEY_BYTES);
  copy.set(key);
  return copy;
}

/**
 * Encoded layout (version 1), all integers big-endian:
 * `[1 u8][activeTerm u32][count u32]` then per term, ascending:
 * `[term u32][installTimeMs u64][encryptions u64][key 32 bytes]`.
 */
export class Keyring {
  readonly activeTerm: number;
  readonly #terms: ReadonlyMap<number, KeyTerm>;

  private constructor(terms: ReadonlyMap<number, KeyTerm>, activeTerm: number) {
    this.#terms = terms;
    this.activeTerm = activeTerm;
  }

  /** A keyring with term 1 as the only (active) term; `key` is copied. */
  static create(key: Uint8Array, installTimeMs: number): Keyring {
    const first: KeyTerm = { term: 1, key: copyKey(key), installTimeMs, encryptions: 0 };
    return new Keyring(new Map([[1, first]]), 1);
  }

  /** Decodes an encoded keyring; key bytes are copied out, `encoded` is left to the caller. */
  static parse(encoded: Uint8Array): Keyring {
    const view = Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength);
    if (view.length < HEADER_BYTES) throw malformed('too short');
    if (view.readUInt8(0) !== FORMAT_VERSION) throw malformed('unknown format version');
    const activeTerm = view.readUInt32BE(1);
    const count = view.readUInt32BE(5);
    if (count === 0) throw malformed('no terms');
    if (view.length !== HEADER_BYTES + count * ENTRY_BYTES) throw malformed('wrong length');
    const terms = new Map<number, KeyTerm>();
    for (let i = 0; i < count; i += 1) {
      const at = HEADER_BYTES + i * ENTRY_BYTES;
      const term = view.readUInt32BE(at);
      const installTimeMs = Number(view.readBigUInt64BE(at + 4));
      const encryptions = Number(view.readBigUInt64BE(at + 12));
      if (term === 0) throw malformed('term 0 is reserved');
      if (terms.has(term)) throw malformed('duplicate term');
      if (!Number.isSafeInteger(installTimeMs) || !Number.isSafeInteger(encryptions)) {
        throw malformed('counter out of range');
      }
      const key = copyKey(view.subarray(at + 20, at + 20 + KEY_BYTES));
      terms.set(term, { term, key, installTimeMs, encryptions });
    }
    if (!terms.has(activeTerm)) throw malformed('the active term is missing');
    return new Keyring(terms, activeTerm);
  }

  get active(): KeyTerm {
    return this.#terms.get(this.activeTerm)!;
  }

  term(term: number): KeyTerm | undefined {
    return this.#terms.get(term);
  }

  /** Every term, ascending. */
  get terms(): KeyTerm[] {
    return [...this.#terms.values()].sort((a, b) => a.term - b.term);
  }

  /**
   * A new keyring with one more term (highest + 1) as the active one; `key` is copied. The
   * existing term objects are shared, so their encryption counts keep counting.
   */
  withNewTerm(key: Uint8Array, installTimeMs: number): Keyring {
    const highest = Math.max(...this.#terms.keys());
    if (highest >= MAX_TERM) throw new CofferError('internal', 'the keyring has no terms left');
    const term = highest + 1;
    const terms = new Map(this.#terms);
    terms.set(term, { term, key: copyKey(key), installTimeMs, encryptions: 0 });
    return new Keyring(terms, term);
  }

  /** SECURITY: the result holds every key in clear; zero-fill it once encrypted. */
  serialize(): Buffer {
    const terms = this.terms;
    const out = Buffer.alloc(HEADER_BYTES + terms.length * ENTRY_BYTES);
    out.writeUInt8(FORMAT_VERSION, 0);
    out.writeUInt32BE(this.activeTerm, 1);
    out.writeUInt32BE(terms.length, 5);
    terms.forEach((t, i) => {
      const at = HEADER_BYTES + i * ENTRY_BYTES;
      out.writeUInt32BE(t.term, at);
      out.writeBigUInt64BE(BigInt(t.installTimeMs), at + 4);
      out.writeBigUInt64BE(BigInt(t.encryptions), at + 12);
      out.set(t.key, at + 20);
    });
    return out;
  }

  /** Sum of every term's encryption count (to tell whether counts changed since a save). */
  totalEncryptions(): number {
    let total = 0;
    for (const t of this.#terms.values()) total += t.encryptions;
    return total;
  }

  /** SECURITY: zero-fills every key; the keyring is unusable afterwards. */
  wipe(): void {
    for (const t of this.#terms.values()) t.key.fill(0);
  }
}

/** Encryption counts per term as JSON (`{"<term>": count}`): not secret, stored encrypted. */
export function encodeUsage(keyring: Keyring): Uint8Array {
  const counts: Record<string, number> = {};
  for (const t of keyring.terms) counts[String(t.term)] = t.encryptions;
  return new TextEncoder().encode(JSON.stringify(counts));
}

/**
 * Raises each term's count to the stored one when that is higher (counts only grow; the
 * keyring's own copy may be newer after a rotate). Malformed usage is ignored: advisory only.
 */
export function applyUsage(keyring: Keyring, encoded: Uint8Array): void {
  let counts: unknown;
  try {
    counts = JSON.parse(new TextDecoder().decode(encoded));
  } catch {
    return;
  }
  if (typeof counts !== 'object' || counts === null) return;
  for (const [term, count] of Object.entries(counts)) {
    const entry = keyring.term(Number(term));
    if (
      entry !== undefined &&
      Number.isSafeInteger(count) &&
      (count as number) > entry.encryptions
    ) {
      entry.encryptions = count as number;
    }
  }
}
