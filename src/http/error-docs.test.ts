// Keeps docs/errors.md and the status table in sync, in both directions.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { STATUS_BY_CODE } from './error-response.js';

describe('docs/errors.md', () => {
  it('documents every error code with its status, and nothing else', () => {
    const text = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    const documented: Record<string, number> = {};
    for (const match of text.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)) {
      documented[match[1]!] = Number(match[2]);
    }
    expect(documented).toEqual(STATUS_BY_CODE);
  });
});
