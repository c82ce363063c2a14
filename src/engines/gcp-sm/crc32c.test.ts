import { describe, expect, it } from 'vitest';
import { crc32c } from './crc32c.js';

describe('crc32c', () => {
  it('matches the Castagnoli check value and what gcloud sends', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    // gcloud 528 sent this for the payload "s3cr3t" (reference/cloud-apis.md §0.6).
    expect(crc32c(Buffer.from('s3cr3t'))).toBe(825573743);
    expect(crc32c(new Uint8Array(0))).toBe(0);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
  });
});
