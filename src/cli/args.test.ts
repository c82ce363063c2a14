import { describe, expect, it } from 'vitest';
import {
  formatFlagHelp,
  parseArgs,
  parseDurationSeconds,
  parseIntFlag,
  parseKeyValueFlag,
  parseVersionsFlag,
  UsageError,
} from './args.js';
import type { FlagSpecs } from './args.js';

const SPECS = {
  mount: { kind: 'string', help: 'mount' },
  detailed: { kind: 'boolean', help: 'detail' },
  'custom-metadata': { kind: 'list', help: 'pairs', placeholder: '<k=v>' },
  d: { kind: 'boolean', help: 'alias', hidden: true },
} as const satisfies FlagSpecs;

describe('parseArgs', () => {
  it('accepts -f=v, --f=v and -f v', () => {
    expect(parseArgs(['-mount=a'], SPECS).flags.mount).toBe('a');
    expect(parseArgs(['--mount=b'], SPECS).flags.mount).toBe('b');
    expect(parseArgs(['-mount', 'c'], SPECS).flags.mount).toBe('c');
    expect(parseArgs(['--mount', 'd'], SPECS).flags.mount).toBe('d');
  });

  it('keeps everything after the first "=" as the value', () => {
    expect(parseArgs(['-mount=a=b=c'], SPECS).flags.mount).toBe('a=b=c');
    expect(parseArgs(['-mount='], SPECS).flags.mount).toBe('');
  });

  it('reads flags before and after positional arguments', () => {
    const parsed = parseArgs(['secret/x', '-detailed', 'k=v', '-mount', 'm'], SPECS);
    expect(parsed.positionals).toEqual(['secret/x', 'k=v']);
    expect(parsed.flags).toEqual({ detailed: true, mount: 'm' });
  });

  it('does not let a boolean flag swallow the next argument', () => {
    const parsed = parseArgs(['-detailed', 'path'], SPECS);
    expect(parsed.flags.detailed).toBe(true);
    expect(parsed.positionals).toEqual(['path']);
  });

  it('parses boolean values like Go strconv.ParseBool', () => {
    expect(parseArgs(['-detailed=false'], SPECS).flags.detailed).toBe(false);
    expect(parseArgs(['-detailed=T'], SPECS).flags.detailed).toBe(true);
    expect(() => parseArgs(['-detailed=yes'], SPECS)).toThrow(
      /invalid boolean value for flag -detailed/,
    );
  });

  it('stops at "--" and treats a lone "-" as positional', () => {
    const parsed = parseArgs(['-', '--', '-mount=x', '-z'], SPECS);
    expect(parsed.positionals).toEqual(['-', '-mount=x', '-z']);
    expect(parsed.flags.mount).toBeUndefined();
  });

  it('collects repeatable flags in order', () => {
    const parsed = parseArgs(['-custom-metadata=a=1', 'p', '--custom-metadata', 'b=2'], SPECS);
    expect(parsed.flags['custom-metadata']).toEqual(['a=1', 'b=2']);
  });

  it('lets the last of a repeated single flag win', () => {
    expect(parseArgs(['-mount=a', '-mount=b'], SPECS).flags.mount).toBe('b');
  });

  it('rejects unknown flags and missing values without echoing values', () => {
    expect(() => parseArgs(['-tokn=hvs.secret'], SPECS)).toThrow(UsageError);
    try {
      parseArgs(['-tokn=hvs.secret'], SPECS);
    } catch (error) {
      expect((error as Error).message).toBe('flag provided but not defined: -tokn');
    }
    expect(() => parseArgs(['-mount'], SPECS)).toThrow('flag needs an argument: -mount');
    expect(() => parseArgs(['--'], SPECS)).not.toThrow();
    expect(() => parseArgs(['-='], SPECS)).toThrow(UsageError);
    expect(() => parseArgs(['-toString'], SPECS)).toThrow(/not defined: -toString/);
  });
});

describe('value helpers', () => {
  it('parses whole numbers with a minimum', () => {
    expect(parseIntFlag('3', 'version')).toBe(3);
    expect(() => parseIntFlag('abc', 'version')).toThrow(
      'invalid value for flag -version: must be a whole number',
    );
    expect(() => parseIntFlag('-1', 'version')).toThrow(UsageError);
    expect(() => parseIntFlag('0', 'key-shares', 1)).toThrow(/at least 1/);
  });

  it('parses version lists', () => {
    expect(parseVersionsFlag('1,2, 5')).toEqual([1, 2, 5]);
    expect(() => parseVersionsFlag(',')).toThrow(/at least one version/);
    expect(() => parseVersionsFlag('1,x')).toThrow(UsageError);
  });

  it('splits key=value flag values at the first "="', () => {
    expect(parseKeyValueFlag(['a=1', 'b=x=y', 'c='], 'custom-metadata')).toEqual({
      a: '1',
      b: 'x=y',
      c: '',
    });
    expect(() => parseKeyValueFlag(['=v'], 'options')).toThrow(/expected key=value/);
    expect(() => parseKeyValueFlag(['novalue'], 'options')).toThrow(UsageError);
  });

  it('renders flag help sorted, with placeholders, without hidden aliases', () => {
    expect(formatFlagHelp(SPECS)).toBe(
      [
        '  -custom-metadata=<k=v>\n      pairs',
        '  -detailed\n      detail',
        '  -mount=<string>\n      mount',
      ].join('\n\n'),
    );
  });
});

describe('parseDurationSeconds', () => {
  it('reads seconds and Go durations, truncated to whole seconds', () => {
    expect(parseDurationSeconds('90', 'increment')).toBe(90);
    expect(parseDurationSeconds('1h30m', 'increment')).toBe(5400);
    expect(parseDurationSeconds(' 2d ', 'increment')).toBe(172800);
    expect(parseDurationSeconds('1.5s', 'increment')).toBe(1);
    expect(parseDurationSeconds('1500ms', 'increment')).toBe(1);
    expect(parseDurationSeconds('0s', 'increment')).toBe(0);
  });

  it('refuses anything else without echoing it', () => {
    for (const bad of ['', 'h', '1x', '-1h', '1h 30m', 'hvs.secret']) {
      expect(() => parseDurationSeconds(bad, 'increment')).toThrow(
        'invalid value for flag -increment: expected a duration such as 90, 30m or 1h30m',
      );
    }
  });
});
