// approle roles: CRUD in Vault's read shape, LIST, role-id read/write and uniqueness, the
// constraint rule, and deletion taking the role's secret IDs with it.
import { describe, expect, it } from 'vitest';
import { expectCoffer, harness, str } from './testing.js';

describe('approle role/', () => {
  it('creates a role with Vault defaults and reads it back in Vault shape', async () => {
    const h = harness();
    expect(await h.call('create', 'role/app', { token_policies: 'dev', token_ttl: '20m' })).toEqual(
      {
        kind: 'empty',
      },
    );
    expect(await h.data('read', 'role/app')).toEqual({
      bind_secret_id: true,
      local_secret_ids: false,
      secret_id_bound_cidrs: [],
      secret_id_num_uses: 0,
      secret_id_ttl: 0,
      token_bound_cidrs: [],
      token_explicit_max_ttl: 0,
      token_max_ttl: 0,
      token_no_default_policy: false,
      token_num_uses: 0,
      token_period: 0,
      token_policies: ['dev'],
      token_ttl: 1200,
      token_type: 'default',
    });
  });

  it('writes every role field, keeps unnamed ones on update, lowercases the name', async () => {
    const h = harness();
    await h.call('create', 'role/App', {
      bind_secret_id: 'true',
      secret_id_bound_cidrs: '10.0.0.0/8, 192.168.1.1/32',
      secret_id_num_uses: 10,
      secret_id_ttl: '10m',
      local_secret_ids: true,
      token_bound_cidrs: ['10.1.0.0/16'],
      token_type: 'batch',
    });
    await h.call('update', 'role/APP', { token_max_ttl: '1h' });
    expect(await h.data('read', 'role/app')).toMatchObject({
      bind_secret_id: true,
      local_secret_ids: true,
      secret_id_bound_cidrs: ['10.0.0.0/8', '192.168.1.1/32'],
      secret_id_num_uses: 10,
      secret_id_ttl: 600,
      token_bound_cidrs: ['10.1.0.0/16'],
      token_max_ttl: 3600,
      token_type: 'batch',
    });
    expect(await h.data('list', 'role/')).toEqual({ keys: ['app'] });
    expect(await h.exists('role/APP')).toBe(true);
    expect(await h.exists('role/other')).toBe(false);
  });

  it('adjusts Vault read-back token types with a warning', async () => {
    const h = harness();
    expect(await h.call('create', 'role/app', { token_type: 'default-service' })).toEqual({
      kind: 'empty',
      warnings: ['default-service has no useful meaning; adjusting to service'],
    });
    expect((await h.data('read', 'role/app')).token_type).toBe('service');
  });

  it('refuses a role with no constraint, local_secret_ids after creation, and bad fields', async () => {
    const h = harness();
    await expectCoffer(h.call('create', 'role/open', { bind_secret_id: false }), 'invalid_request');
    expect(await h.exists('role/open')).toBe(false);
    await h.call('create', 'role/open', {
      bind_secret_id: false,
      secret_id_bound_cidrs: '10.0.0.0/8',
    });
    await expectCoffer(
      h.call('update', 'role/open', { secret_id_bound_cidrs: [] }),
      'invalid_request',
    );
    await expectCoffer(
      h.call('update', 'role/open', { local_secret_ids: true }),
      'invalid_request',
    );
    await expectCoffer(
      h.call('update', 'role/open', { secret_id_num_uses: -1 }),
      'invalid_request',
    );
    await expectCoffer(
      h.call('update', 'role/open', { secret_id_bound_cidrs: '10.0.0.0/33' }),
      'invalid_request',
    );
    await expectCoffer(
      h.call('update', 'role/open', { token_policies: 'ROOT' }),
      'invalid_request',
    );
    await expectCoffer(h.call('update', 'role/open', { perod: 60 }), 'invalid_request');
    await expectCoffer(h.call('update', 'role/bad!name', {}), 'invalid_request');
    await expectCoffer(
      h.call('update', 'role/open', { token_type: 'batch', token_num_uses: 2 }),
      'invalid_request',
    );
  });

  it('gives every role a random UUID role ID, readable and replaceable', async () => {
    const h = harness();
    await h.call('create', 'role/a', {});
    await h.call('create', 'role/b', {});
    const a = str((await h.data('read', 'role/a/role-id')).role_id);
    const b = str((await h.data('read', 'role/b/role-id')).role_id);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a).not.toBe(b);
    await h.call('update', 'role/a/role-id', { role_id: '  custom-id ' });
    expect(await h.data('read', 'role/a/role-id')).toEqual({ role_id: 'custom-id' });
    await h.call('create', 'role/c', { role_id: 'given-at-creation' });
    expect((await h.data('read', 'role/c/role-id')).role_id).toBe('given-at-creation');
  });

  it('refuses a role ID already used by another role, and an empty one', async () => {
    const h = harness();
    await h.call('create', 'role/a', { role_id: 'shared' });
    await h.call('create', 'role/b', {});
    await expectCoffer(
      h.call('update', 'role/b/role-id', { role_id: 'shared' }),
      'invalid_request',
    );
    await expectCoffer(h.call('update', 'role/b', { role_id: 'shared' }), 'invalid_request');
    await expectCoffer(h.call('create', 'role/c', { role_id: 'shared' }), 'invalid_request');
    expect(await h.exists('role/c')).toBe(false);
    await expectCoffer(h.call('update', 'role/b/role-id', { role_id: ' ' }), 'invalid_request');
    await expectCoffer(h.call('update', 'role/b/role-id', {}), 'invalid_request');
    // Rewriting a role's own role ID is fine.
    await h.call('update', 'role/a', { role_id: 'shared' });
  });

  it('moves the login index with the role ID: the old one stops working', async () => {
    const h = harness();
    const { roleId, secretId } = await h.setup('app');
    await h.call('update', 'role/app/role-id', { role_id: 'new-id' });
    await expectCoffer(h.login(roleId, secretId), 'invalid_request', 'invalid role or secret ID');
    await h.login('new-id', secretId);
    // The freed role ID can be taken by another role.
    await h.call('create', 'role/other', { role_id: roleId });
  });

  it('stores role IDs only hashed in storage keys', async () => {
    const h = harness();
    await h.call('create', 'role/app', { role_id: 'ROLE-ID-CANARY' });
    const keys = [...h.storage.entries.keys()].join('\n');
    expect(keys).not.toContain('ROLE-ID-CANARY');
  });

  it('missing roles: read and role-id are 404s, LIST of none is a 404, delete is idempotent', async () => {
    const h = harness();
    await expectCoffer(h.call('read', 'role/none'), 'not_found');
    await expectCoffer(h.call('read', 'role/none/role-id'), 'not_found');
    await expectCoffer(h.call('update', 'role/none/role-id', { role_id: 'x' }), 'not_found');
    await expectCoffer(h.call('list', 'role/'), 'not_found');
    expect(await h.call('delete', 'role/none')).toEqual({ kind: 'empty' });
  });

  it('deleting a role removes it, its index and its secret IDs; a new role of that name starts clean', async () => {
    const h = harness();
    const { roleId, secretId } = await h.setup('app');
    await h.call('update', 'role/app/secret-id', {});
    await h.call('delete', 'role/APP');
    expect([...h.storage.entries.keys()].filter((k) => !k.startsWith('config/'))).toEqual([]);
    await expectCoffer(h.login(roleId, secretId), 'invalid_request');
    await h.call('create', 'role/app', { role_id: roleId });
    await expectCoffer(h.login(roleId, secretId), 'invalid_request', 'invalid role or secret ID');
    await expectCoffer(h.call('list', 'role/app/secret-id'), 'not_found');
  });
});
