// Tests for JWT/OIDC roles: Vault's read shape, merge-on-update, the validation rules, list and
// delete.
import { describe, expect, it } from 'vitest';
import { testRequest } from '../../../sdk/testing.js';
import { expectCoffer, harness } from './testing.js';

const JWT_ROLE = {
  role_type: 'jwt',
  user_claim: 'email',
  bound_audiences: 'coffer,other',
  bound_claims: { groups: ['admins', 'ops'] },
  claim_mappings: { email: 'email', '/org/name': 'org' },
  token_policies: 'Dev, prod',
  token_ttl: '1h',
};

describe('jwt roles', () => {
  it('writes and reads a role in Vault’s shape', async () => {
    const h = harness();
    await h.call('create', 'role/Dev-Role', JWT_ROLE);
    const data = await h.data('read', 'role/dev-role');
    expect(data).toEqual({
      role_type: 'jwt',
      bound_audiences: ['coffer', 'other'],
      bound_subject: '',
      bound_claims: { groups: ['admins', 'ops'] },
      bound_claims_type: 'string',
      claim_mappings: { email: 'email', '/org/name': 'org' },
      user_claim: 'email',
      user_claim_json_pointer: false,
      groups_claim: '',
      clock_skew_leeway: 0,
      expiration_leeway: 0,
      not_before_leeway: 0,
      allowed_redirect_uris: [],
      oidc_scopes: [],
      verbose_oidc_logging: false,
      token_bound_cidrs: [],
      token_explicit_max_ttl: 0,
      token_max_ttl: 0,
      token_no_default_policy: false,
      token_num_uses: 0,
      token_period: 0,
      token_policies: ['dev', 'prod'],
      token_ttl: 3600,
      token_type: 'default',
    });
  });

  it('keeps fields a later write leaves out', async () => {
    const h = harness();
    await h.call('create', 'role/r', JWT_ROLE);
    await h.call('update', 'role/r', { bound_subject: 'alice', expiration_leeway: '-1' });
    const data = await h.data('read', 'role/r');
    expect(data).toMatchObject({
      bound_subject: 'alice',
      user_claim: 'email',
      token_policies: ['dev', 'prod'],
      expiration_leeway: -1,
    });
  });

  it('lists and deletes roles', async () => {
    const h = harness();
    await expectCoffer(h.call('list', 'role/'), 'not_found');
    await h.call('create', 'role/b', JWT_ROLE);
    await h.call('create', 'role/a', JWT_ROLE);
    expect(await h.data('list', 'role/')).toEqual({ keys: ['a', 'b'] });
    await h.call('delete', 'role/a');
    await expectCoffer(h.call('read', 'role/a'), 'not_found');
    expect(await h.data('list', 'role/')).toEqual({ keys: ['b'] });
    expect(await h.engine.exists(testRequest('update', 'role/b', {}, h.storage))).toBe(true);
    expect(await h.engine.exists(testRequest('update', 'role/a', {}, h.storage))).toBe(false);
  });

  it('requires a user claim', async () => {
    await expectCoffer(
      harness().call('create', 'role/r', { role_type: 'jwt', bound_subject: 's' }),
      'invalid_request',
      /^user_claim: /,
    );
  });

  it('requires a bound constraint on jwt roles', async () => {
    await expectCoffer(
      harness().call('create', 'role/r', { role_type: 'jwt', user_claim: 'sub' }),
      'invalid_request',
      /at least one bound constraint/,
    );
    // token_bound_cidrs counts as one
    await harness().call('create', 'role/r', {
      role_type: 'jwt',
      user_claim: 'sub',
      token_bound_cidrs: '10.0.0.0/8',
    });
  });

  it('requires allowed_redirect_uris on oidc roles, the default type', async () => {
    const h = harness();
    await expectCoffer(
      h.call('create', 'role/r', { user_claim: 'sub' }),
      'invalid_request',
      /^allowed_redirect_uris: /,
    );
    await h.call('create', 'role/r', {
      user_claim: 'sub',
      allowed_redirect_uris: 'http://localhost:8250/oidc/callback',
    });
    expect((await h.data('read', 'role/r')).role_type).toBe('oidc');
  });

  it('validates bound claims, mappings, leeways, types and policies', async () => {
    const h = harness();
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ bound_claims_type: 'regex' }, /^bound_claims_type: /],
      [{ bound_claims_type: 'glob', bound_claims: { n: 1 } }, /^bound_claims\.n: /],
      [{ bound_claims: { n: { deep: true } } }, /^bound_claims\.n: /],
      [{ claim_mappings: { a: 'role' } }, /^claim_mappings: metadata key "role" is reserved/],
      [{ claim_mappings: { a: 'x', b: 'x' } }, /^claim_mappings: /],
      [{ clock_skew_leeway: -5 }, /^clock_skew_leeway: /],
      [{ role_type: 'saml' }, /^role_type: /],
      [{ token_policies: 'ROOT' }, /^token_policies: /],
      [{ token_type: 'weird' }, /^token_type: /],
      [{ bound_audience: 'x' }, /^bound_audience: unknown field; did you mean "bound_audiences"/],
    ];
    for (const [extra, message] of bad) {
      await expectCoffer(
        h.call('create', 'role/r', { ...JWT_ROLE, ...extra }),
        'invalid_request',
        message,
      );
    }
    await expectCoffer(h.call('create', 'role/bad name', JWT_ROLE), 'invalid_request', /^name: /);
  });
});
