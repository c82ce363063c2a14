import { describe, expect, it } from 'vitest';
import { parseEnvFile } from './env-file.js';
import { ClientError } from './errors.js';

describe('env template files', () => {
  it('reads references, literals, quotes, export and comments', () => {
    const text = [
      '# database',
      'DB_PASSWORD=coffer://secret/app#password',
      'export DB_USER = coffer://secret/app#user',
      '',
      'PLAIN=hello world # a comment',
      'DQ="a \\"quoted\\" line\\nnext\\t$x \\$y"',
      "SQ='kept \\n as is # not a comment'",
      'HASH=a#b',
      'EMPTY=',
    ].join('\r\n');
    expect(parseEnvFile(text, '.env.tpl')).toEqual([
      { name: 'DB_PASSWORD', value: 'coffer://secret/app#password', line: 2 },
      { name: 'DB_USER', value: 'coffer://secret/app#user', line: 3 },
      { name: 'PLAIN', value: 'hello world', line: 5 },
      { name: 'DQ', value: 'a "quoted" line\nnext\t$x $y', line: 6 },
      { name: 'SQ', value: 'kept \\n as is # not a comment', line: 7 },
      { name: 'HASH', value: 'a#b', line: 8 },
      { name: 'EMPTY', value: '', line: 9 },
    ]);
  });

  it.each([
    ['NOEQUALS', /f:1: expected NAME=value/],
    ['1BAD=x', /f:1: the name must be/],
    ['A-B=x', /f:1: the name must be/],
    ['A="open', /f:1: the quoted value is not closed/],
    ["A='x' y", /f:1: unexpected text after the closing quote/],
    ['A=1\nA=2', /f:2: A is already set on line 1/],
  ])('refuses %j with a message naming the line', (text, message) => {
    expect(() => parseEnvFile(text, 'f')).toThrow(ClientError);
    expect(() => parseEnvFile(text, 'f')).toThrow(message);
  });

  it('never quotes the line in an error (it may hold a secret)', () => {
    expect(() => parseEnvFile('X="s3cr3t-value', 'f')).not.toThrow(/s3cr3t/);
    try {
      parseEnvFile('s3cr3t-value', 'f');
    } catch (error) {
      expect((error as Error).message).not.toContain('s3cr3t');
    }
  });
});
