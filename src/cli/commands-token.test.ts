import { describe, expect, it } from 'vitest';
import { runCliForTest as run, TEST_TOKEN } from './testing.js';

const OTHER = 'hvs.other-token-value';

const AUTH = {
  client_token: 'hvs.new-child',
  accessor: 'acc-new',
  policies: ['default', 'ops'],
  token_policies: ['default', 'ops'],
  identity_policies: [],
  metadata: { team: 'a' },
  lease_duration: 3600,
  renewable: true,
};

const LOOKUP = {
  data: {
    accessor: 'acc-1',
    creation_time: 1714557600,
    creation_ttl: 3600,
    display_name: 'token',
    entity_id: '',
    expire_time: '2024-05-01T11:00:00Z',
    explicit_max_ttl: 0,
    id: OTHER,
    meta: null,
    num_uses: 0,
    orphan: false,
    path: 'auth/token/create',
    policies: ['default'],
    renewable: true,
    ttl: 3599,
    type: 'service',
  },
};

const ROUTES = {
  'POST auth/token/create': { body: { auth: AUTH } },
  'POST auth/token/create-orphan': { body: { auth: { ...AUTH, orphan: true } } },
  'POST auth/token/create/*': { body: { auth: AUTH } },
  'GET auth/token/lookup-self': { body: LOOKUP },
  'POST auth/token/lookup': { body: LOOKUP },
  'POST auth/token/lookup-accessor': { body: { data: { ...LOOKUP.data, id: '' } } },
  'POST auth/token/renew-self': { body: { auth: AUTH } },
  'POST auth/token/renew': { body: { auth: AUTH } },
  'POST auth/token/renew-accessor': { body: { auth: { ...AUTH, client_token: '' } } },
  'POST auth/token/revoke*': { status: 204 },
  'POST sys/capabilities*': {
    body: { data: { 'secret/a': ['read', 'list'], capabilities: ['read', 'list'] } },
  },
} as const;

const AUTH_TABLE = [
  'Key                  Value',
  '---                  -----',
  'token                hvs.new-child',
  'token_accessor       acc-new',
  'token_duration       1h',
  'token_renewable      true',
  'token_policies       ["default" "ops"]',
  'identity_policies    []',
  'policies             ["default" "ops"]',
  'token_meta_team      a',
  '',
].join('\n');

describe('token create', () => {
  it('sends every flag in Vault wire names and prints the auth table', async () => {
    const result = await run(
      [
        'token',
        'create',
        '-policy=ops',
        '-policy',
        'ci',
        '-ttl=1h',
        '-explicit-max-ttl=2h',
        '-period=30m',
        '-use-limit=3',
        '-display-name=ci-bot',
        '-metadata=team=a',
        '-metadata=env=prod',
        '-no-default-policy',
        '-renewable=false',
        '-type=service',
      ],
      { routes: ROUTES },
    );
    expect(result.code).toBe(0);
    expect(result.requests[0]).toMatchObject({ method: 'POST', path: 'auth/token/create' });
    expect(result.requests[0]!.headers['x-vault-token']).toBe(TEST_TOKEN);
    expect(result.requests[0]!.body).toEqual({
      policies: ['ops', 'ci'],
      ttl: '1h',
      explicit_max_ttl: '2h',
      period: '30m',
      num_uses: 3,
      display_name: 'ci-bot',
      meta: { team: 'a', env: 'prod' },
      no_default_policy: true,
      renewable: false,
      type: 'service',
    });
    expect(result.stdout).toBe(AUTH_TABLE);
  });

  it('prints one field raw or the whole answer as JSON', async () => {
    const field = await run(['token', 'create', '-field=token'], { routes: ROUTES });
    expect(field).toMatchObject({ code: 0, stdout: 'hvs.new-child' });
    expect(field.requests[0]!.body).toEqual({});
    const duration = await run(['token', 'create', '-field=token_duration'], { routes: ROUTES });
    expect(duration.stdout).toBe('3600');
    const json = await run(['token', 'create', '-format=json'], { routes: ROUTES });
    expect(JSON.parse(json.stdout)).toEqual({ auth: AUTH });
  });

  it('creates orphans and role tokens at their endpoints', async () => {
    const orphan = await run(['token', 'create', '-orphan', '-id=chosen-id'], { routes: ROUTES });
    expect(orphan.requests[0]).toMatchObject({
      path: 'auth/token/create-orphan',
      body: { id: 'chosen-id' },
    });
    const role = await run(['token', 'create', '-role=deploy'], { routes: ROUTES });
    expect(role.requests[0]!.path).toBe('auth/token/create/deploy');
  });

  it('refuses bad flag combinations and values with exit 2 before any request', async () => {
    for (const argv of [
      ['-orphan', '-role=x'],
      ['-type=bogus'],
      ['-use-limit=many'],
      ['-metadata=novalue'],
      ['extra-arg'],
    ]) {
      const result = await run(['token', 'create', ...argv], { routes: ROUTES });
      expect(result.code, argv.join(' ')).toBe(2);
      expect(result.requests).toHaveLength(0);
    }
  });
});

describe('token lookup', () => {
  it('looks up the calling token and prints the data with durations', async () => {
    const result = await run(['token', 'lookup'], { routes: ROUTES });
    expect(result.code).toBe(0);
    expect(result.requests[0]).toMatchObject({ method: 'GET', path: 'auth/token/lookup-self' });
    expect(result.stdout).toMatch(/^Key {17}Value$/m);
    expect(result.stdout).toMatch(/^accessor {12}acc-1$/m);
    expect(result.stdout).toMatch(/^creation_ttl {8}1h$/m);
    expect(result.stdout).toMatch(/^explicit_max_ttl {4}0s$/m);
    expect(result.stdout).toMatch(/^policies {12}\[default\]$/m);
    expect(result.stdout).toMatch(/^ttl {17}59m59s$/m);
    expect(result.stdout).toMatch(/^entity_id {11}n\/a$/m);
  });

  it('looks up another token in the body, or an accessor', async () => {
    const other = await run(['token', 'lookup', OTHER], { routes: ROUTES });
    expect(other.requests[0]).toMatchObject({
      method: 'POST',
      path: 'auth/token/lookup',
      body: { token: OTHER },
    });
    expect(other.requests[0]!.url.href).not.toContain(OTHER);
    const byAccessor = await run(['token', 'lookup', '-accessor', 'acc-1'], { routes: ROUTES });
    expect(byAccessor.requests[0]).toMatchObject({
      path: 'auth/token/lookup-accessor',
      body: { accessor: 'acc-1' },
    });
    expect(byAccessor.stdout).toMatch(/^id {18}n\/a$/m);
    const field = await run(['token', 'lookup', '-field=ttl'], { routes: ROUTES });
    expect(field.stdout).toBe('3599');
    expect((await run(['token', 'lookup', '-accessor'], { routes: ROUTES })).code).toBe(2);
  });
});

describe('token renew', () => {
  it('renews self with an increment in seconds, or a token, or an accessor', async () => {
    const self = await run(['token', 'renew', '-increment=1h30m'], { routes: ROUTES });
    expect(self.code).toBe(0);
    expect(self.requests[0]).toMatchObject({
      path: 'auth/token/renew-self',
      body: { increment: 5400 },
    });
    expect(self.stdout).toBe(AUTH_TABLE);
    const other = await run(['token', 'renew', '-i', '60', OTHER], { routes: ROUTES });
    expect(other.requests[0]).toMatchObject({
      path: 'auth/token/renew',
      body: { token: OTHER, increment: 60 },
    });
    const byAccessor = await run(['token', 'renew', '-accessor', 'acc-1'], { routes: ROUTES });
    expect(byAccessor.requests[0]).toMatchObject({
      path: 'auth/token/renew-accessor',
      body: { accessor: 'acc-1' },
    });
    expect((await run(['token', 'renew', '-increment=soon'], { routes: ROUTES })).code).toBe(2);
  });

  it('reports a token that cannot be renewed in one line', async () => {
    const result = await run(['token', 'renew'], {
      routes: {
        'POST auth/token/renew-self': { status: 400, body: { errors: ['lease is not renewable'] } },
      },
    });
    expect(result).toMatchObject({ code: 1, stderr: 'Error: lease is not renewable (400)\n' });
  });
});

describe('token revoke', () => {
  it('revokes a token, itself, an accessor or an orphan', async () => {
    const cases: [string[], string, unknown][] = [
      [[OTHER], 'auth/token/revoke', { token: OTHER }],
      [['-self'], 'auth/token/revoke-self', undefined],
      [['-accessor', 'acc-1'], 'auth/token/revoke-accessor', { accessor: 'acc-1' }],
      [['-mode=orphan', OTHER], 'auth/token/revoke-orphan', { token: OTHER }],
    ];
    for (const [argv, path, body] of cases) {
      const result = await run(['token', 'revoke', ...argv], { routes: ROUTES });
      expect(result.stdout).toBe('Success! Revoked token (if it existed)\n');
      expect(result.requests[0]).toMatchObject({ method: 'POST', path });
      expect(result.requests[0]!.body).toEqual(body);
    }
  });

  it('refuses ambiguous calls with exit 2', async () => {
    for (const argv of [
      [],
      ['-self', OTHER],
      ['-self', '-accessor'],
      ['-mode=path', OTHER],
      ['-mode=bogus', OTHER],
      ['-accessor', '-mode=orphan', 'acc'],
    ]) {
      const result = await run(['token', 'revoke', ...argv], { routes: ROUTES });
      expect(result.code, argv.join(' ')).toBe(2);
      expect(result.requests).toHaveLength(0);
      expect(result.stderr).not.toContain(OTHER);
    }
  });
});

describe('token capabilities', () => {
  it('asks for the caller, another token or an accessor and prints sorted capabilities', async () => {
    const self = await run(['token', 'capabilities', 'secret/a'], { routes: ROUTES });
    expect(self).toMatchObject({ code: 0, stdout: 'list, read\n' });
    expect(self.requests[0]).toMatchObject({
      path: 'sys/capabilities-self',
      body: { paths: ['secret/a'] },
    });
    const other = await run(['token', 'capabilities', OTHER, 'secret/a'], { routes: ROUTES });
    expect(other.requests[0]).toMatchObject({
      path: 'sys/capabilities',
      body: { token: OTHER, paths: ['secret/a'] },
    });
    expect(other.stdout).not.toContain(OTHER);
    const acc = await run(['token', 'capabilities', '-accessor', 'acc-1', 'secret/a'], {
      routes: ROUTES,
    });
    expect(acc.requests[0]).toMatchObject({ path: 'sys/capabilities-accessor' });
    const json = await run(['token', 'capabilities', '-format=json', 'secret/a'], {
      routes: ROUTES,
    });
    expect(JSON.parse(json.stdout)).toEqual(['list', 'read']);
    expect((await run(['token', 'capabilities', '-accessor', 'secret/a'])).code).toBe(2);
  });

  it('turns a 403 into one line without the token', async () => {
    const result = await run(['token', 'capabilities', OTHER, 'secret/a'], {
      routes: { 'POST sys/capabilities': { status: 403, body: { errors: ['permission denied'] } } },
    });
    expect(result).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'Error: permission denied (403)\n',
    });
  });
});

describe('token group', () => {
  it('lists its subcommands', async () => {
    const result = await run(['token', '-h']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /capabilities[\s\S]*create[\s\S]*lookup[\s\S]*renew[\s\S]*revoke/,
    );
    const help = await run(['token', 'create', '-h']);
    expect(help.stdout).toContain('-explicit-max-ttl=<duration>');
    expect(help.stdout).toContain('-metadata=<key=value>');
  });
});
