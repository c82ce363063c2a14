// The difference between two versions of a secret, key by key (values compared as JSON), and
// where a policy parse error points ("2:26: message" from the server).

export type DiffStatus = 'added' | 'removed' | 'changed' | 'same';

export interface DiffRow {
  readonly key: string;
  readonly status: DiffStatus;
  readonly before?: unknown;
  readonly after?: unknown;
}

/** Every key of either version, sorted, with what happened to it from `before` to `after`. */
export function diffData(
  before: Readonly<Record<string, unknown>>,
  after: Readonly<Record<string, unknown>>,
): DiffRow[] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return keys.map((key) => {
    const inBefore = Object.hasOwn(before, key);
    const inAfter = Object.hasOwn(after, key);
    if (!inBefore) return { key, status: 'added', after: after[key] };
    if (!inAfter) return { key, status: 'removed', before: before[key] };
    const same = JSON.stringify(before[key]) === JSON.stringify(after[key]);
    return { key, status: same ? 'same' : 'changed', before: before[key], after: after[key] };
  });
}

export function diffSummary(rows: readonly DiffRow[]): string {
  const count = (status: DiffStatus) => rows.filter((r) => r.status === status).length;
  return `${count('added')} added, ${count('removed')} removed, ${count('changed')} changed, ${count('same')} unchanged`;
}

export interface SourcePosition {
  /** 1-based. */
  readonly line: number;
  /** 1-based, in code points. */
  readonly column: number;
  readonly message: string;
}

/** "2:26: expected ..." (the policy parser's errors) → line 2, column 26, and the message. */
export function sourcePosition(message: string): SourcePosition | undefined {
  const match = /^(\d+):(\d+): (.*)$/s.exec(message);
  if (match === null) return undefined;
  return { line: Number(match[1]), column: Number(match[2]), message: match[3]! };
}

/** The offset in `text` of a 1-based line and column (columns count code points). */
export function offsetOf(text: string, line: number, column: number): number {
  let offset = 0;
  for (let l = 1; l < line; l++) {
    const next = text.indexOf('\n', offset);
    if (next === -1) return text.length;
    offset = next + 1;
  }
  const rest = Array.from(text.slice(offset).split('\n')[0]!)
    .slice(0, Math.max(0, column - 1))
    .join('');
  return offset + rest.length;
}
