import { describe, expect, it } from 'vitest';
import { diffData, diffSummary, offsetOf, sourcePosition } from './diff.js';

describe('diffData', () => {
  it('names every key added, removed, changed or kept, sorted', () => {
    const rows = diffData({ a: '1', b: '2', c: { x: 1 } }, { b: '3', c: { x: 1 }, d: '4' });
    expect(rows).toEqual([
      { key: 'a', status: 'removed', before: '1' },
      { key: 'b', status: 'changed', before: '2', after: '3' },
      { key: 'c', status: 'same', before: { x: 1 }, after: { x: 1 } },
      { key: 'd', status: 'added', after: '4' },
    ]);
    expect(diffSummary(rows)).toBe('1 added, 1 removed, 1 changed, 1 unchanged');
  });
});

describe('sourcePosition and offsetOf', () => {
  it('reads the line and column of a parser error and finds them in the text', () => {
    const pos = sourcePosition("2:26: expected ',' or ']' after a list element, got a string");
    expect(pos).toEqual({
      line: 2,
      column: 26,
      message: "expected ',' or ']' after a list element, got a string",
    });
    const text = 'path "x" {\n  capabilities = ["read" "list"]\n}\n';
    expect(text.slice(offsetOf(text, 2, 26))).toMatch(/^"list"/);
    expect(sourcePosition('permission denied')).toBeUndefined();
    expect(offsetOf('a', 9, 1)).toBe(1);
  });
});
