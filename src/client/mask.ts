// Masking secret values in a byte stream (`coffer run --mask`): every occurrence of a value is
// replaced by "*****", including values split across chunks; nothing is decoded, so binary
// output passes through unchanged apart from the masked bytes.

export const MASK_TEXT = '*****';
/** Shorter values are not masked: they would blank out ordinary output. */
export const MIN_MASKED_LENGTH = 4;

/**
 * A stateful masker for one stream. `push` returns what may be written now; it holds back at
 * most (longest value - 1) bytes that could be the start of a value, until the next chunk
 * decides. `end` returns what was held back, masked.
 * SECURITY: held-back bytes are never released early, so a value is never written in two parts.
 */
export class StreamMasker {
  readonly #values: readonly Buffer[];
  readonly #maxLength: number;
  readonly #mask: Buffer;
  #pending: Buffer = Buffer.alloc(0);

  constructor(values: Iterable<string>, mask: string = MASK_TEXT) {
    const unique = new Set<string>();
    for (const value of values) {
      if (Buffer.byteLength(value, 'utf8') >= MIN_MASKED_LENGTH) unique.add(value);
    }
    // Longest first, so that a value containing another is masked whole.
    this.#values = [...unique]
      .map((v) => Buffer.from(v, 'utf8'))
      .sort((a, b) => b.length - a.length);
    this.#maxLength = this.#values[0]?.length ?? 0;
    this.#mask = Buffer.from(mask, 'utf8');
  }

  /** True when there is nothing to mask (the stream can be passed through as is). */
  get empty(): boolean {
    return this.#values.length === 0;
  }

  push(chunk: Buffer): Buffer {
    if (this.#values.length === 0) return chunk;
    const buffer = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    return this.#scan(buffer, false);
  }

  end(): Buffer {
    const buffer = this.#pending;
    this.#pending = Buffer.alloc(0);
    return this.#values.length === 0 ? buffer : this.#scan(buffer, true);
  }

  #scan(buffer: Buffer, final: boolean): Buffer {
    const out: Buffer[] = [];
    let cursor = 0;
    for (;;) {
      const hold = final ? buffer.length : this.#partialStart(buffer, cursor);
      const match = this.#firstMatch(buffer, cursor);
      if (match !== undefined && match.index < hold) {
        out.push(buffer.subarray(cursor, match.index), this.#mask);
        cursor = match.index + match.length;
        continue;
      }
      out.push(buffer.subarray(cursor, hold));
      this.#pending = Buffer.from(buffer.subarray(hold));
      break;
    }
    return Buffer.concat(out);
  }

  /** The earliest complete value at or after `from` (the longest one on a tie). */
  #firstMatch(buffer: Buffer, from: number): { index: number; length: number } | undefined {
    let best: { index: number; length: number } | undefined;
    for (const value of this.#values) {
      const index = buffer.indexOf(value, from);
      if (index !== -1 && (best === undefined || index < best.index)) {
        best = { index, length: value.length };
      }
    }
    return best;
  }

  /**
   * Where the held-back tail starts: the first position from which the rest of `buffer` is a
   * proper prefix of some value (so the next chunk may complete it); buffer.length if none.
   */
  #partialStart(buffer: Buffer, from: number): number {
    const end = buffer.length;
    for (let p = Math.max(from, end - this.#maxLength + 1); p < end; p++) {
      const tail = end - p;
      for (const value of this.#values) {
        if (value.length > tail && buffer.compare(value, 0, tail, p, end) === 0) return p;
      }
    }
    return end;
  }
}
