import {
  chmodSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatExplanation } from './commands-policy.js';
import { runCliForTest as run } from './testing.js';

const temp = mkdtempSync(join(tmpdir(), 'coffer-policy-cli-'));
afterAll(() => {
  rmSync(temp, { recursive: true, force: true });
});

const HCL = 'path "secret/data/app/*" {\n  capabilities = ["read", "list"]\n}\n';

const ROUTES = {
  'PUT sys/policies/acl/*': { status: 204 },
  'DELETE sys/policies/acl/*': { status: 204 },
  'GET sys/policies/acl/app': { body: { data: { name: 'app', policy: HCL } } },
  'GET sys/policies/acl/gone': { status: 404, body: { errors: ['no such policy'] } },
  'LIST sys/policies/acl/': { body: { data: { keys: ['app', 'default', 'root'] } } },
} as const;

describe('policy write', () => {
  it('uploads an HCL file as {policy: text}', async () => {
    const file = join(temp, 'app.hcl');
    writeFileSync(file, HCL);
    const result = await run(['policy', 'write', 'app', file], { routes: ROUTES });
    expect(result).toMatchObject({ code: 0, stdout: 'Success! Uploaded policy: app\n' });
    expect(result.requests[0]).toMatchObject({
      method: 'PUT',
      path: 'sys/policies/acl/app',
      body: { policy: HCL },
    });
  });

  it('uploads JSON read from standard input', async () => {
    const json = '{"path": {"secret/*": {"capabilities": ["read"]}}}';
    const result = await run(['policy', 'write', 'app', '-'], { routes: ROUTES, stdin: json });
    expect(result.code).toBe(0);
    expect(result.requests[0]!.body).toEqual({ policy: json });
  });

  it('prints the server warnings (e.g. a lower-cased name)', async () => {
    const result = await run(['policy', 'write', 'App', '-'], {
      routes: {
        'PUT sys/policies/acl/App': { body: { warnings: ['policy name was normalised to "app"'] } },
      },
      stdin: HCL,
    });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('policy name was normalised');
  });

  it('reports a syntax error with line and column and sends nothing', async () => {
    const file = join(temp, 'broken.hcl');
    writeFileSync(file, 'path "x" {\n  capabilities = ["read"\n}\n');
    const result = await run(['policy', 'write', 'app', file], { routes: ROUTES });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^Error: ${file}: 3:1: .+\\n$`));
    expect(result.requests).toHaveLength(0);
  });

  it('names a missing file and refuses bad names with exit 2', async () => {
    const missing = await run(['policy', 'write', 'app', join(temp, 'absent.hcl')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read policy file');
    expect(missing.stderr).toContain('ENOENT');
    expect((await run(['policy', 'write', 'a/b', '-'], { stdin: HCL })).code).toBe(2);
    expect((await run(['policy', 'write', 'app'])).code).toBe(2);
  });

  it('turns a 403 into one line', async () => {
    const result = await run(['policy', 'write', 'app', '-'], {
      stdin: HCL,
      routes: {
        'PUT sys/policies/acl/app': { status: 403, body: { errors: ['permission denied'] } },
      },
    });
    expect(result).toMatchObject({ code: 1, stderr: 'Error: permission denied (403)\n' });
  });
});

describe('policy read, list, delete', () => {
  it('prints the policy text, or JSON, or says there is none', async () => {
    const text = await run(['policy', 'read', 'app'], { routes: ROUTES });
    expect(text).toMatchObject({ code: 0, stdout: HCL });
    const json = await run(['policy', 'read', '-format=json', 'app'], { routes: ROUTES });
    expect(JSON.parse(json.stdout)).toEqual({ name: 'app', policy: HCL });
    const gone = await run(['policy', 'read', 'gone'], { routes: ROUTES });
    expect(gone).toMatchObject({ code: 2, stderr: 'Error: no policy named: gone\n' });
  });

  it('lists names one per line, or as JSON', async () => {
    const list = await run(['policy', 'list'], { routes: ROUTES });
    expect(list).toMatchObject({ code: 0, stdout: 'app\ndefault\nroot\n' });
    const json = await run(['policy', 'list', '-format=json'], { routes: ROUTES });
    expect(JSON.parse(json.stdout)).toEqual(['app', 'default', 'root']);
  });

  it('deletes', async () => {
    const result = await run(['policy', 'delete', 'app'], { routes: ROUTES });
    expect(result).toMatchObject({ code: 0, stdout: 'Success! Deleted policy: app\n' });
    expect(result.requests[0]).toMatchObject({ method: 'DELETE', path: 'sys/policies/acl/app' });
  });
});

describe('policy fmt', () => {
  it('rewrites a messy file in place, keeping its mode, without any request', async () => {
    const file = join(temp, 'messy.hcl');
    writeFileSync(
      file,
      '# c\npath "a/*"{capabilities=["read","list"]}\npath "b" {\ncapabilities=["deny"]}',
    );
    chmodSync(file, 0o640);
    const result = await run(['policy', 'fmt', file]);
    expect(result).toMatchObject({ code: 0, stdout: `Success! Formatted policy: ${file}\n` });
    expect(readFileSync(file, 'utf8')).toBe(
      'path "a/*" {\n  capabilities = ["read", "list"]\n}\n\npath "b" {\n  capabilities = ["deny"]\n}\n',
    );
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(result.requests).toHaveLength(0);
  });

  it('writes through a symlink, keeping the link', async () => {
    const real = join(temp, 'real.hcl');
    const link = join(temp, 'link.hcl');
    writeFileSync(real, 'path "a" {capabilities=["read"]}');
    symlinkSync(real, link);
    expect((await run(['policy', 'fmt', link])).code).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(real, 'utf8')).toBe('path "a" {\n  capabilities = ["read"]\n}\n');
  });

  it('leaves an invalid file untouched', async () => {
    const file = join(temp, 'invalid.hcl');
    const text = 'path "a" {\n  capabilities = ["read",\n';
    writeFileSync(file, text);
    const result = await run(['policy', 'fmt', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^Error: .*invalid\.hcl: \d+:\d+: /);
    expect(readFileSync(file, 'utf8')).toBe(text);
    expect((await run(['policy', 'fmt', '-'])).code).toBe(2);
  });
});

describe('policy explain', () => {
  const data = {
    path: 'secret/data/app/db',
    operation: 'read',
    allowed: true,
    capabilities: ['list', 'read'],
    is_root: false,
    policies: ['app', 'default'],
    matches: [
      {
        policy: 'app',
        pattern: 'secret/data/app/*',
        line: 1,
        capabilities: ['read', 'list'],
        kind: 'glob',
        used: true,
      },
      {
        policy: 'default',
        pattern: 'secret/*',
        line: 12,
        capabilities: ['deny'],
        kind: 'glob',
        used: false,
      },
    ],
    reason: 'the most specific glob rule decides',
  };

  it('asks the explainer and prints the verdict and the deciding rule', async () => {
    const result = await run(['policy', 'explain', '-operation=read', '/secret/data/app/db'], {
      routes: { 'POST sys/policies/explain': { body: { data } } },
    });
    expect(result.code).toBe(0);
    expect(result.requests[0]!.body).toEqual({ path: 'secret/data/app/db', operation: 'read' });
    expect(result.stdout).toBe(
      [
        'Key             Value',
        '---             -----',
        'Path            secret/data/app/db',
        'Operation       read',
        'Verdict         allowed',
        'Capabilities    ["list" "read"]',
        'Policies        ["app" "default"]',
        'Reason          the most specific glob rule decides',
        '',
        'Matching rules (* = the rule that decided):',
        '     Policy     Line    Pattern              Kind    Capabilities',
        '     ------     ----    -------              ----    ------------',
        '*    app        1       secret/data/app/*    glob    read, list',
        '     default    12      secret/*             glob    deny',
        '',
      ].join('\n'),
    );
    const json = await run(['policy', 'explain', '-format=json', 'secret/data/app/db'], {
      routes: { 'POST sys/policies/explain': { body: { data } } },
    });
    expect(JSON.parse(json.stdout)).toEqual(data);
  });

  it('says when nothing matches, and when root decides', () => {
    const base = {
      path: 'x',
      capabilities: ['deny'],
      isRoot: false,
      matches: [],
      reason: 'no rule matches',
      response: {},
    };
    expect(formatExplanation(base)).toMatch(/No rule matches this path\.$/);
    expect(formatExplanation({ ...base, capabilities: ['root'], isRoot: true })).toMatch(
      /^Root {12}true$[\s\S]*root policy allows everything\.$/m,
    );
  });

  it('refuses an unknown operation with exit 2', async () => {
    const result = await run(['policy', 'explain', '-operation=write', 'x']);
    expect(result.code).toBe(2);
    expect(result.requests).toHaveLength(0);
  });
});
