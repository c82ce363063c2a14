// The identity token issuer through the pipeline: keys, roles, ID tokens for the caller's
// entity verified against the unauthenticated JWKS and discovery document, rotation that keeps
// the old public key published, introspection, and a token accepted by Coffer's own JWT auth.
import { createLocalJWKSet, exportSPKI, importJWK, jwtVerify, type JWK } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import { createUnsealedStack } from '../../../test/helpers/stack.js';
import { builtinEngines } from '../../engines/registry.js';
import type { EngineFactory } from '../../sdk/engine.js';

type Stack = Awaited<ReturnType<typeof createUnsealedStack>>;

const whoAuth: EngineFactory = {
  type: 'who',
  category: 'auth',
  description: 'test auth method',
  create: () => ({
    unauthenticatedPaths: ['login/*'],
    exists: () => Promise.resolve(undefined),
    handle: (req) =>
      Promise.resolve({
        kind: 'login',
        login: {
          policies: ['oidc-user'],
          displayName: req.path.slice('login/'.length),
          metadata: {},
          ttlSeconds: 600,
          maxTtlSeconds: 0,
          explicitMaxTtlSeconds: 0,
          periodSeconds: 0,
          numUses: 0,
          tokenType: 'default',
          boundCidrs: [],
          noDefaultPolicy: false,
          alias: { name: req.path.slice('login/'.length) },
        },
      }),
  }),
};

describe('identity token issuer', () => {
  let s: Stack;
  const call = async (
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    payload?: object,
    token?: string,
  ) => {
    const res = await s.app.inject({
      method,
      url: `/v1/${url}`,
      headers: token === undefined ? {} : { 'x-vault-token': token },
      ...(payload === undefined ? {} : { payload }),
    });
    return { status: res.statusCode, body: res.body === '' ? undefined : res.json() };
  };
  const root = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) =>
    call(method, url, payload, s.rootToken);

  beforeEach(async () => {
    const engines = new Map(builtinEngines());
    engines.set('who', whoAuth);
    s = await createUnsealedStack({ engines });
    await root('POST', 'sys/auth/who', { type: 'who' });
    await root('POST', 'sys/policies/acl/oidc-user', {
      policy: 'path "identity/oidc/token/*" { capabilities = ["read"] }',
    });
    expect(
      (await root('POST', 'identity/oidc/config', { issuer: 'https://coffer.test:8200' })).body
        .warnings,
    ).toHaveLength(1);
    expect(
      (await root('POST', 'identity/oidc/key/k1', { allowed_client_ids: '*', algorithm: 'ES256' }))
        .status,
    ).toBe(204);
    expect(
      (
        await root('POST', 'identity/oidc/role/r1', {
          key: 'k1',
          client_id: 'my-app',
          ttl: '1h',
          template: JSON.stringify({
            name: '{{identity.entity.name}}',
            team: '{{identity.entity.metadata.team}}',
          }),
        })
      ).status,
    ).toBe(204);
  });

  const userToken = async (name: string): Promise<{ token: string; entityId: string }> => {
    const login = await call('POST', `auth/who/login/${name}`, {});
    return { token: login.body.auth.client_token, entityId: login.body.auth.entity_id };
  };

  it('signs an ID token for the entity that verifies against the published keys', async () => {
    const { token, entityId } = await userToken('olga');
    await root('POST', `identity/entity/id/${entityId}`, { metadata: { team: 'blue' } });
    const issued = await call('GET', 'identity/oidc/token/r1', undefined, token);
    expect(issued.status).toBe(200);
    expect(issued.body.data).toMatchObject({ client_id: 'my-app', ttl: 3600 });

    const discovery = await call('GET', 'identity/oidc/.well-known/openid-configuration');
    expect(discovery.status).toBe(200);
    expect(discovery.body).toMatchObject({
      issuer: 'https://coffer.test:8200/v1/identity/oidc',
      jwks_uri: 'https://coffer.test:8200/v1/identity/oidc/.well-known/keys',
      id_token_signing_alg_values_supported: ['ES256'],
    });
    const jwks = (await call('GET', 'identity/oidc/.well-known/keys')).body as { keys: JWK[] };
    expect(jwks.keys).toHaveLength(1);
    expect(JSON.stringify(jwks)).not.toMatch(/"d":/);
    const { payload } = await jwtVerify(issued.body.data.token, createLocalJWKSet(jwks), {
      issuer: discovery.body.issuer,
      audience: 'my-app',
    });
    expect(payload).toMatchObject({
      sub: entityId,
      name: expect.stringMatching(/^entity_/),
      team: 'blue',
      namespace: 'root',
    });

    const introspected = await root('POST', 'identity/oidc/introspect', {
      token: issued.body.data.token,
    });
    expect(introspected.body).toEqual({ active: true });
    const wrongAudience = await root('POST', 'identity/oidc/introspect', {
      token: issued.body.data.token,
      client_id: 'other',
    });
    expect(wrongAudience.body.active).toBe(false);
  });

  it('keeps a rotated key published, and refuses a token without an entity', async () => {
    const { token } = await userToken('pat');
    const before = (await call('GET', 'identity/oidc/token/r1', undefined, token)).body.data
      .token as string;
    expect((await root('POST', 'identity/oidc/key/k1/rotate', {})).status).toBe(204);
    const jwks = (await call('GET', 'identity/oidc/.well-known/keys')).body as { keys: JWK[] };
    expect(jwks.keys).toHaveLength(2);
    await jwtVerify(before, createLocalJWKSet(jwks));

    const noEntity = await root('GET', 'identity/oidc/token/r1');
    expect(noEntity.status).toBe(400);
    expect(noEntity.body.errors[0]).toBe("no entity associated with the request's token");
    expect((await root('DELETE', 'identity/oidc/key/k1')).status).toBe(400);
    const badTtl = await root('POST', 'identity/oidc/role/r2', { key: 'k1', ttl: '48h' });
    expect(badTtl.body.errors[0]).toMatch(/^ttl: a role's token ttl cannot be longer/);
    expect((await root('POST', 'identity/oidc/role/r3', {})).body.errors[0]).toMatch(/^key: /);
    // Discovery needs no token; the rest of identity/oidc does.
    expect((await call('GET', 'identity/oidc/role/r1')).status).toBe(403);
  });

  it("issues tokens that Coffer's own JWT auth accepts", async () => {
    const { token, entityId } = await userToken('quinn');
    const idToken = (await call('GET', 'identity/oidc/token/r1', undefined, token)).body.data
      .token as string;
    const jwk = ((await call('GET', 'identity/oidc/.well-known/keys')).body as { keys: JWK[] })
      .keys[0]!;
    const pem = await exportSPKI(
      (await importJWK(jwk, 'ES256')) as Parameters<typeof exportSPKI>[0],
    );
    await root('POST', 'sys/auth/jwt', { type: 'jwt' });
    await root('POST', 'auth/jwt/config', {
      jwt_validation_pubkeys: [pem],
      bound_issuer: 'https://coffer.test:8200/v1/identity/oidc',
    });
    await root('POST', 'auth/jwt/role/vault-tokens', {
      role_type: 'jwt',
      user_claim: 'sub',
      bound_audiences: ['my-app'],
      token_policies: ['oidc-user'],
    });
    const login = await call('POST', 'auth/jwt/login', { role: 'vault-tokens', jwt: idToken });
    expect(login.status).toBe(200);
    expect(login.body.auth.metadata.role).toBe('vault-tokens');
    // A different mount: the alias there is the entity id, a new entity (as in Vault).
    expect(login.body.auth.entity_id).not.toBe(entityId);
  });
});
