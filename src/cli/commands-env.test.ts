import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseEnvFile } from '../client/env-file.js';
import { kvV2Probe } from '../client/testing.js';
import { dotenvLine, formatVariables, shellLine } from './commands-env.js';
import { runCliForTest } from './testing.js';

/** Values that break naive quoting. */
const NASTY: Record<string, string> = {
  PLAIN: 'abc123',
  SPACES: '  lead and trail  ',
  QUOTES: `it's "quoted"`,
  BACKSLASH: 'C:\\path\\n\\',
  DOLLAR: '$HOME ${PATH} `id` $(id)',
  NEWLINES: 'line1\nline2\r\nline3\ttab',
  HASH: 'a #not comment',
  UNICODE: 'ünï\u2028\u2029\u0085 €',
  EMPTY: '',
  EQUALS: 'a=b=c',
};

const ROUTES = {
  'GET sys/internal/ui/mounts/secret/*': kvV2Probe('secret/'),
  'GET secret/data/app': {
    body: { data: { data: { 'db-password': 'pw-1', user: 'admin' }, metadata: { version: 1 } } },
  },
};

describe('coffer env output formats', () => {
  it('dotenv lines read back exactly through the env template parser', () => {
    const text = formatVariables(NASTY, 'dotenv');
    const back = Object.fromEntries(parseEnvFile(text, 'out').map((e) => [e.name, e.value]));
    expect(back).toEqual(NASTY);
    expect(dotenvLine('A', 'simple/value:1')).toBe('A=simple/value:1');
  });

  it('shell lines give exactly the values back in /bin/sh', () => {
    const script = `${formatVariables(NASTY, 'shell')}node -e 'process.stdout.write(JSON.stringify(Object.fromEntries(${JSON.stringify(
      Object.keys(NASTY),
    )}.map((n) => [n, process.env[n]]))))'`;
    const out = execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual(NASTY);
    expect(shellLine('A', "x'y")).toBe(`export A='x'\\''y'`);
  });

  it('JSON is an object of strings, names sorted', () => {
    const text = formatVariables(NASTY, 'json');
    expect(JSON.parse(text)).toEqual(NASTY);
    expect(Object.keys(JSON.parse(text) as object)).toEqual(Object.keys(NASTY).sort());
  });

  it('YAML uses double-quoted scalars (a JSON subset) with YAML line breaks escaped', () => {
    const text = formatVariables(NASTY, 'yaml');
    const asJson = `{${text.trimEnd().split('\n').join(',')}}`;
    expect(JSON.parse(asJson)).toEqual(NASTY);
    expect(text).toContain('\\u2028\\u2029\\u0085');
    expect(formatVariables({}, 'yaml')).toBe('{}\n');
  });
});

describe('coffer env', () => {
  it('prints the variables of a path (dotenv by default)', async () => {
    const r = await runCliForTest(['env', '-path=secret/app'], { routes: ROUTES });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('DB_PASSWORD=pw-1\nUSER=admin\n');
    expect(r.stderr).toBe('');
  });

  it('warns on stderr when stdout is a terminal', async () => {
    const r = await runCliForTest(['env', '-format', 'json', '-path', 'secret/app'], {
      routes: ROUTES,
      stdoutIsTty: true,
    });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ DB_PASSWORD: 'pw-1', USER: 'admin' });
    expect(r.stderr).toBe('Warning: printing secret values to the terminal\n');
  });

  it('refuses an unknown format and a call without sources (usage, exit 2)', async () => {
    const bad = await runCliForTest(['env', '-format=table', '-path=secret/app'], {
      routes: ROUTES,
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/invalid value for flag -format: one of dotenv, shell, json, yaml/);
    const none = await runCliForTest(['env'], { routes: ROUTES });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/nothing to deliver/);
  });

  it('reports a missing secret in one line (exit 1)', async () => {
    const r = await runCliForTest(['env', '-map=X=coffer://secret/app#nope'], { routes: ROUTES });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('Error: -map: no key "nope" in the secret at secret/app\n');
  });
});
