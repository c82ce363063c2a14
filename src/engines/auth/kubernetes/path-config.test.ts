// Tests for Kubernetes `config`: host normalisation, the reviewer JWT never returned, what a
// config must hold, whole-config replacement.
import { describe, expect, it } from 'vitest';
import { expectCoffer, harness, newClusterKey } from './testing.js';

describe('kubernetes config', () => {
  it('stores the config and never returns the reviewer JWT', async () => {
    const h = harness();
    await h.call('update', 'config', {
      kubernetes_host: '10.0.0.1:6443',
      token_reviewer_jwt: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyIn0.reviewer-secret',
    });
    const data = await h.data('read', 'config');
    expect(data).toEqual({
      kubernetes_host: 'https://10.0.0.1:6443',
      kubernetes_ca_cert: '',
      pem_keys: [],
      issuer: '',
      disable_iss_validation: true,
      disable_local_ca_jwt: false,
      token_reviewer_jwt_set: true,
    });
    expect(JSON.stringify(data)).not.toContain('reviewer-secret');
  });

  it('reads as not found before it is written', async () => {
    await expectCoffer(harness().call('read', 'config'), 'not_found');
  });

  it('needs a host or pem keys, and valid ones', async () => {
    const h = harness();
    await expectCoffer(
      h.call('update', 'config', {}),
      'invalid_request',
      /kubernetes_host.*pem_keys/,
    );
    await expectCoffer(
      h.call('update', 'config', { pem_keys: ['-----BEGIN PUBLIC KEY-----\nAAA'] }),
      'invalid_request',
      /^pem_keys: /,
    );
    await expectCoffer(
      h.call('update', 'config', { kubernetes_host: 'ftp://k8s' }),
      'invalid_request',
      /^kubernetes_host: /,
    );
    for (const bad of ['not-a-jwt', 'a.b', 'bm9wZQ.e30.sig', 'eyJhbGciOiJSUzI1NiJ9.e30.s!g']) {
      await expectCoffer(
        h.call('update', 'config', { kubernetes_host: 'https://k8s', token_reviewer_jwt: bad }),
        'invalid_request',
        /^token_reviewer_jwt: must be a JWT in compact JWS form$/,
      );
    }
    await expectCoffer(
      h.call('update', 'config', { kubernetes_host: 'https://k8s', kubernetes_hots: 'x' }),
      'invalid_request',
      /^kubernetes_hots: unknown field; did you mean "kubernetes_host"/,
    );
  });

  it('stores a kubernetes_ca_cert that does not parse, with a warning (as Vault)', async () => {
    const h = harness();
    const result = await h.call('update', 'config', {
      kubernetes_host: 'https://k8s',
      kubernetes_ca_cert: 'nope',
    });
    expect(result).toMatchObject({
      kind: 'empty',
      warnings: [expect.stringMatching(/^kubernetes_ca_cert could not be parsed/)],
    });
    expect((await h.data('read', 'config')).kubernetes_ca_cert).toBe('nope');
  });

  it('replaces the whole configuration on write', async () => {
    const h = harness();
    const key = await newClusterKey();
    await h.call('update', 'config', {
      kubernetes_host: 'https://k8s.example/',
      token_reviewer_jwt: 'eyJhbGciOiJSUzI1NiJ9.e30.r',
      issuer: 'x',
      disable_iss_validation: false,
    });
    await h.call('update', 'config', { pem_keys: [key.publicPem] });
    expect(await h.data('read', 'config')).toMatchObject({
      kubernetes_host: '',
      pem_keys: [key.publicPem],
      issuer: '',
      disable_iss_validation: true,
      token_reviewer_jwt_set: false,
    });
  });
});
