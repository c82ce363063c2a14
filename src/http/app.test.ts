// Golden tests of the Vault wire conventions (vault-api.md §2), one per convention.
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStack, createUnsealedStack } from '../../test/helpers/stack.js';
import { startListener, type RunningListener } from './listener.js';

type Unsealed = Awaited<ReturnType<typeof createUnsealedStack>>;

describe('Vault wire conventions', () => {
  let s: Unsealed;
  const auth = (): Record<string, string> => ({ 'x-vault-token': s.rootToken });

  beforeAll(async () => {
    s = await createUnsealedStack();
    await s.core.mounts.enable('kv1/', { type: 'kv', options: { version: '1' } });
  });

  it('answers an empty write with 204 and no body', async () => {
    const res = await s.app.inject({
      method: 'POST',
      url: '/v1/kv1/a',
      headers: auth(),
      payload: { x: '1' },
    });
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');
  });

  it('sends Content-Type application/json with no charset, and Cache-Control no-store', async () => {
    const res = await s.app.inject({ method: 'GET', url: '/v1/kv1/a', headers: auth() });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('wraps data in the full envelope with a request_id', async () => {
    const res = await s.app.inject({ method: 'GET', url: '/v1/kv1/a', headers: auth() });
    const body = res.json();
    expect(Object.keys(body).sort()).toEqual(
      [
        'auth',
        'data',
        'lease_duration',
        'lease_id',
        'renewable',
        'request_id',
        'warnings',
        'wrap_info',
      ].sort(),
    );
    expect(body.request_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.data).toEqual({ x: '1' });
    expect(body.lease_duration).toBe(2_764_800);
  });

  it('treats ?list=<bool> like ParseBool and rejects other values', async () => {
    for (const value of ['true', 'True', '1', 't']) {
      const res = await s.app.inject({
        method: 'GET',
        url: `/v1/kv1/?list=${value}`,
        headers: auth(),
      });
      expect(res.statusCode).toBe(200);
      expect(res.json().data.keys).toEqual(['a']);
    }
    const bad = await s.app.inject({ method: 'GET', url: '/v1/kv1/?list=yes', headers: auth() });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0]).toContain('list');
  });

  it('answers a missing secret with 404 and an empty error list', async () => {
    const res = await s.app.inject({ method: 'GET', url: '/v1/kv1/missing', headers: auth() });
    expect(res.statusCode).toBe(404);
    expect(res.json().errors).toEqual([]);
  });

  it('answers an unknown mount with "no handler for route"', async () => {
    const res = await s.app.inject({ method: 'GET', url: '/v1/nope/x', headers: auth() });
    expect(res.statusCode).toBe(404);
    expect(res.json().errors).toEqual(['no handler for route "nope/x". route entry not found.']);
  });

  it('answers a deleted KV v2 version with 404 and the full envelope', async () => {
    await s.app.inject({
      method: 'POST',
      url: '/v1/secret/data/gone',
      headers: auth(),
      payload: { data: { a: 'b' } },
    });
    const del = await s.app.inject({
      method: 'DELETE',
      url: '/v1/secret/data/gone',
      headers: auth(),
    });
    expect(del.statusCode).toBe(204);
    const res = await s.app.inject({ method: 'GET', url: '/v1/secret/data/gone', headers: auth() });
    expect(res.statusCode).toBe(404);
    const body = res.json();
    expect(body.data.data).toBeNull();
    expect(body.data.metadata.version).toBe(1);
    expect(body.data.metadata.deletion_time).not.toBe('');
  });

  it('answers an unsupported operation with 405', async () => {
    const res = await s.app.inject({
      method: 'DELETE',
      url: '/v1/sys/key-status',
      headers: auth(),
    });
    expect(res.statusCode).toBe(405);
    expect(res.json().errors).toEqual(['unsupported operation']);
  });

  it('answers PATCH without merge-patch content type with 415', async () => {
    const res = await s.app.inject({
      method: 'PATCH',
      url: '/v1/secret/data/gone',
      headers: { ...auth(), 'content-type': 'application/json' },
      payload: { data: { a: 'c' } },
    });
    expect(res.statusCode).toBe(415);
  });

  it('copies data to the top level on sys/mounts but not on other paths', async () => {
    const mounts = (
      await s.app.inject({ method: 'GET', url: '/v1/sys/mounts', headers: auth() })
    ).json();
    expect(mounts.data['secret/'].type).toBe('kv');
    expect(mounts['secret/'].options).toEqual({ version: '2' });
    const kv = (await s.app.inject({ method: 'GET', url: '/v1/kv1/a', headers: auth() })).json();
    expect(kv.x).toBeUndefined();
  });

  it('answers a request without a valid token with 403 permission denied', async () => {
    for (const headers of [{}, { 'x-vault-token': 'cfs.not-a-token' }]) {
      const res = await s.app.inject({ method: 'GET', url: '/v1/kv1/a', headers });
      expect(res.statusCode).toBe(403);
      expect(res.json().errors).toEqual(['permission denied']);
    }
  });

  it('prefers X-Vault-Token over Authorization: Bearer', async () => {
    const bearer = await s.app.inject({
      method: 'GET',
      url: '/v1/kv1/a',
      headers: { authorization: `Bearer ${s.rootToken}` },
    });
    expect(bearer.statusCode).toBe(200);
    const both = await s.app.inject({
      method: 'GET',
      url: '/v1/kv1/a',
      headers: { authorization: `Bearer ${s.rootToken}`, 'x-vault-token': 'wrong' },
    });
    expect(both.statusCode).toBe(403);
  });

  it('answers a wrapped request with wrap_info only, never the data', async () => {
    const res = await s.app.inject({
      method: 'GET',
      url: '/v1/kv1/a',
      headers: { ...auth(), 'x-vault-wrap-ttl': '60s' },
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.data).toBeNull();
    expect(body.request_id).toBe('');
    expect(body.wrap_info).toMatchObject({ ttl: 60, creation_path: 'kv1/a' });
    expect(res.body).not.toContain('"x":"1"');
    const negative = await s.app.inject({
      method: 'GET',
      url: '/v1/kv1/a',
      headers: { ...auth(), 'x-vault-wrap-ttl': '-5' },
    });
    expect(negative.statusCode).toBe(400);
  });

  describe('bad input gets a clear 4xx, never a 5xx', () => {
    interface Case {
      method: 'GET' | 'POST';
      url: string;
      payload?: string | Record<string, unknown>;
      headers?: Record<string, string>;
    }
    const cases: [string, Case, number, string][] = [
      [
        'malformed JSON',
        {
          method: 'POST',
          url: '/v1/kv1/b',
          payload: '{"a":',
          headers: { 'content-type': 'application/json' },
        },
        400,
        'malformed JSON',
      ],
      [
        'a JSON array body',
        {
          method: 'POST',
          url: '/v1/kv1/b',
          payload: '[1,2]',
          headers: { 'content-type': 'application/json' },
        },
        400,
        'must be a JSON object',
      ],
      [
        'deep nesting',
        {
          method: 'POST',
          url: '/v1/kv1/b',
          payload: `{"a":${'['.repeat(100)}${']'.repeat(100)}}`,
          headers: { 'content-type': 'application/json' },
        },
        400,
        'nested deeper',
      ],
      [
        'a likely typo of a known field',
        { method: 'POST', url: '/v1/sys/mounts/x', payload: { type: 'kv', descripton: 'x' } },
        400,
        'descripton: unknown field; did you mean "description"?',
      ],
      ['an encoded slash', { method: 'GET', url: '/v1/kv1/a%2Fb' }, 400, '%2F'],
      ['an empty segment', { method: 'GET', url: '/v1/kv1//a' }, 400, '//'],
      ['a bad escape', { method: 'GET', url: '/v1/kv1/%zz' }, 400, 'percent'],
      [
        'an oversized body',
        {
          method: 'POST',
          url: '/v1/kv1/b',
          payload: `{"a":"${'x'.repeat(33 * 1024 * 1024)}"}`,
          headers: { 'content-type': 'application/json' },
        },
        413,
        'too large',
      ],
    ];
    for (const [name, req, status, text] of cases) {
      it(name, async () => {
        const res = await s.app.inject({ ...req, headers: { ...auth(), ...req.headers } });
        expect(res.statusCode).toBe(status);
        expect(res.headers['content-type']).toBe('application/json');
        expect(res.json().errors.join(' ')).toContain(text);
      });
    }
  });
});

describe('sealed and uninitialised', () => {
  it('reports uninitialised and answers logical paths with 503', async () => {
    const s = createStack();
    const status = (await s.app.inject({ method: 'GET', url: '/v1/sys/seal-status' })).json();
    expect(status).toMatchObject({
      type: 'shamir',
      initialized: false,
      sealed: true,
      t: 0,
      n: 0,
      progress: 0,
    });
    const health = await s.app.inject({ method: 'GET', url: '/v1/sys/health' });
    expect(health.statusCode).toBe(501);
    const res = await s.app.inject({
      method: 'GET',
      url: '/v1/secret/data/x',
      headers: { 'x-vault-token': 'x' },
    });
    expect(res.statusCode).toBe(503);
    expect(res.json().errors).toEqual(['Vault is sealed']);
  });

  it('initialises with 5 shares and threshold 3, unseals with progress, ignores duplicates', async () => {
    const s = createStack();
    const init = await s.app.inject({
      method: 'PUT',
      url: '/v1/sys/init',
      payload: { secret_shares: 5, secret_threshold: 3 },
    });
    expect(init.statusCode).toBe(200);
    const { keys, keys_base64, root_token } = init.json();
    expect(keys).toHaveLength(5);
    expect(keys_base64).toHaveLength(5);
    expect(typeof root_token).toBe('string');
    const again = await s.app.inject({
      method: 'PUT',
      url: '/v1/sys/init',
      payload: { secret_shares: 1, secret_threshold: 1 },
    });
    expect(again.statusCode).toBe(400);
    expect(again.json().errors).toEqual(['Vault is already initialized']);

    const u1 = (
      await s.app.inject({ method: 'PUT', url: '/v1/sys/unseal', payload: { key: keys[0] } })
    ).json();
    expect(u1).toMatchObject({ sealed: true, progress: 1, t: 3, n: 5 });
    const dup = (
      await s.app.inject({ method: 'PUT', url: '/v1/sys/unseal', payload: { key: keys[0] } })
    ).json();
    expect(dup.progress).toBe(1);
    await s.app.inject({ method: 'PUT', url: '/v1/sys/unseal', payload: { key: keys_base64[1] } });
    const done = (
      await s.app.inject({ method: 'PUT', url: '/v1/sys/unseal', payload: { key: keys[4] } })
    ).json();
    expect(done).toMatchObject({ sealed: false, progress: 0 });
    const extra = (
      await s.app.inject({ method: 'PUT', url: '/v1/sys/unseal', payload: { key: keys[2] } })
    ).json();
    expect(extra.sealed).toBe(false);

    const health = await s.app.inject({ method: 'GET', url: '/v1/sys/health' });
    expect(health.statusCode).toBe(200);
    const sealRes = await s.app.inject({
      method: 'PUT',
      url: '/v1/sys/seal',
      headers: { 'x-vault-token': root_token },
    });
    expect(sealRes.statusCode).toBe(204);
    const sealedHealth = await s.app.inject({ method: 'GET', url: '/v1/sys/health' });
    expect(sealedHealth.statusCode).toBe(503);
  });

  it('decrypts nothing with too few or wrong shares', async () => {
    const s = createStack();
    const { keys } = (
      await s.app.inject({
        method: 'PUT',
        url: '/v1/sys/init',
        payload: { secret_shares: 3, secret_threshold: 2 },
      })
    ).json();
    const forged = Buffer.from(keys[1], 'hex');
    forged[5] = forged[5]! ^ 0xff;
    await s.app.inject({ method: 'PUT', url: '/v1/sys/unseal', payload: { key: keys[0] } });
    const res = await s.app.inject({
      method: 'PUT',
      url: '/v1/sys/unseal',
      payload: { key: forged.toString('hex') },
    });
    expect(res.statusCode).toBe(400);
    const status = (await s.app.inject({ method: 'GET', url: '/v1/sys/seal-status' })).json();
    expect(status).toMatchObject({ sealed: true, progress: 0 });
    const wrongLength = await s.app.inject({
      method: 'PUT',
      url: '/v1/sys/unseal',
      payload: { key: 'abcd' },
    });
    expect(wrongLength.statusCode).toBe(400);
    expect(wrongLength.json().errors[0]).toContain('key');
  });

  it('honours sys/health status-code overrides and HEAD', async () => {
    const s = createStack();
    const res = await s.app.inject({
      method: 'GET',
      url: '/v1/sys/health?uninitcode=299&standbycode=299&haunhealhty=299',
    });
    expect(res.statusCode).toBe(299);
    const head = await s.app.inject({ method: 'HEAD', url: '/v1/sys/health' });
    expect(head.statusCode).toBe(501);
    expect(head.body).toBe('');
    const bad = await s.app.inject({ method: 'GET', url: '/v1/sys/health?sealedcode=abc' });
    expect(bad.statusCode).toBe(400);
  });
});

describe('the LIST verb over a real connection', () => {
  let s: Unsealed;
  let listener: RunningListener;

  beforeAll(async () => {
    s = await createUnsealedStack();
    listener = await startListener(s.app, { host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await listener.close();
  });

  function send(
    method: string,
    path: string,
    body?: string,
  ): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      // Options rather than a URL string: a URL would normalise "..", which clients need not do.
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: listener.port,
          path,
          method: method === 'LIST' ? 'GET' : method,
          headers: { 'x-vault-token': s.rootToken },
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => {
            resolve({ status: res.statusCode ?? 0, body: text });
          });
        },
      );
      // node:http refuses to send LIST too, so write the method into the request line.
      if (method === 'LIST') (req as unknown as { method: string }).method = 'LIST';
      req.on('error', reject);
      req.end(body);
    });
  }

  it('refuses ".." and "." segments that a client sends unnormalised', async () => {
    for (const path of [
      '/v1/secret/../sys/mounts',
      '/v1/secret/./data/x',
      '/v1/secret/%2e%2e/sys/mounts',
    ]) {
      const res = await send('GET', path);
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body).errors[0]).toContain('".."');
    }
  });

  it('lists with the LIST verb, on a keep-alive connection after other requests', async () => {
    const put = await send('POST', '/v1/secret/data/dir/a', JSON.stringify({ data: { k: 'v' } }));
    expect(put.status).toBe(200);
    const res = await send('LIST', '/v1/secret/metadata/');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).data.keys).toEqual(['dir/']);
  });
});
