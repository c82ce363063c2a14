// userpass users/: CRUD, LIST, password and policies endpoints, username normalisation, and
// that no password is ever stored or rendered.
import { describe, expect, it } from 'vitest';
import { expectCoffer, harness, storedText } from './testing.js';

describe('userpass users/', () => {
  it('creates a user with token fields and reads them back in Vault shape, never the password', async () => {
    const h = harness();
    expect(
      await h.call('create', 'users/alice', {
        password: 'correct horse',
        token_policies: 'dev, ops',
        token_ttl: '1h',
        token_max_ttl: 7200,
        token_bound_cidrs: ['10.0.0.0/8'],
      }),
    ).toEqual({ kind: 'empty' });
    expect(await h.data('read', 'users/alice')).toEqual({
      token_bound_cidrs: ['10.0.0.0/8'],
      token_explicit_max_ttl: 0,
      token_max_ttl: 7200,
      token_no_default_policy: false,
      token_num_uses: 0,
      token_period: 0,
      token_policies: ['dev', 'ops'],
      token_ttl: 3600,
      token_type: 'default',
    });
  });

  it('stores only a hash: the password appears nowhere in storage', async () => {
    const h = harness();
    await h.call('create', 'users/alice', { password: 'PW-CANARY-1234' });
    await h.call('update', 'users/alice/password', { password: 'PW-CANARY-5678' });
    const text = storedText(h.storage);
    expect(text).not.toContain('PW-CANARY');
    expect(text).toContain('$test$');
  });

  it('normalises usernames once at write time: case and whitespace name one user', async () => {
    const h = harness();
    await h.call('create', 'users/ Alice\t', { password: 'pw' });
    expect(await h.data('list', 'users/')).toEqual({ keys: ['alice'] });
    expect((await h.data('read', 'users/ALICE')).token_policies).toEqual([]);
    await h.call('update', 'users/aLiCe', { token_policies: 'x' });
    expect((await h.data('read', 'users/alice')).token_policies).toEqual(['x']);
    expect(await h.exists('users/ALICE ')).toBe(true);
    expect(await h.exists('users/bob')).toBe(false);
  });

  it('refuses usernames Vault refuses, without echoing them', async () => {
    const h = harness();
    for (const bad of ['-lead', '.dot', 'trail.', 'a b', 'é', 'x'.repeat(257)]) {
      await expectCoffer(h.call('create', `users/${bad}`, { password: 'pw' }), 'invalid_request');
    }
    const err = await h
      .call('create', 'users/SECRET-NAME!', { password: 'pw' })
      .catch((e: unknown) => e);
    expect((err as Error).message).not.toContain('SECRET');
  });

  it('requires a password on create but not on update, and refuses empty or huge ones', async () => {
    const h = harness();
    await expectCoffer(h.call('create', 'users/bob', { token_ttl: 60 }), 'invalid_request');
    await expectCoffer(h.call('create', 'users/bob', { password: '' }), 'invalid_request');
    await expectCoffer(
      h.call('create', 'users/bob', { password: 'x'.repeat(1025) }),
      'invalid_request',
    );
    await h.call('create', 'users/bob', { password: 'pw1' });
    await h.call('update', 'users/bob', { token_ttl: 60 });
    const grant = await h.login('bob', 'pw1');
    expect(grant.ttlSeconds).toBe(60);
  });

  it('updates keep the fields a write does not name', async () => {
    const h = harness();
    await h.call('create', 'users/bob', {
      password: 'pw',
      token_policies: ['a'],
      token_num_uses: 3,
    });
    await h.call('update', 'users/bob', { token_ttl: 30 });
    expect(await h.data('read', 'users/bob')).toMatchObject({
      token_policies: ['a'],
      token_num_uses: 3,
      token_ttl: 30,
    });
    await h.login('bob', 'pw');
  });

  it('accepts the legacy `policies` field and echoes it back under both names', async () => {
    const h = harness();
    await h.call('create', 'users/carol', { password: 'pw', policies: 'Admins, dev' });
    expect(await h.data('read', 'users/carol')).toMatchObject({
      token_policies: ['admins', 'dev'],
      policies: ['admins', 'dev'],
    });
    await h.call('update', 'users/carol', { token_policies: 'ops' });
    const read = await h.data('read', 'users/carol');
    expect(read.token_policies).toEqual(['ops']);
    expect(read).not.toHaveProperty('policies');
  });

  it('refuses the root policy in any spelling', async () => {
    const h = harness();
    for (const p of ['root', ' ROOT', 'dev,Root ']) {
      await expectCoffer(
        h.call('create', 'users/dan', { password: 'pw', token_policies: p }),
        'invalid_request',
      );
    }
    await h.call('create', 'users/dan', { password: 'pw' });
    await expectCoffer(
      h.call('update', 'users/dan/policies', { policies: 'rOOt' }),
      'invalid_request',
    );
  });

  it("accepts Vault's deprecated token field names, with a warning", async () => {
    const h = harness();
    const res = await h.call('create', 'users/erin', {
      password: 'pw',
      ttl: 60,
      max_ttl: '2m',
      bound_cidrs: '10.0.0.0/8',
    });
    expect(res.warnings).toContain('"ttl" is deprecated; use "token_ttl"');
    const read = await h.call('read', 'users/erin', {});
    expect(read.kind === 'data' ? read.data : {}).toMatchObject({
      token_ttl: 60,
      token_max_ttl: 120,
      token_bound_cidrs: ['10.0.0.0/8'],
    });
  });

  it('rejects unknown fields and bad token fields', async () => {
    const h = harness();
    await expectCoffer(
      h.call('create', 'users/erin', { password: 'pw', tll: 5 }),
      'invalid_request',
    );
    await expectCoffer(
      h.call('create', 'users/erin', { password: 'pw', token_ttl: 100, token_max_ttl: 50 }),
      'invalid_request',
    );
    await expectCoffer(
      h.call('create', 'users/erin', { password: 'pw', token_bound_cidrs: 'not-a-cidr' }),
      'invalid_request',
    );
    await expectCoffer(
      h.call('create', 'users/erin', { password: 'pw', token_type: 'x' }),
      'invalid_request',
    );
    expect(await h.exists('users/erin')).toBe(false);
  });

  it('LIST users/ lists canonical names; an empty mount is a 404', async () => {
    const h = harness();
    await expectCoffer(h.call('list', 'users/'), 'not_found');
    await h.call('create', 'users/zed', { password: 'pw' });
    await h.call('create', 'users/Amy', { password: 'pw' });
    expect(await h.data('list', 'users/')).toEqual({ keys: ['amy', 'zed'] });
  });

  it('deletes a user; reads and sub-paths of a missing user are 404s', async () => {
    const h = harness();
    await h.call('create', 'users/fay', { password: 'pw' });
    expect(await h.call('delete', 'users/FAY')).toEqual({ kind: 'empty' });
    await expectCoffer(h.call('read', 'users/fay'), 'not_found');
    await expectCoffer(h.call('update', 'users/fay/password', { password: 'x' }), 'not_found');
    await expectCoffer(
      h.call('update', 'users/fay/policies', { token_policies: 'x' }),
      'not_found',
    );
    expect(await h.call('delete', 'users/fay')).toEqual({ kind: 'empty' });
  });

  it('users/:username/password replaces the password', async () => {
    const h = harness();
    await h.call('create', 'users/gus', { password: 'old' });
    await h.call('update', 'users/gus/password', { password: 'new' });
    await expectCoffer(h.login('gus', 'old'), 'invalid_request');
    await h.login('gus', 'new');
    await expectCoffer(h.call('update', 'users/gus/password', {}), 'invalid_request');
    await expectCoffer(h.call('read', 'users/gus/password'), 'unsupported_operation');
  });

  it('users/:username/policies replaces only the policies', async () => {
    const h = harness();
    await h.call('create', 'users/hal', { password: 'pw', token_ttl: 90 });
    await h.call('update', 'users/hal/policies', { token_policies: ['b', 'A'] });
    expect(await h.data('read', 'users/hal')).toMatchObject({
      token_policies: ['a', 'b'],
      token_ttl: 90,
    });
    await expectCoffer(h.call('update', 'users/hal/policies', {}), 'invalid_request');
    expect((await h.login('hal', 'pw')).policies).toEqual(['a', 'b']);
  });
});

// Limits and stored-entry checks the first mutation run of userpass found unchecked.
describe('userpass limits and stored entries', () => {
  it('names of one character and of exactly 256 are users; 257 is refused', async () => {
    const h = harness();
    await h.call('create', 'users/a', { password: 'pw' });
    await h.login('a', 'pw');
    const longest = 'u'.repeat(256);
    await h.call('create', `users/${longest}`, { password: 'pw' });
    await h.login(longest, 'pw');
    await expectCoffer(
      h.call('create', `users/${longest}u`, { password: 'pw' }),
      'invalid_request',
    );
  });

  it('a password of exactly 1,024 characters is accepted; 1,025 is refused', async () => {
    const h = harness();
    await h.call('create', 'users/p', { password: 'x'.repeat(1024) });
    await h.login('p', 'x'.repeat(1024));
    await expectCoffer(
      h.call('create', 'users/q', { password: 'x'.repeat(1025) }),
      'invalid_request',
    );
  });

  it('a malformed stored user entry is an integrity failure, never a login', async () => {
    const h = harness();
    await h.call('create', 'users/mallory', { password: 'pw' });
    const good = JSON.parse(
      Buffer.from(h.storage.entries.get('user/mallory')!).toString('utf8'),
    ) as Record<string, unknown>;
    for (const entry of ['"just a string"', JSON.stringify({ ...good, passwordHash: 7 })]) {
      h.storage.entries.set('user/mallory', Buffer.from(entry));
      await expectCoffer(h.login('mallory', 'pw'), 'integrity_failure');
    }
  });

  it('users/:username/policies takes the legacy `policies` field too', async () => {
    const h = harness();
    await h.call('create', 'users/hal', { password: 'pw' });
    await h.call('update', 'users/hal/policies', { policies: 'b,a' });
    expect((await h.login('hal', 'pw')).policies).toEqual(['a', 'b']);
  });

  it('each refusal names the field to fix and why, in words a client can show', async () => {
    const h = harness({ lockout: { threshold: 1, durationSeconds: 60, counterResetSeconds: 60 } });
    await expectCoffer(
      h.call('create', 'users/x', {}),
      'invalid_request',
      'password: is required when creating a user',
    );
    await expectCoffer(
      h.call('create', 'users/x', { password: '' }),
      'invalid_request',
      'password: must not be empty',
    );
    await expectCoffer(
      h.call('create', 'users/x', { password: 'x'.repeat(1025) }),
      'invalid_request',
      'password: must be at most 1024 characters',
    );
    await expectCoffer(
      h.call('create', 'users/-bad', { password: 'pw' }),
      'invalid_request',
      'username: must be letters, digits, "_", "-" and "." (starting and ending with a letter, digit or "_"), at most 256 characters',
    );
    await expectCoffer(h.call('read', 'users/nobody'), 'not_found', 'user not found');
    await h.call('create', 'users/x', { password: 'pw' });
    await expectCoffer(
      h.call('update', 'users/x/policies', {}),
      'invalid_request',
      'token_policies: is required',
    );
    await expectCoffer(h.login('x', ''), 'invalid_request', 'password: is required');
    await expectCoffer(h.login('x', 'bad'), 'invalid_request', 'invalid username or password');
    await expectCoffer(h.login('x', 'pw'), 'permission_denied', 'permission denied');
    h.storage.entries.set('user/x', Buffer.from('"not an entry"'));
    h.nowMs += 60_000;
    await expectCoffer(h.login('x', 'pw'), 'integrity_failure', 'stored user entry is malformed');
  });
});
