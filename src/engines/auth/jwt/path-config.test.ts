// Tests for JWT/OIDC `config`: one key source, the client secret never returned, discovery and
// JWKS checked on write through the outbound rules.
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCoffer, harness, startTestProvider, type TestProvider } from './testing.js';

let provider: TestProvider;

beforeAll(async () => {
  provider = await startTestProvider();
});

afterAll(async () => {
  await provider.close();
});

function pem(): string {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return publicKey.export({ type: 'spki', format: 'pem' }).toString();
}

describe('jwt config', () => {
  it('stores a discovery config and never returns the client secret', async () => {
    const h = harness();
    await h.call('update', 'config', {
      oidc_discovery_url: provider.issuer,
      oidc_client_id: provider.clientId,
      oidc_client_secret: provider.clientSecret,
      default_role: 'Dev',
    });
    const data = await h.data('read', 'config');
    expect(data).toMatchObject({
      oidc_discovery_url: provider.issuer,
      oidc_client_id: provider.clientId,
      default_role: 'dev',
      jwks_url: '',
      jwt_validation_pubkeys: [],
      bound_issuer: '',
    });
    expect(data).not.toHaveProperty('oidc_client_secret');
    expect(JSON.stringify(data)).not.toContain(provider.clientSecret);
  });

  it('reads as not found before it is written', async () => {
    await expectCoffer(harness().call('read', 'config'), 'not_found');
  });

  it('requires exactly one key source', async () => {
    const h = harness();
    await expectCoffer(h.call('update', 'config', {}), 'invalid_request', /exactly one of/);
    await expectCoffer(
      h.call('update', 'config', { jwks_url: provider.jwksUrl, jwt_validation_pubkeys: [pem()] }),
      'invalid_request',
      /exactly one of/,
    );
  });

  it('requires the client id and secret together, and discovery for a client', async () => {
    const h = harness();
    await expectCoffer(
      h.call('update', 'config', { oidc_discovery_url: provider.issuer, oidc_client_id: 'x' }),
      'invalid_request',
      /both 'oidc_client_id' and 'oidc_client_secret'/,
    );
    await expectCoffer(
      h.call('update', 'config', {
        jwks_url: provider.jwksUrl,
        oidc_client_id: 'x',
        oidc_client_secret: 'y',
      }),
      'invalid_request',
      /oidc_discovery_url: must be set for OIDC/,
    );
  });

  it('refuses a discovery document that speaks for another issuer', async () => {
    const other = await startTestProvider({ advertisedIssuer: 'https://evil.example' });
    try {
      await expectCoffer(
        harness().call('update', 'config', { oidc_discovery_url: other.issuer }),
        'invalid_request',
        /error checking oidc_discovery_url: .*issuer/,
      );
    } finally {
      await other.close();
    }
  });

  it('checks jwks_url on write, and refuses the cloud metadata address', async () => {
    const h = harness({ outbound: { connectTimeoutMs: 500, timeoutMs: 1_000 } });
    await h.call('update', 'config', { jwks_url: provider.jwksUrl });
    await expectCoffer(
      h.call('update', 'config', { jwks_url: 'http://169.254.169.254/latest/meta-data/' }),
      'invalid_request',
      /error checking jwks_url: jwks_url: refused/,
    );
    // Stored without the check, it is still refused at login time.
    await h.call('update', 'config', {
      jwks_url: 'http://169.254.169.254/jwks',
      skip_jwks_validation: true,
    });
    await h.call('update', 'role/r', { role_type: 'jwt', user_claim: 'sub', bound_subject: 's' });
    await expectCoffer(
      h.call('update', 'login', { role: 'r', jwt: await provider.sign({ sub: 's' }) }),
      'upstream_failure',
      /refused/,
    );
  });

  it('validates keys, algorithms, URLs and CA bundles without echoing them', async () => {
    const h = harness();
    await expectCoffer(
      h.call('update', 'config', { jwt_validation_pubkeys: ['-----BEGIN PUBLIC KEY-----\nAAAA'] }),
      'invalid_request',
      /^jwt_validation_pubkeys: /,
    );
    await expectCoffer(
      h.call('update', 'config', {
        jwt_validation_pubkeys: [pem()],
        jwt_supported_algs: ['HS256'],
      }),
      'invalid_request',
      /^jwt_supported_algs: /,
    );
    await expectCoffer(
      h.call('update', 'config', { jwks_url: 'file:///etc/passwd' }),
      'invalid_request',
      /^jwks_url: must be an absolute http or https URL$/,
    );
    await expectCoffer(
      h.call('update', 'config', { jwks_url: provider.jwksUrl, jwks_ca_pem: 'not a pem' }),
      'invalid_request',
      /^jwks_ca_pem: /,
    );
    await expectCoffer(
      h.call('update', 'config', {
        jwt_validation_pubkeys: [pem()],
        oidc_response_mode: 'form_post',
      }),
      'invalid_request',
      /^oidc_response_mode: /,
    );
    await expectCoffer(
      h.call('update', 'config', { jwt_validation_pubkeys: [pem()], jwks_ur: 'x' }),
      'invalid_request',
      /^jwks_ur: unknown field; did you mean "jwks_url"\?$/,
    );
  });

  it('accepts static keys and replaces the whole configuration on write', async () => {
    const h = harness();
    await h.call('update', 'config', { jwt_validation_pubkeys: [pem()], bound_issuer: 'iss' });
    await h.call('update', 'config', { jwks_url: provider.jwksUrl });
    const data = await h.data('read', 'config');
    expect(data.jwt_validation_pubkeys).toEqual([]);
    expect(data.bound_issuer).toBe('');
    expect(data.jwks_url).toBe(provider.jwksUrl);
  });
});
