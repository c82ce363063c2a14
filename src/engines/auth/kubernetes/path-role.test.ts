// Tests for Kubernetes roles: Vault's read shape, merge-on-update, the binding rules, list and
// delete, and the glob matching the bindings use.
import { describe, expect, it } from 'vitest';
import { globMatch } from '../../../sdk/text.js';
import { boundAllows } from './role.js';
import { expectCoffer, harness } from './testing.js';

const ROLE = {
  bound_service_account_names: ['app'],
  bound_service_account_namespaces: 'prod, staging',
  audience: 'coffer',
  token_policies: 'a,b',
  token_max_ttl: '2h',
};

describe('kubernetes roles', () => {
  it('writes and reads a role in Vault’s shape', async () => {
    const h = harness();
    await h.call('create', 'role/App', ROLE);
    expect(await h.data('read', 'role/app')).toEqual({
      bound_service_account_names: ['app'],
      bound_service_account_namespaces: ['prod', 'staging'],
      audience: 'coffer',
      alias_name_source: 'serviceaccount_uid',
      token_bound_cidrs: [],
      token_explicit_max_ttl: 0,
      token_max_ttl: 7200,
      token_no_default_policy: false,
      token_num_uses: 0,
      token_period: 0,
      token_policies: ['a', 'b'],
      token_ttl: 0,
      token_type: 'default',
    });
  });

  it('warns about a role without an audience and keeps unsent fields on update', async () => {
    const h = harness();
    const result = await h.call('create', 'role/r', { ...ROLE, audience: '' });
    expect(result.warnings?.[0]).toMatch(/does not specify an audience/);
    await h.call('update', 'role/r', { alias_name_source: 'serviceaccount_name', audience: 'x' });
    expect(await h.data('read', 'role/r')).toMatchObject({
      bound_service_account_names: ['app'],
      audience: 'x',
      alias_name_source: 'serviceaccount_name',
      token_policies: ['a', 'b'],
    });
  });

  it('lists and deletes roles', async () => {
    const h = harness();
    await expectCoffer(h.call('list', 'role/'), 'not_found');
    await h.call('create', 'role/one', ROLE);
    await h.call('create', 'role/two', ROLE);
    expect(await h.data('list', 'role/')).toEqual({ keys: ['one', 'two'] });
    await h.call('delete', 'role/one');
    await expectCoffer(h.call('read', 'role/one'), 'not_found');
  });

  it('refuses empty bindings, "*" mixed with names, and unknown alias sources', async () => {
    const h = harness();
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ bound_service_account_names: [] }, /^bound_service_account_names: can not be empty/],
      [{ bound_service_account_namespaces: '' }, /^bound_service_account_namespaces: /],
      [{ bound_service_account_names: '*,app' }, /can not mix "\*" with values/],
      [{ alias_name_source: 'pod_name' }, /^alias_name_source: /],
      [{ token_policies: ' Root ' }, /^token_policies: /],
      [
        { bound_service_account_name: 'app' },
        /^bound_service_account_name: unknown field; did you mean "bound_service_account_names"\?$/,
      ],
    ];
    for (const [extra, message] of bad) {
      await expectCoffer(
        h.call('create', 'role/r', { ...ROLE, ...extra }),
        'invalid_request',
        message,
      );
    }
    await expectCoffer(
      h.call('create', 'role/r', { bound_service_account_names: 'app' }),
      'invalid_request',
      /^bound_service_account_namespaces: can not be empty/,
    );
  });
});

describe('service account bindings', () => {
  it('match exact names, prefix and suffix globs, and "*" alone', () => {
    expect(boundAllows(['app'], 'app')).toBe(true);
    expect(boundAllows(['app'], 'app2')).toBe(false);
    expect(boundAllows(['team-*'], 'team-blue')).toBe(true);
    expect(boundAllows(['team-*'], 'other-team-blue')).toBe(false);
    expect(boundAllows(['*-prod'], 'api-prod')).toBe(true);
    expect(boundAllows(['*'], 'anything')).toBe(true);
    expect(boundAllows([], 'app')).toBe(false);
    expect(boundAllows(['team-*'], '')).toBe(false);
    expect(globMatch('a*b*c', 'axxbyyc')).toBe(true);
    expect(globMatch('a*b*c', 'axxcyyb')).toBe(false);
  });
});
