import { describe, expect, it } from 'vitest';
import type { AuthResult, EngineResult, Operation } from '../sdk/engine.js';
import type { JsonObject } from '../sdk/json.js';
import { memoryStorage, testMount, testRequest } from '../sdk/testing.js';
import type { Caller } from './caller.js';
import { globMatch } from '../sdk/text.js';
import { createTokenBackend } from './token-backend.js';
import { BATCH_TOKEN_PREFIX, SERVICE_TOKEN_PREFIX, TokenStore } from './token-store.js';

const T0 = Date.UTC(2026, 0, 1);
const MOUNT = testMount({ path: 'auth/token/', type: 'token', options: {} });

async function setup() {
  const clock = { now: T0 };
  const storage = memoryStorage();
  const tokens = new TokenStore({ storage, now: () => clock.now });
  await tokens.open();
  const backend = createTokenBackend({ tokens, now: () => clock.now });
  const root = await tokens.create({
    policies: ['root'],
    path: 'auth/token/root',
    displayName: 'root',
  });

  /** A caller as the core builds it; `sudo` lists the full paths the caller has sudo on. */
  async function callerFor(token: string, sudo: readonly string[] = []): Promise<Caller> {
    const entry = await tokens.authenticate(token);
    if (entry === undefined) throw new Error('test token does not authenticate');
    const isRoot = entry.policies.includes('root');
    return { token, entry, isRoot, sudoOn: (path) => isRoot || sudo.includes(path) };
  }

  async function call(
    caller: Caller,
    operation: Operation,
    path: string,
    data: Record<string, unknown> = {},
  ): Promise<EngineResult> {
    const req = testRequest(operation, path, data, storage, { mount: MOUNT, now: () => clock.now });
    return backend.handle(req, caller);
  }

  async function auth(
    caller: Caller,
    path: string,
    data: Record<string, unknown> = {},
  ): Promise<AuthResult> {
    const result = await call(caller, 'update', path, data);
    if (result.kind !== 'auth') throw new Error(`expected an auth result, got ${result.kind}`);
    return result.auth;
  }

  async function data(
    caller: Caller,
    operation: Operation,
    path: string,
    body: Record<string, unknown> = {},
  ): Promise<JsonObject> {
    const result = await call(caller, operation, path, body);
    if (result.kind !== 'data') throw new Error(`expected a data result, got ${result.kind}`);
    return result.data;
  }

  const rootCaller = await callerFor(root.token);
  /** A non-root token with the given policies, made by root. */
  async function tokenWith(policies: string[], extra: Record<string, unknown> = {}) {
    return auth(rootCaller, 'create', { policies, ...extra });
  }

  return {
    clock,
    storage,
    tokens,
    backend,
    root,
    rootCaller,
    callerFor,
    call,
    auth,
    data,
    tokenWith,
  };
}

describe('auth/token/create', () => {
  it('creates a child service token with default added, as Vault renders it', async () => {
    const { rootCaller, auth, tokens, root } = await setup();
    const created = await auth(rootCaller, 'create', {
      policies: 'Dev-Policy, test-policy',
      ttl: '1h',
      meta: { team: 'a' },
      display_name: 'my app',
    });
    expect(created.clientToken.startsWith(SERVICE_TOKEN_PREFIX)).toBe(true);
    expect(created).toMatchObject({
      policies: ['default', 'dev-policy', 'test-policy'],
      tokenPolicies: ['default', 'dev-policy', 'test-policy'],
      metadata: { team: 'a' },
      leaseDurationSeconds: 3600,
      renewable: true,
      entityId: '',
      tokenType: 'service',
      orphan: false,
      numUses: 0,
    });
    const entry = await tokens.lookup(created.clientToken);
    expect(entry).toMatchObject({ displayName: 'token-my-app', path: 'auth/token/create' });
    expect(entry?.parent).toBe(tokens.hashToken(root.token));
  });

  it('accepts TTLs as integers or duration strings, and refuses unknown fields', async () => {
    const { rootCaller, auth, call } = await setup();
    expect((await auth(rootCaller, 'create', { ttl: 90 })).leaseDurationSeconds).toBe(90);
    expect((await auth(rootCaller, 'create', { ttl: '90' })).leaseDurationSeconds).toBe(90);
    expect((await auth(rootCaller, 'create', { ttl: '1m30s' })).leaseDurationSeconds).toBe(90);
    await expect(call(rootCaller, 'update', 'create', { polices: ['x'] })).rejects.toMatchObject({
      code: 'invalid_request',
      field: 'polices',
    });
    await expect(call(rootCaller, 'update', 'create', { num_uses: -1 })).rejects.toMatchObject({
      field: 'num_uses',
    });
    await expect(call(rootCaller, 'update', 'create', { type: 'weird' })).rejects.toMatchObject({
      field: 'type',
    });
  });

  it('inherits the parent policies when none are given; no_default_policy strips default', async () => {
    const { auth, callerFor, tokenWith } = await setup();
    const parent = await tokenWith(['a', 'b']);
    const caller = await callerFor(parent.clientToken);
    expect((await auth(caller, 'create')).policies).toEqual(['a', 'b', 'default']);
    expect((await auth(caller, 'create', { policies: ['a'] })).policies).toEqual(['a', 'default']);
    expect(
      (await auth(caller, 'create', { policies: ['a'], no_default_policy: true })).policies,
    ).toEqual(['a']);
  });

  it('a non-root caller may only create a subset of its own policies unless it has sudo on create', async () => {
    const { auth, call, callerFor, tokenWith } = await setup();
    const parent = await tokenWith(['a']);
    const plain = await callerFor(parent.clientToken);
    await expect(call(plain, 'update', 'create', { policies: ['b'] })).rejects.toThrow(
      'child policies must be subset of parent',
    );
    await expect(call(plain, 'update', 'create', { policies: ['a', 'B '] })).rejects.toThrow(
      'subset',
    );
    const sudo = await callerFor(parent.clientToken, ['auth/token/create']);
    expect((await auth(sudo, 'create', { policies: ['b'] })).policies).toEqual(['b', 'default']);
  });

  it('only a root caller may grant root, however it is spelled (sudo is not enough)', async () => {
    const { auth, call, callerFor, tokenWith, rootCaller } = await setup();
    const admin = await tokenWith(['admin']);
    const everywhere = ['auth/token/create', 'auth/token/create-orphan', 'auth/token/create/r'];
    const sudo = await callerFor(admin.clientToken, everywhere);
    for (const policies of [['root'], [' ROOT'], ['Root '], ['a', 'root'], 'x, rOoT']) {
      await expect(call(sudo, 'update', 'create', { policies })).rejects.toThrow(
        'root tokens may not be created without parent token being root',
      );
      await expect(call(sudo, 'update', 'create-orphan', { policies })).rejects.toThrow(
        'parent token being root',
      );
    }
    // A role that allows root does not help either.
    await call(rootCaller, 'update', 'roles/r', { allowed_policies: ['root'] });
    await expect(call(sudo, 'update', 'create/r', {})).rejects.toThrow('parent token being root');
    // A root caller may.
    expect((await auth(rootCaller, 'create', { policies: [' ROOT'] })).policies).toEqual(['root']);
  });

  it('a root child of an expiring root token must expire too', async () => {
    const { auth, call, callerFor, rootCaller } = await setup();
    const expiringRoot = await auth(rootCaller, 'create', { policies: ['root'], ttl: '1h' });
    const caller = await callerFor(expiringRoot.clientToken);
    await expect(call(caller, 'update', 'create', {})).rejects.toThrow(
      'expiring root tokens cannot create non-expiring root tokens',
    );
  });

  it('orphans (no_parent, create-orphan) need root or sudo', async () => {
    const { auth, call, callerFor, tokenWith } = await setup();
    const parent = await tokenWith(['a']);
    const plain = await callerFor(parent.clientToken);
    await expect(call(plain, 'update', 'create', { no_parent: true })).rejects.toThrow(
      'root or sudo privileges required to create orphan token',
    );
    await expect(call(plain, 'update', 'create-orphan', {})).rejects.toThrow('root or sudo');
    const sudoCreate = await callerFor(parent.clientToken, ['auth/token/create']);
    expect((await auth(sudoCreate, 'create', { no_parent: true })).orphan).toBe(true);
    const sudoOrphan = await callerFor(parent.clientToken, ['auth/token/create-orphan']);
    const orphan = await auth(sudoOrphan, 'create-orphan', { policies: ['a'] });
    expect(orphan.orphan).toBe(true);
  });

  it('a custom id needs a root caller; periodic tokens need sudo', async () => {
    const { auth, call, callerFor, tokenWith, rootCaller, tokens } = await setup();
    const parent = await tokenWith(['a']);
    const sudo = await callerFor(parent.clientToken, ['auth/token/create']);
    await expect(call(sudo, 'update', 'create', { id: 'chosen-id' })).rejects.toThrow(
      'root privileges required to specify token id',
    );
    const chosen = await auth(rootCaller, 'create', { id: 'chosen-id', policies: ['a'] });
    expect(chosen.clientToken).toBe('chosen-id');
    expect(await tokens.lookup('chosen-id')).toBeDefined();
    const plain = await callerFor(parent.clientToken);
    await expect(call(plain, 'update', 'create', { period: '1h' })).rejects.toThrow(
      'root or sudo privileges required to create periodic token',
    );
    expect((await auth(sudo, 'create', { period: '1h' })).leaseDurationSeconds).toBe(3600);
  });

  it('batch tokens: created by type, never parents, refused by limited-use parents', async () => {
    const { auth, call, callerFor, tokenWith, rootCaller } = await setup();
    const batch = await auth(rootCaller, 'create', { type: 'batch', policies: ['a'], ttl: 60 });
    expect(batch.clientToken.startsWith(BATCH_TOKEN_PREFIX)).toBe(true);
    expect(batch).toMatchObject({
      tokenType: 'batch',
      renewable: false,
      accessor: '',
      orphan: false,
    });
    const batchCaller = await callerFor(batch.clientToken);
    await expect(call(batchCaller, 'update', 'create', {})).rejects.toThrow(
      'batch tokens cannot create more tokens',
    );
    await expect(
      call(rootCaller, 'update', 'create', { type: 'batch', num_uses: 2 }),
    ).rejects.toThrow('batch tokens cannot have "num_uses" set');
    const limited = await tokenWith(['a'], { num_uses: 5 });
    const limitedCaller = await callerFor(limited.clientToken);
    await expect(call(limitedCaller, 'update', 'create', {})).rejects.toThrow(
      'restricted use token cannot generate child tokens',
    );
  });

  it('refuses internal policies', async () => {
    const { call, rootCaller } = await setup();
    await expect(
      call(rootCaller, 'update', 'create', { policies: ['response-wrapping'] }),
    ).rejects.toThrow('cannot assign policy');
  });

  it('warns about policies that do not exist when the core says so', async () => {
    const clock = { now: T0 };
    const storage = memoryStorage();
    const tokens = new TokenStore({ storage, now: () => clock.now });
    await tokens.open();
    const backend = createTokenBackend({
      tokens,
      now: () => clock.now,
      policyExists: (name) => Promise.resolve(name !== 'missing'),
    });
    const root = await tokens.create({
      policies: ['root'],
      path: 'auth/token/root',
      displayName: 'root',
    });
    const entry = (await tokens.lookup(root.token))!;
    const result = await backend.handle(
      testRequest('update', 'create', { policies: ['missing', 'there'] }, storage, {
        mount: MOUNT,
      }),
      { token: root.token, entry, isRoot: true, sudoOn: () => true },
    );
    expect(result.warnings).toEqual(['Policy "missing" does not exist']);
  });
});

describe('auth/token/create/:role and roles', () => {
  it('allowed and disallowed policies, with globs', async () => {
    const { auth, call, callerFor, tokenWith, rootCaller } = await setup();
    await call(rootCaller, 'update', 'roles/dev', {
      allowed_policies: 'a, B',
      allowed_policies_glob: ['dev-*'],
      disallowed_policies_glob: ['*-admin'],
    });
    // A role lets a token hand out policies it does not hold.
    const plain = await callerFor((await tokenWith(['unrelated'])).clientToken);
    expect((await auth(plain, 'create/dev')).policies).toEqual(['a', 'b', 'default']);
    expect((await auth(plain, 'create/dev', { policies: ['a'] })).policies).toEqual([
      'a',
      'default',
    ]);
    expect((await auth(plain, 'create/dev', { policies: ['dev-x'] })).policies).toEqual([
      'default',
      'dev-x',
    ]);
    await expect(call(plain, 'update', 'create/dev', { policies: ['c'] })).rejects.toThrow(
      "role's allowed policies",
    );
    await expect(call(plain, 'update', 'create/dev', { policies: ['dev-admin'] })).rejects.toThrow(
      'is disallowed by this role',
    );
    await call(rootCaller, 'update', 'roles/nosecret', { disallowed_policies: ['Secret'] });
    const holder = await callerFor((await tokenWith(['secret', 'x'])).clientToken);
    await expect(call(holder, 'update', 'create/nosecret', {})).rejects.toThrow(
      '"secret" is disallowed',
    );
    expect((await auth(holder, 'create/nosecret', { policies: ['x'] })).policies).toEqual([
      'default',
      'x',
    ]);
    await expect(call(plain, 'update', 'create/nope', {})).rejects.toThrow('unknown role nope');
  });

  it('orphan, path_suffix, period, use limit and token_type come from the role', async () => {
    const { auth, call, data, rootCaller, tokens } = await setup();
    await call(rootCaller, 'update', 'roles/svc', {
      orphan: true,
      path_suffix: 'v1',
      token_period: '10m',
      token_num_uses: 3,
    });
    const created = await auth(rootCaller, 'create/svc', { policies: ['a'], ttl: '1h' });
    expect(created).toMatchObject({ orphan: true, leaseDurationSeconds: 600, numUses: 3 });
    const looked = await data(rootCaller, 'update', 'lookup', { token: created.clientToken });
    expect(looked).toMatchObject({
      path: 'auth/token/create/svc/v1',
      period: 600,
      role: 'svc',
      orphan: true,
    });

    await call(rootCaller, 'update', 'roles/batchy', {
      token_type: 'batch',
      orphan: true,
      renewable: false,
    });
    expect((await auth(rootCaller, 'create/batchy', { policies: ['a'] })).tokenType).toBe('batch');
    await call(rootCaller, 'update', 'roles/maybe', { token_type: 'default-batch' });
    expect((await auth(rootCaller, 'create/maybe', { policies: ['a'] })).tokenType).toBe('batch');
    expect(
      (await auth(rootCaller, 'create/maybe', { policies: ['a'], type: 'service' })).tokenType,
    ).toBe('service');
    await call(rootCaller, 'update', 'roles/fixed', {
      renewable: false,
      token_explicit_max_ttl: 100,
    });
    const fixed = await auth(rootCaller, 'create/fixed', { policies: ['a'], ttl: '1h' });
    expect(fixed).toMatchObject({ renewable: false, leaseDurationSeconds: 100 });
    expect((await tokens.lookup(fixed.clientToken))?.role).toBe('fixed');
  });

  it('reads, lists, updates and deletes roles; validates them', async () => {
    const { call, data, rootCaller, backend, storage } = await setup();
    await expect(call(rootCaller, 'list', 'roles/')).rejects.toMatchObject({ code: 'not_found' });
    const exists = (name: string) =>
      backend.exists(testRequest('update', `roles/${name}`, {}, storage, { mount: MOUNT }));
    expect(await exists('r1')).toBe(false);
    expect(
      await call(rootCaller, 'create', 'roles/r1', {
        allowed_policies: ['A', 'b'],
        token_bound_cidrs: '10.0.0.1',
      }),
    ).toEqual({ kind: 'empty' });
    expect(await exists('r1')).toBe(true);
    expect(await exists('..')).toBe(false);
    const role = await data(rootCaller, 'read', 'roles/r1');
    expect(role).toMatchObject({
      name: 'r1',
      allowed_policies: ['a', 'b'],
      orphan: false,
      renewable: true,
      token_type: 'default-service',
      token_bound_cidrs: ['10.0.0.1/32'],
      token_period: 0,
    });
    expect(role).not.toHaveProperty('token_num_uses');
    // An update changes only what it names.
    await call(rootCaller, 'update', 'roles/r1', { orphan: true });
    expect(await data(rootCaller, 'read', 'roles/r1')).toMatchObject({
      orphan: true,
      allowed_policies: ['a', 'b'],
    });
    expect(await data(rootCaller, 'list', 'roles/')).toEqual({ keys: ['r1'] });
    await expect(
      call(rootCaller, 'update', 'roles/r1', { token_type: 'odd' }),
    ).rejects.toMatchObject({
      field: 'token_type',
    });
    await expect(call(rootCaller, 'update', 'roles/b1', { token_type: 'batch' })).rejects.toThrow(
      'non-orphan',
    );
    await expect(
      call(rootCaller, 'update', 'roles/r1', { path_suffix: '../x' }),
    ).rejects.toMatchObject({
      field: 'path_suffix',
    });
    await expect(
      call(rootCaller, 'update', 'roles/r1', { token_bound_cidrs: 'nope' }),
    ).rejects.toMatchObject({
      field: 'token_bound_cidrs',
    });
    // A likely typo of a known field is refused, naming the field meant; any other unknown
    // field is ignored with Vault's warning.
    await expect(
      call(rootCaller, 'update', 'roles/r1', { allowed_polcies: 'a' }),
    ).rejects.toMatchObject({
      field: 'allowed_polcies',
      message: 'allowed_polcies: unknown field; did you mean "allowed_policies"?',
    });
    expect((await call(rootCaller, 'update', 'roles/r1', { bogus_field: 1 })).warnings).toEqual([
      'Endpoint ignored these unrecognized parameters: [bogus_field]',
    ]);
    await call(rootCaller, 'delete', 'roles/r1');
    await expect(call(rootCaller, 'read', 'roles/r1')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('entity aliases are checked against the role, then refused as unsupported', async () => {
    const { call, rootCaller } = await setup();
    await expect(call(rootCaller, 'update', 'create', { entity_alias: 'x' })).rejects.toThrow(
      'only allowed in combination with token role',
    );
    await call(rootCaller, 'update', 'roles/ea', { allowed_entity_aliases: ['web-*'] });
    await expect(call(rootCaller, 'update', 'create/ea', { entity_alias: 'db' })).rejects.toThrow(
      "invalid 'entity_alias' value",
    );
    await expect(
      call(rootCaller, 'update', 'create/ea', { entity_alias: 'web-1' }),
    ).rejects.toThrow('not supported');
  });
});

describe('lookup', () => {
  it('lookup-self (GET and POST) renders the root token as Vault does', async () => {
    const { data, rootCaller, root } = await setup();
    for (const op of ['read', 'update'] as const) {
      const self = await data(rootCaller, op, 'lookup-self');
      expect(self).toMatchObject({
        id: root.token,
        accessor: root.entry.accessor,
        policies: ['root'],
        path: 'auth/token/root',
        display_name: 'root',
        ttl: 0,
        expire_time: null,
        creation_ttl: 0,
        creation_time: Math.floor(T0 / 1000),
        issue_time: new Date(T0).toISOString(),
        explicit_max_ttl: 0,
        num_uses: 0,
        orphan: true,
        renewable: false,
        type: 'service',
        entity_id: '',
        meta: null,
      });
      expect(self).not.toHaveProperty('period');
    }
  });

  it('lookup by token and by accessor; the accessor form hides the id', async () => {
    const { auth, data, call, rootCaller, clock } = await setup();
    const created = await auth(rootCaller, 'create', { policies: ['a'], ttl: 100 });
    clock.now += 30_000;
    const byToken = await data(rootCaller, 'update', 'lookup', { token: created.clientToken });
    expect(byToken).toMatchObject({
      id: created.clientToken,
      ttl: 70,
      creation_ttl: 100,
      expire_time: new Date(T0 + 100_000).toISOString(),
      renewable: true,
      policies: ['a', 'default'],
    });
    const byAccessor = await data(rootCaller, 'update', 'lookup-accessor', {
      accessor: created.accessor,
    });
    expect(byAccessor).toMatchObject({ id: '', accessor: created.accessor, ttl: 70 });
    await expect(call(rootCaller, 'update', 'lookup', { token: 'cfs.nope' })).rejects.toMatchObject(
      {
        code: 'permission_denied',
      },
    );
    await expect(
      call(rootCaller, 'read', 'lookup', { token: created.clientToken }),
    ).rejects.toMatchObject({
      code: 'unsupported_operation',
    });
  });
});

describe('accessor operations act on exactly that accessor', () => {
  it('lookup-, renew- and revoke-accessor never touch the caller or a sibling', async () => {
    const { auth, data, call, callerFor, rootCaller, tokens, clock } = await setup();
    const a = await auth(rootCaller, 'create', { policies: ['a'], ttl: 100 });
    const b = await auth(rootCaller, 'create', { policies: ['b'], ttl: 100 });
    const c = await auth(rootCaller, 'create', { policies: ['c'], ttl: 100 });
    const caller = await callerFor(a.clientToken);

    const looked = await data(caller, 'update', 'lookup-accessor', { accessor: b.accessor });
    expect(looked).toMatchObject({ accessor: b.accessor, policies: ['b', 'default'], id: '' });

    clock.now += 50_000;
    const renewed = await call(caller, 'update', 'renew-accessor', {
      accessor: c.accessor,
      increment: 80,
    });
    expect(renewed).toMatchObject({
      kind: 'auth',
      auth: { clientToken: '', accessor: c.accessor, leaseDurationSeconds: 80 },
    });
    expect((await tokens.lookup(c.clientToken))?.expiresAt).toBe(clock.now + 80_000);
    expect((await tokens.lookup(b.clientToken))?.expiresAt).toBe(T0 + 100_000);
    expect((await tokens.lookup(a.clientToken))?.expiresAt).toBe(T0 + 100_000);

    expect(await call(caller, 'update', 'revoke-accessor', { accessor: b.accessor })).toEqual({
      kind: 'empty',
    });
    expect(await tokens.lookup(b.clientToken)).toBeUndefined();
    expect(await tokens.lookup(a.clientToken)).toBeDefined();
    expect(await tokens.lookup(c.clientToken)).toBeDefined();

    // An empty, missing or unknown accessor never falls back to the caller's own token.
    await expect(call(caller, 'update', 'lookup-accessor', { accessor: '' })).rejects.toThrow(
      'invalid accessor',
    );
    await expect(call(caller, 'update', 'lookup-accessor', {})).rejects.toThrow(
      'accessor: is required',
    );
    await expect(call(caller, 'update', 'renew-accessor', { accessor: '' })).rejects.toThrow(
      'invalid accessor',
    );
    const missing = await call(caller, 'update', 'revoke-accessor', { accessor: '' });
    expect(missing).toEqual({ kind: 'empty', warnings: ['No token found with this accessor'] });
    expect(await tokens.lookup(a.clientToken)).toBeDefined();
  });
});

describe('renewal', () => {
  it('renew, renew-self; not renewable → "lease is not renewable"', async () => {
    const { auth, call, callerFor, rootCaller, clock } = await setup();
    const t = await auth(rootCaller, 'create', {
      policies: ['a'],
      ttl: 100,
      explicit_max_ttl: 150,
    });
    clock.now += 60_000;
    const renewed = await call(rootCaller, 'update', 'renew', {
      token: t.clientToken,
      increment: '2m',
    });
    expect(renewed).toMatchObject({
      kind: 'auth',
      auth: { clientToken: t.clientToken, leaseDurationSeconds: 90 },
    });
    expect(renewed.warnings?.length).toBeGreaterThan(0);
    const self = await callerFor(t.clientToken);
    const selfRenewed = await call(self, 'update', 'renew-self', { increment: 10 });
    expect(selfRenewed).toMatchObject({
      kind: 'auth',
      auth: { clientToken: t.clientToken, leaseDurationSeconds: 10 },
    });
    const fixed = await auth(rootCaller, 'create', { renewable: false });
    await expect(call(rootCaller, 'update', 'renew', { token: fixed.clientToken })).rejects.toThrow(
      'lease is not renewable',
    );
    await expect(call(rootCaller, 'update', 'renew-self', {})).rejects.toThrow(
      'lease is not renewable',
    );
    await expect(call(rootCaller, 'update', 'renew', { token: 'cfs.nope' })).rejects.toThrow(
      'token not found',
    );
  });

  it('a periodic token renews to its period', async () => {
    const { auth, call, rootCaller, clock } = await setup();
    const t = await auth(rootCaller, 'create', { period: '1m' });
    clock.now += 59_000;
    const renewed = await call(rootCaller, 'update', 'renew', {
      token: t.clientToken,
      increment: '1h',
    });
    expect(renewed).toMatchObject({ auth: { leaseDurationSeconds: 60 } });
  });
});

describe('revocation', () => {
  it('revoke and revoke-self take the subtree; revoke-orphan (sudo) keeps the children', async () => {
    const { auth, call, callerFor, rootCaller, tokens } = await setup();
    const parent = await auth(rootCaller, 'create', { policies: ['a'] });
    const parentCaller = await callerFor(parent.clientToken);
    const child = await auth(parentCaller, 'create', {});
    expect(await call(rootCaller, 'update', 'revoke', { token: parent.clientToken })).toEqual({
      kind: 'empty',
    });
    expect(await tokens.lookup(child.clientToken)).toBeUndefined();
    expect(await call(rootCaller, 'update', 'revoke', { token: 'cfs.unknown' })).toEqual({
      kind: 'empty',
    });

    const self = await auth(rootCaller, 'create', { policies: ['a'] });
    const selfCaller = await callerFor(self.clientToken);
    const selfChild = await auth(selfCaller, 'create', {});
    await call(selfCaller, 'update', 'revoke-self');
    expect(await tokens.lookup(self.clientToken)).toBeUndefined();
    expect(await tokens.lookup(selfChild.clientToken)).toBeUndefined();

    const p2 = await auth(rootCaller, 'create', { policies: ['a'] });
    const p2Caller = await callerFor(p2.clientToken);
    const kept = await auth(p2Caller, 'create', {});
    const plain = await callerFor(
      (await auth(rootCaller, 'create', { policies: ['a'] })).clientToken,
    );
    await expect(call(plain, 'update', 'revoke-orphan', { token: p2.clientToken })).rejects.toThrow(
      'root or sudo privileges required to revoke and orphan',
    );
    await call(rootCaller, 'update', 'revoke-orphan', { token: p2.clientToken });
    expect(await tokens.lookup(p2.clientToken)).toBeUndefined();
    expect((await tokens.lookup(kept.clientToken))?.orphan).toBe(true);
    await expect(
      call(rootCaller, 'update', 'revoke-orphan', { token: p2.clientToken }),
    ).rejects.toThrow('token to revoke not found');
  });

  it('batch tokens cannot be revoked', async () => {
    const { auth, call, callerFor, rootCaller } = await setup();
    const batch = await auth(rootCaller, 'create', { type: 'batch', policies: ['a'] });
    await expect(
      call(rootCaller, 'update', 'revoke', { token: batch.clientToken }),
    ).rejects.toThrow('batch tokens cannot be revoked');
    const batchCaller = await callerFor(batch.clientToken);
    await expect(call(batchCaller, 'update', 'revoke-self')).rejects.toThrow(
      'batch tokens cannot be revoked',
    );
    await expect(call(batchCaller, 'update', 'renew-self')).rejects.toThrow(
      'batch tokens cannot be renewed',
    );
  });
});

describe('accessors list and tidy', () => {
  it('LIST accessors needs sudo and lists only stored tokens', async () => {
    const { auth, data, call, callerFor, rootCaller, root } = await setup();
    const t = await auth(rootCaller, 'create', { policies: ['a'] });
    await auth(rootCaller, 'create', { type: 'batch', policies: ['a'] });
    const listed = await data(rootCaller, 'list', 'accessors/');
    expect(new Set(listed.keys as string[])).toEqual(new Set([root.entry.accessor, t.accessor]));
    const plain = await callerFor(t.clientToken);
    await expect(call(plain, 'list', 'accessors/')).rejects.toMatchObject({
      code: 'permission_denied',
    });
    const sudo = await callerFor(t.clientToken, ['auth/token/accessors']);
    expect((await data(sudo, 'list', 'accessors/')).keys).toHaveLength(2);
  });

  it('tidy reports what it did', async () => {
    const { data, rootCaller, call } = await setup();
    expect(await data(rootCaller, 'update', 'tidy')).toMatchObject({
      tokens_scanned: 1,
      tokens_revoked: 0,
    });
    const result = await call(rootCaller, 'update', 'tidy');
    expect(result.warnings?.length).toBe(1);
  });

  it('unknown paths and operations', async () => {
    const { call, rootCaller } = await setup();
    await expect(call(rootCaller, 'read', 'nope')).rejects.toMatchObject({
      code: 'unsupported_path',
    });
    await expect(call(rootCaller, 'delete', 'create')).rejects.toMatchObject({
      code: 'unsupported_operation',
    });
    await expect(call(rootCaller, 'patch', 'roles/x')).rejects.toMatchObject({
      code: 'unsupported_operation',
    });
  });
});

describe('globMatch', () => {
  it('matches go-glob style patterns', () => {
    expect(globMatch('dev-*', 'dev-x')).toBe(true);
    expect(globMatch('dev-*', 'prod-x')).toBe(false);
    expect(globMatch('*-admin', 'db-admin')).toBe(true);
    expect(globMatch('a*b*c', 'axxbyyc')).toBe(true);
    expect(globMatch('a*b*c', 'acb')).toBe(false);
    expect(globMatch('ab*ba', 'aba')).toBe(false);
    expect(globMatch('*', '')).toBe(true);
    expect(globMatch('exact', 'exact')).toBe(true);
  });
});
