import { describe, expect, it } from 'vitest';
import { kvV2Probe } from '../client/testing.js';
import { runCliForTest } from './testing.js';

const ROUTES = {
  'GET sys/internal/ui/mounts/secret/*': kvV2Probe('secret/'),
  'GET secret/data/app': {
    body: { data: { data: { 'db-password': 'pw-1' }, metadata: { version: 1 } } },
  },
  'GET secret/data/other': {
    body: { data: { data: { db_password: 'pw-2' }, metadata: { version: 1 } } },
  },
};

describe('coffer run before the program starts', () => {
  it('refuses -fallback without a snapshot key, before reading anything', async () => {
    const r = await runCliForTest(['run', '-fallback=/tmp/x', '-path=secret/app', '--', 'true'], {
      routes: ROUTES,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/COFFER_FALLBACK_KEY is not set/);
    expect(r.requests).toHaveLength(0);
  });

  it('refuses a snapshot key of the wrong size without printing it', async () => {
    const key = Buffer.alloc(16, 7).toString('base64');
    const r = await runCliForTest(['run', '-fallback=/tmp/x', '-path=secret/app', '--', 'true'], {
      routes: ROUTES,
      env: { COFFER_FALLBACK_KEY: key },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/must be base64 of exactly 32 bytes/);
    expect(r.stderr).not.toContain(key);
  });

  it('checks -on-change', async () => {
    const noWatch = await runCliForTest(
      ['run', '-on-change=SIGHUP', '-path=secret/app', '--', 'true'],
      { routes: ROUTES },
    );
    expect(noWatch.code).toBe(2);
    expect(noWatch.stderr).toMatch(/-on-change needs -watch/);
    const bad = await runCliForTest(
      ['run', '-watch', '-on-change=SIGNOPE', '-path=secret/app', '--', 'true'],
      { routes: ROUTES },
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/"restart" or a signal name/);
  });

  it('needs a command and something to deliver', async () => {
    expect((await runCliForTest(['run', '-path=secret/app'], { routes: ROUTES })).code).toBe(2);
    const none = await runCliForTest(['run', '--', 'true'], { routes: ROUTES });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/nothing to deliver/);
  });

  it('names both sources of a clashing variable and starts nothing', async () => {
    const r = await runCliForTest(['run', '-path=secret/app', '-path=secret/other', '--', 'true'], {
      routes: ROUTES,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'Error: variable DB_PASSWORD comes from both secret/app#db-password and secret/other#db_password\n',
    );
  });

  it('reports a program that does not exist with exit code 127', async () => {
    const r = await runCliForTest(['run', '-path=secret/app', '--', 'coffer-no-such-program-x'], {
      routes: ROUTES,
    });
    expect(r.code).toBe(127);
    expect(r.stderr).toBe('Error: cannot start coffer-no-such-program-x: ENOENT\n');
  });
});
