import { describe, expect, it } from 'vitest';
import { MASK_TEXT, StreamMasker } from './mask.js';

function maskAll(values: string[], chunks: (string | Buffer)[]): string {
  const masker = new StreamMasker(values);
  const out = chunks.map((c) => masker.push(typeof c === 'string' ? Buffer.from(c) : c));
  out.push(masker.end());
  return Buffer.concat(out).toString('utf8');
}

/** Deterministic chunkings of `text` (seed printed in the failure message). */
function* chunkings(text: string, seed: number, rounds: number): Generator<Buffer[]> {
  let state = seed;
  const random = () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  const bytes = Buffer.from(text);
  for (let r = 0; r < rounds; r++) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length;) {
      const size = 1 + Math.floor(random() * 9);
      chunks.push(bytes.subarray(i, i + size));
      i += size;
    }
    yield chunks;
  }
}

describe('masking secret values in output', () => {
  it('replaces every occurrence, leaves short values alone', () => {
    expect(maskAll(['hunter2', 'abc'], ['pw=hunter2 and hunter2; abc stays\n'])).toBe(
      `pw=${MASK_TEXT} and ${MASK_TEXT}; abc stays\n`,
    );
  });

  it('masks a value split over chunks, at every split point', () => {
    const text = 'before s3cr3t-value after';
    for (let cut = 0; cut <= text.length; cut++) {
      expect(maskAll(['s3cr3t-value'], [text.slice(0, cut), text.slice(cut)]), `cut ${cut}`).toBe(
        `before ${MASK_TEXT} after`,
      );
    }
  });

  it('never writes a value in two pieces, for random chunkings (seed 7)', () => {
    const values = ['correct-horse', 'horse-battery', 'tr0ub4dor&3', 'ünïcödé-pässwörd'];
    const text =
      'a correct-horse-battery b horse-battery c tr0ub4dor&3tr0ub4dor&3 ünïcödé-pässwörd corr horse-batter end';
    const expected = maskAll(values, [text]);
    for (const value of values) expect(expected).not.toContain(value);
    for (const chunks of chunkings(text, 7, 300)) {
      const masker = new StreamMasker(values);
      const emitted = chunks.map((c) => masker.push(c));
      emitted.push(masker.end());
      expect(Buffer.concat(emitted).toString('utf8'), 'seed 7').toBe(expected);
    }
  });

  it('masks the longer of two overlapping values whole', () => {
    expect(maskAll(['abcd', 'abcdefgh'], ['xabcdefghx abcdx'])).toBe(
      `x${MASK_TEXT}x ${MASK_TEXT}x`,
    );
  });

  it('holds back only a possible start of a value, and releases it at the end', () => {
    const masker = new StreamMasker(['secret-value']);
    expect(masker.push(Buffer.from('line ends with secr')).toString()).toBe('line ends with ');
    expect(masker.push(Buffer.from('ecy')).toString()).toBe('secrecy');
    expect(masker.push(Buffer.from('tail sec')).toString()).toBe('tail ');
    expect(masker.end().toString()).toBe('sec');
  });

  it('passes binary output through unchanged apart from the masked bytes', () => {
    const binary = Buffer.from([0, 255, 254, 0x80, 10, 0xc3]);
    const masker = new StreamMasker(['SECRET']);
    const bytes = Buffer.concat([
      masker.push(binary),
      masker.push(Buffer.from('SECRET')),
      masker.push(binary),
      masker.end(),
    ]);
    expect(bytes).toEqual(Buffer.concat([binary, Buffer.from(MASK_TEXT), binary]));
  });

  it('is a pass-through when there is nothing long enough to mask', () => {
    const masker = new StreamMasker(['abc', '']);
    expect(masker.empty).toBe(true);
    const chunk = Buffer.from('abc');
    expect(masker.push(chunk)).toBe(chunk);
  });
});
