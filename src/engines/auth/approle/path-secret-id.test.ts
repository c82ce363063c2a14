// approle secret IDs: issue (random and custom) with Vault's limits, LIST accessors, lookup and
// destroy by value or accessor, storage only as HMACs, and every operation refusing a secret ID
// or accessor of another role (Vault CVE-2023-24999).
import { describe, expect, it } from 'vitest';
import { expectCoffer, harness, storedText, str, T0 } from './testing.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('approle secret IDs', () => {
  it('issues a random secret ID with the role defaults, in Vault shape', async () => {
    const h = harness();
    await h.call('create', 'role/app', { secret_id_ttl: '10m', secret_id_num_uses: 40 });
    const issued = await h.data('update', 'role/app/secret-id', {});
    expect(Object.keys(issued).sort()).toEqual([
      'secret_id',
      'secret_id_accessor',
      'secret_id_num_uses',
      'secret_id_ttl',
    ]);
    expect(issued.secret_id).toMatch(UUID);
    expect(issued.secret_id_accessor).toMatch(UUID);
    expect(issued).toMatchObject({ secret_id_ttl: 600, secret_id_num_uses: 40 });
    expect(h.schedule.jobs.get('tidy-secret-ids')).toBe(T0 + 3_600_000);
  });

  it('takes metadata as a JSON string or object, with cidr_list, token_bound_cidrs, ttl, num_uses', async () => {
    const h = harness();
    await h.call('create', 'role/app', {
      secret_id_bound_cidrs: '10.0.0.0/8',
      token_bound_cidrs: '10.0.0.0/8',
    });
    const issued = await h.data('update', 'role/app/secret-id', {
      metadata: '{ "tag1": "production" }',
      cidr_list: '10.1.0.0/16',
      token_bound_cidrs: ['10.2.0.0/16'],
      ttl: 600,
      num_uses: 50,
    });
    expect(issued).toMatchObject({ secret_id_ttl: 600, secret_id_num_uses: 50 });
    const looked = await h.data('update', 'role/app/secret-id/lookup', {
      secret_id: issued.secret_id,
    });
    expect(looked).toEqual({
      cidr_list: ['10.1.0.0/16'],
      creation_time: '2026-01-01T00:00:00Z',
      expiration_time: '2026-01-01T00:10:00Z',
      last_updated_time: '2026-01-01T00:00:00Z',
      metadata: { tag1: 'production' },
      secret_id_accessor: issued.secret_id_accessor,
      secret_id_num_uses: 50,
      secret_id_ttl: 600,
      token_bound_cidrs: ['10.2.0.0/16'],
    });
    const other = await h.data('update', 'role/app/secret-id', { metadata: { a: 'b' } });
    const otherLook = await h.data('update', 'role/app/secret-id/lookup', {
      secret_id: other.secret_id,
    });
    expect(otherLook).toMatchObject({
      metadata: { a: 'b' },
      expiration_time: '0001-01-01T00:00:00Z',
    });
  });

  it("enforces Vault's limits: within the role's ttl, num_uses and CIDRs", async () => {
    const h = harness();
    await h.call('create', 'role/app', {
      secret_id_ttl: 600,
      secret_id_num_uses: 5,
      secret_id_bound_cidrs: '10.0.0.0/8',
      token_bound_cidrs: '10.0.0.0/8',
    });
    const bad: Record<string, unknown>[] = [
      { ttl: 601 },
      { ttl: 0 },
      { num_uses: 6 },
      { num_uses: 0 },
      { num_uses: -1 },
      { cidr_list: '11.0.0.0/8' },
      { cidr_list: '10.0.0.0/7' },
      { cidr_list: 'nonsense' },
      { token_bound_cidrs: '0.0.0.0/0' },
      { metadata: 'not json' },
      { metadata: '{"n": 1}' },
      { metadata: '["a"]' },
      { metadata: { k: 'x'.repeat(513) } },
      { cidr_lists: '10.0.0.1' },
    ];
    for (const fields of bad) {
      await expectCoffer(h.call('update', 'role/app/secret-id', fields), 'invalid_request');
    }
    await h.call('update', 'role/app/secret-id', { ttl: 600, num_uses: 5, cidr_list: '10.9.9.9' });
  });

  it('caps a secret ID lifetime at the mount maximum lease TTL', async () => {
    const h = harness();
    await h.call('create', 'role/app', {});
    const issued = await h.data('update', 'role/app/secret-id', { ttl: '1000h' });
    expect(issued.secret_id_ttl).toBe(2_764_800);
  });

  it('refuses to issue for a role without bind_secret_id, or a missing role', async () => {
    const h = harness();
    await h.call('create', 'role/open', { bind_secret_id: false, token_bound_cidrs: '10.0.0.0/8' });
    await expectCoffer(h.call('update', 'role/open/secret-id', {}), 'invalid_request');
    await expectCoffer(h.call('update', 'role/none/secret-id', {}), 'not_found');
    await expectCoffer(
      h.call('update', 'role/none/custom-secret-id', { secret_id: 'x' }),
      'not_found',
    );
  });

  it('registers custom secret IDs once per role, trimmed, and logs in with them', async () => {
    const h = harness();
    await h.call('create', 'role/app', {});
    const issued = await h.data('update', 'role/app/custom-secret-id', {
      secret_id: ' testsecretid ',
      ttl: 600,
      num_uses: 50,
    });
    expect(issued).toMatchObject({
      secret_id: 'testsecretid',
      secret_id_ttl: 600,
      secret_id_num_uses: 50,
    });
    await expectCoffer(
      h.call('update', 'role/app/custom-secret-id', { secret_id: 'testsecretid' }),
      'invalid_request',
    );
    await expectCoffer(h.call('update', 'role/app/custom-secret-id', {}), 'invalid_request');
    const roleId = str((await h.data('read', 'role/app/role-id')).role_id);
    await h.login(roleId, 'testsecretid');
  });

  it('stores secret IDs and accessors only as HMACs', async () => {
    const h = harness();
    await h.call('create', 'role/app', {});
    await h.call('update', 'role/app/custom-secret-id', { secret_id: 'SECRET-ID-CANARY' });
    const issued = await h.data('update', 'role/app/secret-id', {});
    const text = storedText(h.storage);
    expect(text).not.toContain('SECRET-ID-CANARY');
    expect(text).not.toContain(str(issued.secret_id));
    const keys = [...h.storage.entries.keys()].join('\n');
    expect(keys).not.toContain(str(issued.secret_id_accessor));
    expect(h.storage.entries.has('config/hmac-key')).toBe(true);
  });

  it('LIST role/:r/secret-id gives the accessors of that role only', async () => {
    const h = harness();
    const a1 = await h.setup('a');
    const a2 = await h.data('update', 'role/a/secret-id', {});
    await h.setup('b');
    await expectCoffer(h.call('list', 'role/none/secret-id'), 'not_found');
    const listed = await h.data('list', 'role/a/secret-id/');
    expect(listed).toEqual({ keys: [a1.accessor, str(a2.secret_id_accessor)].sort() });
    await h.call('update', 'role/a/secret-id/destroy', { secret_id: a1.secretId });
    await h.call('update', 'role/a/secret-id/destroy', { secret_id: a2.secret_id });
    await expectCoffer(h.call('list', 'role/a/secret-id/'), 'not_found');
  });

  it('looks up and destroys by secret ID; the secret ID itself is never rendered', async () => {
    const h = harness();
    const { roleId, secretId, accessor } = await h.setup('app');
    const looked = await h.data('update', 'role/app/secret-id/lookup', { secret_id: secretId });
    expect(looked.secret_id_accessor).toBe(accessor);
    expect(JSON.stringify(looked)).not.toContain(secretId);
    expect(await h.call('update', 'role/app/secret-id/destroy', { secret_id: secretId })).toEqual({
      kind: 'empty',
    });
    await expectCoffer(h.login(roleId, secretId), 'invalid_request', 'invalid role or secret ID');
    await expectCoffer(
      h.call('update', 'role/app/secret-id/lookup', { secret_id: secretId }),
      'not_found',
    );
    await expectCoffer(
      h.call('update', 'role/app/secret-id/destroy', { secret_id: secretId }),
      'not_found',
    );
    await expectCoffer(
      h.call('update', 'role/app/secret-id-accessor/lookup', { secret_id_accessor: accessor }),
      'not_found',
    );
    await expectCoffer(h.call('update', 'role/app/secret-id/lookup', {}), 'invalid_request');
  });

  it('looks up and destroys by accessor, also through DELETE', async () => {
    const h = harness();
    const { roleId, secretId, accessor } = await h.setup('app');
    const looked = await h.data('update', 'role/app/secret-id-accessor/lookup', {
      secret_id_accessor: accessor,
    });
    expect(looked.secret_id_accessor).toBe(accessor);
    await h.call('delete', 'role/app/secret-id-accessor/destroy', { secret_id_accessor: accessor });
    await expectCoffer(h.login(roleId, secretId), 'invalid_request');
    const second = await h.data('update', 'role/app/secret-id', {});
    await h.call('delete', 'role/app/secret-id/destroy', { secret_id: second.secret_id });
    await expectCoffer(h.login(roleId, str(second.secret_id)), 'invalid_request');
    await expectCoffer(
      h.call('update', 'role/app/secret-id-accessor/destroy', {}),
      'invalid_request',
    );
  });

  it("refuses every operation on another role's secret ID or accessor, and leaves it working", async () => {
    const h = harness();
    await h.setup('attacker');
    const victim = await h.setup('victim');
    const asAttacker = [
      h.call('update', 'role/attacker/secret-id/lookup', { secret_id: victim.secretId }),
      h.call('update', 'role/attacker/secret-id/destroy', { secret_id: victim.secretId }),
      h.call('update', 'role/attacker/secret-id-accessor/lookup', {
        secret_id_accessor: victim.accessor,
      }),
      h.call('update', 'role/attacker/secret-id-accessor/destroy', {
        secret_id_accessor: victim.accessor,
      }),
      h.call('delete', 'role/attacker/secret-id-accessor/destroy', {
        secret_id_accessor: victim.accessor,
      }),
    ];
    for (const attempt of asAttacker) await expectCoffer(attempt, 'not_found');
    expect((await h.data('list', 'role/attacker/secret-id')).keys).not.toContain(victim.accessor);
    await h.login(victim.roleId, victim.secretId);
  });
});
