// The offline audit log verifier and the chain primitives it shares with the server: the line
// hash, the checkpoint message that Ed25519 signatures cover, and the checks (JSON per line, seq
// continuity, each line's `prev` = SHA-256 of the previous line's exact bytes, signatures, a
// start at seq 1 or at the previous file's hash, and optionally the server's chain heads).
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';

/** Domain separation: a checkpoint signature can never be mistaken for any other signature. */
export const CHECKPOINT_CONTEXT = 'coffer-audit-checkpoint-v1';

const HASH_PATTERN = /^[0-9a-f]{64}$/;

/** SHA-256 (hex) of one line's exact UTF-8 bytes, without its trailing newline. */
export function auditLineHash(line: string): string {
  return createHash('sha256').update(line, 'utf8').digest('hex');
}

/**
 * The bytes a checkpoint signature covers. `chainHash` is the hash of the line before the
 * checkpoint, which (through every `prev`) commits to the whole log up to that point.
 */
export function checkpointMessage(seq: number, chainHash: string, time: string): Buffer {
  return Buffer.from(`${CHECKPOINT_CONTEXT}\n${seq}\n${chainHash}\n${time}`, 'utf8');
}

/**
 * An Ed25519 public key given as PEM ("-----BEGIN PUBLIC KEY-----") or as base64 of the DER
 * SubjectPublicKeyInfo (the `checkpoint_public_key` option `GET sys/audit` shows).
 */
export function parseCheckpointPublicKey(text: string): KeyObject {
  const trimmed = text.trim();
  let key: KeyObject;
  try {
    key = trimmed.includes('-----BEGIN')
      ? createPublicKey(trimmed)
      : createPublicKey({ key: Buffer.from(trimmed, 'base64'), format: 'der', type: 'spki' });
  } catch {
    throw new Error('public key: not a PEM or base64 SPKI public key');
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new Error('public key: must be an Ed25519 key');
  }
  return key;
}

export interface VerifyOptions {
  /** The checkpoint public key (PEM or base64 SPKI); without it signatures are not checked. */
  readonly publicKey?: string;
  /**
   * `lastLineHash` of the previous file (after a rotation): the first line's `prev` must equal
   * it. Without it the log must start at seq 1, so a cut at the start is reported.
   */
  readonly previousLastLineHash?: string;
  /**
   * The server's chain head taken before the file was read: the file must hold this line
   * (same seq, same hash), so a cut tail or an edited or forged last line is reported.
   */
  readonly contains?: ChainHead;
}

/** Where the server's chain for one device stands: the last line's seq and SHA-256 (hex). */
export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
}

export interface VerifyResult {
  readonly ok: boolean;
  /** Lines in the input (a trailing newline does not start another line). */
  readonly lines: number;
  /** 1-based number of the first line found bad. */
  readonly firstBadLine?: number;
  readonly problem?: string;
  /** Checkpoint lines seen before the first problem (signature-checked when signaturesChecked). */
  readonly checkpoints: number;
  readonly signaturesChecked: boolean;
  readonly firstSeq?: number;
  readonly lastSeq?: number;
  /** Hash of the last line; give it as previousLastLineHash when verifying the next file. */
  readonly lastLineHash?: string;
  /** Lines after the last checkpoint: chained, but not covered by a signature yet. */
  readonly unsignedTrailingLines: number;
  /** Whether the server's chain head was checked (`contains`, or `end(endsBy)`). */
  readonly headChecked: boolean;
}

interface ChainFields {
  readonly seq: number;
  readonly prev: string;
  readonly checkpoint?: { readonly time: string; readonly signature: string };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The chain fields of one parsed line, or a string saying what is wrong with it. */
function chainFieldsOf(entry: Record<string, unknown>): ChainFields | string {
  if (entry['type'] === 'checkpoint') {
    const { seq, chain_hash: prev, time, signature } = entry;
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) {
      return 'checkpoint has no valid seq';
    }
    if (typeof prev !== 'string' || !HASH_PATTERN.test(prev)) {
      return 'checkpoint has no valid chain_hash';
    }
    if (typeof time !== 'string' || typeof signature !== 'string') {
      return 'checkpoint has no time or signature';
    }
    return { seq, prev, checkpoint: { time, signature } };
  }
  const chain = entry['chain'];
  if (!isRecord(chain)) return 'line has no chain field (not written by Coffer, or altered)';
  const { seq, prev } = chain;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) {
    return 'chain.seq is missing or not a positive integer';
  }
  if (typeof prev !== 'string' || !HASH_PATTERN.test(prev)) {
    return 'chain.prev is missing or not a SHA-256 hex digest';
  }
  return { seq, prev };
}

/**
 * Checks a Coffer audit log fed in chunks of text (any split; lines end with "\n"), so a large
 * file can be streamed. Stops checking at the first problem but keeps counting lines.
 */
export class AuditLogVerifier {
  readonly #key: KeyObject | undefined;
  readonly #previousLastLineHash: string | undefined;
  readonly #contains: ChainHead | undefined;
  #containsSeen = false;
  #partial = '';
  #lines = 0;
  #checkpoints = 0;
  #lastCheckpointLine = 0;
  #expectedSeq: number | undefined;
  #firstSeq: number | undefined;
  #lastHash: string | undefined;
  #failure: { line: number; problem: string } | undefined;

  constructor(options: VerifyOptions = {}) {
    this.#key =
      options.publicKey === undefined ? undefined : parseCheckpointPublicKey(options.publicKey);
    if (
      options.previousLastLineHash !== undefined &&
      !HASH_PATTERN.test(options.previousLastLineHash)
    ) {
      throw new Error('previous last line hash: must be 64 lower-case hex characters');
    }
    this.#previousLastLineHash = options.previousLastLineHash;
    this.#contains = options.contains;
  }

  /** Feeds more text; complete lines are checked at once. */
  write(chunk: string): void {
    const text = this.#partial + chunk;
    let start = 0;
    for (;;) {
      const end = text.indexOf('\n', start);
      if (end === -1) break;
      this.#line(text.slice(start, end));
      start = end + 1;
    }
    this.#partial = text.slice(start);
  }

  /**
   * Ends the input and returns the verdict. `endsBy` is the server's chain head taken after the
   * file was read: the file must not go past it, and a last line at its seq must be that line,
   * so nothing forged was appended and the last line was not rewritten.
   */
  end(endsBy?: ChainHead): VerifyResult {
    if (this.#partial !== '') {
      const line = this.#partial;
      this.#partial = '';
      this.#line(line);
      this.#fail(this.#lines, 'the last line has no trailing newline (truncated or torn write)');
    }
    if (this.#lines === 0 && this.#contains === undefined) {
      // SECURITY: an empty file proves nothing; it may be a log emptied by its owner.
      this.#fail(0, 'the file is empty: no audit lines to verify');
    }
    const contains = this.#contains;
    if (contains !== undefined && contains.seq > 0 && !this.#containsSeen) {
      const lastSeq = this.#expectedSeq === undefined ? 0 : this.#expectedSeq - 1;
      this.#fail(
        this.#lines,
        lastSeq < contains.seq
          ? `the file ends at seq ${lastSeq} but the server has written seq ${contains.seq}: ` +
              'lines were cut from the end (or this copy is older than the log)'
          : `the file does not hold the server's line seq ${contains.seq} (it starts after it)`,
      );
    }
    if (endsBy !== undefined && this.#expectedSeq !== undefined) {
      const lastSeq = this.#expectedSeq - 1;
      if (lastSeq > endsBy.seq) {
        this.#fail(
          this.#lines,
          `seq ${lastSeq} is past the last line the server wrote (seq ${endsBy.seq}): forged lines were appended`,
        );
      } else if (lastSeq === endsBy.seq && this.#lastHash !== endsBy.hash) {
        this.#fail(
          this.#lines,
          `line ${this.#lines} (seq ${lastSeq}) is not the line the server wrote there (edited or forged)`,
        );
      }
    }
    const failure = this.#failure;
    const headChecked = this.#contains !== undefined || endsBy !== undefined;
    return {
      ok: failure === undefined,
      lines: this.#lines,
      ...(failure === undefined ? {} : { firstBadLine: failure.line, problem: failure.problem }),
      checkpoints: this.#checkpoints,
      signaturesChecked: this.#key !== undefined,
      ...(this.#firstSeq === undefined ? {} : { firstSeq: this.#firstSeq }),
      ...(this.#expectedSeq === undefined ? {} : { lastSeq: this.#expectedSeq - 1 }),
      ...(this.#lastHash === undefined ? {} : { lastLineHash: this.#lastHash }),
      unsignedTrailingLines: this.#lines - this.#lastCheckpointLine,
      headChecked,
    };
  }

  #fail(line: number, problem: string): void {
    this.#failure ??= { line, problem };
  }

  #line(line: string): void {
    this.#lines++;
    if (this.#failure !== undefined) return;
    const number = this.#lines;
    // A device `prefix` may precede the JSON object; it is part of the hashed bytes.
    const brace = line.indexOf('{');
    if (brace === -1) {
      this.#fail(number, line === '' ? 'empty line' : 'not a JSON audit line');
      return;
    }
    let entry: unknown;
    try {
      entry = JSON.parse(line.slice(brace));
    } catch {
      this.#fail(number, 'not valid JSON');
      return;
    }
    if (!isRecord(entry)) {
      this.#fail(number, 'not a JSON object');
      return;
    }
    const fields = chainFieldsOf(entry);
    if (typeof fields === 'string') {
      this.#fail(number, fields);
      return;
    }
    const expected = this.#expectedSeq;
    if (expected !== undefined && fields.seq !== expected) {
      this.#fail(
        number,
        fields.seq > expected
          ? `seq ${fields.seq} where ${expected} was expected (a line before it was deleted, or lines were reordered)`
          : `seq ${fields.seq} where ${expected} was expected (lines were reordered or repeated)`,
      );
      return;
    }
    if (this.#lastHash === undefined) {
      if (this.#previousLastLineHash !== undefined) {
        if (fields.prev !== this.#previousLastLineHash) {
          this.#fail(number, 'prev does not match the last line of the previous file');
          return;
        }
      } else if (fields.seq !== 1) {
        this.#fail(
          number,
          `the log starts at seq ${fields.seq}, not 1: lines were cut from the start ` +
            "(for a rotated file, give the previous file's last line hash)",
        );
        return;
      }
    } else if (fields.prev !== this.#lastHash) {
      // The previous line's bytes changed after this line recorded their hash.
      this.#fail(
        number - 1,
        `line ${number - 1} was altered: its hash does not match the prev recorded by line ${number}`,
      );
      return;
    }
    if (fields.checkpoint !== undefined) {
      if (this.#key !== undefined) {
        const valid = verify(
          null,
          checkpointMessage(fields.seq, fields.prev, fields.checkpoint.time),
          this.#key,
          Buffer.from(fields.checkpoint.signature, 'base64'),
        );
        if (!valid) {
          this.#fail(
            number,
            'checkpoint signature is invalid (a forged checkpoint, or the wrong public key)',
          );
          return;
        }
      }
      this.#checkpoints++;
      this.#lastCheckpointLine = number;
    }
    const hash = auditLineHash(line);
    if (this.#contains !== undefined && fields.seq === this.#contains.seq) {
      if (hash !== this.#contains.hash) {
        this.#fail(
          number,
          `line ${number} (seq ${fields.seq}) is not the line the server wrote there (edited or forged)`,
        );
        return;
      }
      this.#containsSeen = true;
    }
    this.#firstSeq ??= fields.seq;
    this.#expectedSeq = fields.seq + 1;
    this.#lastHash = hash;
  }
}

/** Checks a whole audit log held in memory (see AuditLogVerifier for streaming). */
export function verifyAuditLog(text: string, options: VerifyOptions = {}): VerifyResult {
  const verifier = new AuditLogVerifier(options);
  verifier.write(text);
  return verifier.end();
}
