import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { CofferClient, DEFAULT_ADDRESS } from './client.js';
import { ApiError, ClientError, ConnectionError } from './errors.js';
import { closedLoopbackPort, kvV2Probe, recordingFetch, routeFetch } from './testing.js';

const TOKEN = 'hvs.test-token-value';
const ADDR = 'http://127.0.0.1:8200';

function client(fetchImpl: typeof fetch, token: string | null = TOKEN) {
  return new CofferClient({
    address: ADDR,
    fetch: fetchImpl,
    ...(token === null ? {} : { token }),
  });
}

describe('request building', () => {
  it('sends /v1/<path> with the token, the Vault request header, query and a JSON body', async () => {
    const rec = recordingFetch(() => ({ body: { data: { ok: true } } }));
    const response = await client(rec.fetch).request('POST', '/auth/token/create', {
      body: { policies: ['a'] },
      query: { x: '1' },
    });
    expect(response?.data).toEqual({ ok: true });
    const req = rec.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.url.pathname).toBe('/v1/auth/token/create');
    expect(req.query).toEqual({ x: '1' });
    expect(req.headers['x-vault-token']).toBe(TOKEN);
    expect(req.headers['x-vault-request']).toBe('true');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.body).toEqual({ policies: ['a'] });
  });

  it('sends no token header and no content type when there is neither', async () => {
    const rec = recordingFetch(() => ({ status: 204 }));
    await client(rec.fetch, null).request('GET', 'sys/seal-status');
    expect(rec.requests[0]!.headers['x-vault-token']).toBeUndefined();
    expect(rec.requests[0]!.headers['content-type']).toBeUndefined();
  });

  it('sends LIST as GET ?list=true (Node servers reject the LIST verb) with a trailing slash', async () => {
    const rec = recordingFetch(() => ({ body: { data: { keys: ['a'] } } }));
    const response = await client(rec.fetch).list('sys/policies/acl');
    expect(response?.data?.['keys']).toEqual(['a']);
    expect(rec.requests[0]!.method).toBe('GET');
    expect(rec.requests[0]!.url.pathname).toBe('/v1/sys/policies/acl/');
    expect(rec.requests[0]!.query['list']).toBe('true');
  });

  it('patches with the merge-patch content type', async () => {
    const rec = recordingFetch(() => ({ status: 204 }));
    await client(rec.fetch).patch('kv/x', { a: 1 });
    expect(rec.requests[0]!.method).toBe('PATCH');
    expect(rec.requests[0]!.headers['content-type']).toBe('application/merge-patch+json');
  });

  it('writes with PUT and deletes with DELETE and query data', async () => {
    const rec = recordingFetch(() => ({ status: 204 }));
    const c = client(rec.fetch);
    expect(await c.write('kv/x', { a: 'b' })).toBeUndefined();
    await c.delete('kv/x', { versions: '1' });
    expect(rec.requests.map((r) => r.method)).toEqual(['PUT', 'DELETE']);
    expect(rec.requests[1]!.query).toEqual({ versions: '1' });
  });

  it('encodes path segments', async () => {
    const rec = recordingFetch(() => ({ status: 204 }));
    await client(rec.fetch).request('GET', 'kv/a b/c?d');
    expect(rec.requests[0]!.url.pathname).toBe('/v1/kv/a%20b/c%3Fd');
  });
});

describe('addresses and tokens', () => {
  it('normalises the address and defaults an empty one', () => {
    expect(new CofferClient({ address: 'http://h:1/' }).address).toBe('http://h:1');
    expect(new CofferClient({ address: 'https://h/prefix//' }).address).toBe('https://h/prefix');
    expect(new CofferClient({ address: '' }).address).toBe(DEFAULT_ADDRESS);
  });

  it('refuses addresses it cannot use safely', () => {
    expect(() => new CofferClient({ address: 'ftp://h' })).toThrow(ClientError);
    expect(() => new CofferClient({ address: 'not a url' })).toThrow(ClientError);
    expect(() => new CofferClient({ address: 'http://user:pw@h' })).toThrow(
      /user name or password/,
    );
  });

  it('refuses a token that cannot be a header value, without quoting it', () => {
    let message = '';
    try {
      new CofferClient({ address: ADDR, token: 'abc\ndef-secret' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/cannot be sent in an HTTP header/);
    expect(message).not.toContain('def-secret');
  });
});

describe('responses and errors', () => {
  it('returns undefined for 204', async () => {
    const rec = recordingFetch(() => ({ status: 204 }));
    expect(await client(rec.fetch).request('PUT', 'sys/seal')).toBeUndefined();
  });

  it('throws ApiError with status, errors, code and request id', async () => {
    const rec = recordingFetch(() => ({
      status: 403,
      body: { errors: ['permission denied'], code: 'permission_denied', request_id: 'r-1' },
    }));
    const error = await client(rec.fetch)
      .read('secret/data/x')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    const api = error as ApiError;
    expect(api.status).toBe(403);
    expect(api.errors).toEqual(['permission denied']);
    expect(api.message).toBe('permission denied');
    expect(api.code).toBe('permission_denied');
    expect(api.requestId).toBe('r-1');
  });

  it('reports an error page that is not JSON by its status', async () => {
    const rec = recordingFetch(() => ({ status: 502, rawBody: '<html>bad gateway</html>' }));
    const error = (await client(rec.fetch)
      .request('GET', 'x')
      .catch((e: unknown) => e)) as ApiError;
    expect(error.status).toBe(502);
    expect(error.errors).toEqual([]);
    expect(error.message).toBe('request failed with HTTP status 502');
  });

  it('does not quote a 200 body that is not JSON', async () => {
    const rec = recordingFetch(() => ({ rawBody: 'hunter2-secret' }));
    const error = (await client(rec.fetch)
      .request('GET', 'x')
      .catch((e: unknown) => e)) as ApiError;
    expect(error.message).toBe('response body is not valid JSON');
  });

  it('read: 404 without data is "nothing there", 404 with data is an answer, 404 with errors throws', async () => {
    const replies = [
      { status: 404, body: { errors: [] } },
      { status: 404, body: { data: { data: null, metadata: { version: 2 } } } },
      { status: 404, body: { errors: ['no handler for route "nope/x". route entry not found.'] } },
    ];
    const rec = recordingFetch(() => replies.shift()!);
    const c = client(rec.fetch);
    expect(await c.read('a')).toBeUndefined();
    expect((await c.read('b'))?.data).toEqual({ data: null, metadata: { version: 2 } });
    await expect(c.read('nope/x')).rejects.toMatchObject({ status: 404 });
  });

  it('names the address and the errno when nothing listens, never the token', async () => {
    const port = await closedLoopbackPort();
    const c = new CofferClient({ address: `http://127.0.0.1:${port}`, token: TOKEN });
    const error = (await c.sealStatus().catch((e: unknown) => e)) as ConnectionError;
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error.message).toBe(`cannot reach Coffer at http://127.0.0.1:${port}: ECONNREFUSED`);
    expect(error.message).not.toContain(TOKEN);
  });

  it('gives up after timeoutMs', async () => {
    const hang: typeof fetch = (_input, init) =>
      new Promise((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => {
          reject(init.signal?.reason as Error);
        });
      });
    const c = new CofferClient({ address: ADDR, fetch: hang, timeoutMs: 30 });
    await expect(c.sealStatus()).rejects.toThrow(
      'cannot reach Coffer at http://127.0.0.1:8200: no answer within 30 ms',
    );
  });

  it('follows one redirect with the token, but never from https down to http', async () => {
    const rec = recordingFetch((req) =>
      req.url.host === 'standby:8200'
        ? { status: 307, headers: { Location: 'http://active:8200/v1/sys/seal-status' } }
        : { body: { sealed: false } },
    );
    const c = new CofferClient({ address: 'http://standby:8200', token: TOKEN, fetch: rec.fetch });
    expect((await c.sealStatus()).sealed).toBe(false);
    expect(rec.requests[1]!.url.host).toBe('active:8200');
    expect(rec.requests[1]!.headers['x-vault-token']).toBe(TOKEN);

    const secure = new CofferClient({ address: 'https://standby:8200', fetch: rec.fetch });
    await expect(secure.sealStatus()).rejects.toThrow(/https to a non-https/);
  });
});

/**
 * A real HTTP server that sends the headers and the start of a 1000-byte JSON body, then
 * nothing more: the client's deadline is all that can end the read.
 */
async function stallingServer() {
  let bodyStarted = false;
  let clientClosed = false;
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    req.socket.once('close', () => (clientClosed = true));
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '1000' });
    res.write('{"data":', () => (bodyStarted = true));
  });
  server.on('connection', (socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bodyStarted: () => bodyStarted,
    clientClosed: () => clientClosed,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('the deadline covers the response body', () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;

  // Regression: the timeout was only the fetch signal, and undici passes an abort to a body
  // still arriving through a WeakRef to its Request; once that is garbage-collected (seen with
  // redirect: 'error' on Node 20) the read waited as long as the server kept the socket open.
  const fetches: [string, typeof fetch][] = [
    ['the global fetch, after a garbage collection', (input, init) => fetch(input, init)],
    [
      'a fetch that no longer passes the abort on to the body (redirect: "error" after a GC)',
      (input, init) => fetch(input, { ...init, redirect: 'error' }),
    ],
    ['a fetch that ignores the signal', (input, init) => fetch(input, { ...init, signal: null })],
  ];
  for (const [name, fetchImpl] of fetches) {
    it(`cancels a stalled body at timeoutMs and closes the connection: ${name}`, async () => {
      const server = await stallingServer();
      try {
        const c = new CofferClient({ address: server.address, fetch: fetchImpl, timeoutMs: 300 });
        const started = Date.now();
        const outcome = c.read('secret/app').then(
          () => 'answered',
          (e: unknown) => e,
        );
        await until(server.bodyStarted, 2_000);
        for (let i = 0; i < 5; i++) {
          gc();
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        const settled = await Promise.race([
          outcome,
          new Promise((resolve) => {
            setTimeout(() => {
              resolve('still waiting after 3 s');
            }, 3_000);
          }),
        ]);
        expect(settled).toBeInstanceOf(ConnectionError);
        expect((settled as ConnectionError).message).toBe(
          `cannot reach Coffer at ${server.address}: no answer within 300 ms`,
        );
        expect(Date.now() - started).toBeLessThan(2_000);
        await until(server.clientClosed, 2_000);
      } finally {
        server.close();
      }
    });
  }

  it('cancels the body of a redirect it follows, so that connection is released', async () => {
    let firstBodyCancelled = false;
    const fetchImpl: typeof fetch = (input) => {
      const url = new URL(input instanceof Request ? input.url : input.toString());
      if (url.host === 'standby:8200') {
        const body = new ReadableStream<Uint8Array>({
          cancel: () => {
            firstBodyCancelled = true;
          },
        });
        return Promise.resolve(
          new Response(body, {
            status: 307,
            headers: { Location: 'http://active:8200/v1/sys/seal-status' },
          }),
        );
      }
      return Promise.resolve(Response.json({ sealed: false }));
    };
    const c = new CofferClient({ address: 'http://standby:8200', fetch: fetchImpl });
    expect((await c.sealStatus()).sealed).toBe(false);
    expect(firstBodyCancelled).toBe(true);
  });

  it('still decodes UTF-8 split across chunks and an empty 2xx body', async () => {
    const bytes = new TextEncoder().encode(JSON.stringify({ data: { word: 'Grüße €' } }));
    const split = bytes.indexOf(0xc3) + 1; // inside the two bytes of "ü"
    const fetchImpl: typeof fetch = (input) => {
      const path = new URL(input instanceof Request ? input.url : input.toString()).pathname;
      if (path.endsWith('/empty')) return Promise.resolve(new Response('', { status: 200 }));
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(bytes.slice(0, split));
          controller.enqueue(bytes.slice(split));
          controller.close();
        },
      });
      return Promise.resolve(new Response(body, { status: 200 }));
    };
    const c = new CofferClient({ address: ADDR, fetch: fetchImpl });
    expect((await c.read('secret/app'))?.data).toEqual({ word: 'Grüße €' });
    expect(await c.read('empty')).toBeUndefined();
  });
});

describe('sys helpers', () => {
  it('health: non-2xx statuses are data', async () => {
    const rec = recordingFetch(() => ({
      status: 503,
      body: { initialized: true, sealed: true, standby: false, version: '0.1.0' },
    }));
    const health = await client(rec.fetch).health({ standbyok: 'true' });
    expect(health).toMatchObject({ httpStatus: 503, sealed: true, initialized: true });
    expect(rec.requests[0]!.query).toEqual({ standbyok: 'true' });
  });

  it('health: a real error still throws', async () => {
    const rec = recordingFetch(() => ({ status: 500, body: { errors: ['internal error'] } }));
    await expect(client(rec.fetch).health()).rejects.toBeInstanceOf(ApiError);
  });

  it('init, unseal, seal and rotate send the wire shapes', async () => {
    const rec = routeFetch({
      'PUT sys/init': { body: { keys: ['aa'], keys_base64: ['qg=='], root_token: 'hvs.root' } },
      'PUT sys/unseal': { body: { sealed: false, t: 1, n: 1, progress: 0 } },
      'PUT sys/seal': { status: 204 },
      'PUT sys/rotate': { status: 204 },
    });
    const c = client(rec.fetch);
    expect((await c.init({ secretShares: 1, secretThreshold: 1 })).root_token).toBe('hvs.root');
    await c.unseal('qg==');
    await c.unseal({ reset: true });
    await c.seal();
    await c.rotate();
    expect(rec.requests.map((r) => r.body)).toEqual([
      { secret_shares: 1, secret_threshold: 1 },
      { key: 'qg==' },
      { reset: true },
      undefined,
      undefined,
    ]);
  });

  it('reads data-bearing sys routes from data or from the top level', async () => {
    const entry = { type: 'kv', description: '', accessor: 'kv_1', config: {}, options: null };
    const rec = routeFetch({
      'GET sys/mounts': { body: { request_id: 'r', data: { 'secret/': entry } } },
      'GET sys/key-status': { body: { term: 2, install_time: '2024-01-02T03:04:05Z' } },
      'GET sys/mounts/secret/tune': {
        body: { data: { default_lease_ttl: 60, max_lease_ttl: 120 } },
      },
    });
    const c = client(rec.fetch);
    expect(Object.keys(await c.mounts())).toEqual(['secret/']);
    expect((await c.keyStatus()).term).toBe(2);
    expect((await c.readMountTune('/secret/')).max_lease_ttl).toBe(120);
  });

  it('enables, tunes and disables mounts at sys/mounts/<path>', async () => {
    const rec = recordingFetch(() => ({ status: 204 }));
    const c = client(rec.fetch);
    await c.enableMount('team/kv/', {
      type: 'kv',
      options: { version: '2' },
      config: { max_lease_ttl: '1h' },
    });
    await c.tuneMount('team/kv', { default_lease_ttl: '30m' });
    await c.disableMount('team/kv');
    expect(rec.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST sys/mounts/team/kv',
      'POST sys/mounts/team/kv/tune',
      'DELETE sys/mounts/team/kv',
    ]);
    expect(rec.requests[0]!.body).toEqual({
      type: 'kv',
      options: { version: '2' },
      config: { max_lease_ttl: '1h' },
    });
  });
});

describe('KV helpers', () => {
  const metadata = {
    created_time: '2024-01-01T00:00:00Z',
    custom_metadata: null,
    deletion_time: '',
    destroyed: false,
    version: 3,
  };

  it('probes the mount once, then reads <mount>/data/<key> with ?version', async () => {
    const rec = routeFetch({
      'GET sys/internal/ui/mounts/*': kvV2Probe('secret/'),
      'GET secret/data/app/db': { body: { data: { data: { user: 'u' }, metadata } } },
    });
    const c = client(rec.fetch);
    const secret = await c.kvGet('', 'secret/app/db', { version: 3 });
    expect(secret).toMatchObject({ apiPath: 'secret/data/app/db', data: { user: 'u' }, metadata });
    await c.kvGet('secret', 'app/db');
    expect(rec.requests.map((r) => r.path)).toEqual([
      'sys/internal/ui/mounts/secret/app/db',
      'secret/data/app/db',
      'secret/data/app/db',
    ]);
    expect(rec.requests[1]!.query).toEqual({ version: '3' });
    expect(rec.requests[2]!.query).toEqual({});
  });

  it('probes the -mount path itself and finds the key inside it', async () => {
    const rec = routeFetch({
      'GET sys/internal/ui/mounts/team/kv': kvV2Probe('team/kv/'),
      'PUT team/kv/data/a/b': { body: { data: metadata } },
    });
    const result = await client(rec.fetch).kvPut('team/kv', 'a/b', { k: 'v' }, { cas: 0 });
    expect(result.metadata).toEqual(metadata);
    expect(rec.requests[1]!.body).toEqual({ data: { k: 'v' }, options: { cas: 0 } });
  });

  it('treats a 404 probe as KV v1 and uses the plain path', async () => {
    const rec = routeFetch({
      'PUT legacy/app': { status: 204 },
      'GET legacy/app': { body: { lease_duration: 2764800, data: { a: '1' } } },
      'LIST legacy/': { body: { data: { keys: ['app'] } } },
    });
    const c = client(rec.fetch);
    const put = await c.kvPut('', 'legacy/app', { a: '1' });
    expect(put).toMatchObject({
      apiPath: 'legacy/app',
      mount: { version: 1 },
      response: undefined,
    });
    expect(rec.requests[1]!.body).toEqual({ a: '1' });
    expect((await c.kvGet('', 'legacy/app'))?.data).toEqual({ a: '1' });
    const probes = () => rec.requests.filter((r) => r.path.startsWith('sys/internal')).length;
    // The 404 did not reveal the mount, so the answer is cached for that path (and below) only.
    expect(probes()).toBe(1);
    expect((await c.kvList('', 'legacy'))?.keys).toEqual(['app']);
    expect(probes()).toBe(2);
    await expect(c.kvPatch('', 'legacy/app', { a: '2' })).rejects.toThrow(/KV version 2/);
    await expect(c.kvUndelete('', 'legacy/app', [1])).rejects.toBeInstanceOf(ClientError);
    await expect(c.kvPut('', 'legacy/app', {}, { cas: 1 })).rejects.toBeInstanceOf(ClientError);
  });

  it('returns a deleted version with null data and its metadata', async () => {
    const deleted = { ...metadata, deletion_time: '2024-02-02T00:00:00Z' };
    const rec = routeFetch({
      'GET sys/internal/ui/mounts/*': kvV2Probe('secret/'),
      'GET secret/data/x': { status: 404, body: { data: { data: null, metadata: deleted } } },
      'GET secret/data/missing': { status: 404, body: { errors: [] } },
    });
    const c = client(rec.fetch);
    expect(await c.kvGet('', 'secret/x')).toMatchObject({ data: null, metadata: deleted });
    expect(await c.kvGet('', 'secret/missing')).toBeUndefined();
  });

  it('lists, patches, deletes, undeletes and destroys on the v2 sub-paths', async () => {
    const rec = routeFetch({
      'GET sys/internal/ui/mounts/*': kvV2Probe('secret/'),
      'LIST secret/metadata/app/': { body: { data: { keys: ['db', 'team/'] } } },
      'PATCH secret/data/app/db': { body: { data: metadata } },
      'DELETE secret/data/app/db': { status: 204 },
      'POST secret/delete/app/db': { status: 204 },
      'POST secret/undelete/app/db': { status: 204 },
      'PUT secret/destroy/app/db': { status: 204 },
    });
    const c = client(rec.fetch);
    const listed = await c.kvList('', 'secret/app');
    expect(listed).toMatchObject({ apiPath: 'secret/metadata/app/', keys: ['db', 'team/'] });
    await c.kvPatch('', 'secret/app/db', { a: 'b' }, { cas: 3 });
    await c.kvDelete('', 'secret/app/db');
    await c.kvDelete('', 'secret/app/db', { versions: [1, 2] });
    await c.kvUndelete('', 'secret/app/db', [2]);
    await c.kvDestroy('', 'secret/app/db', [1]);
    const calls = rec.requests.slice(1);
    expect(calls.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET secret/metadata/app/',
      'PATCH secret/data/app/db',
      'DELETE secret/data/app/db',
      'POST secret/delete/app/db',
      'POST secret/undelete/app/db',
      'PUT secret/destroy/app/db',
    ]);
    expect(calls[1]!.headers['content-type']).toBe('application/merge-patch+json');
    expect(calls.map((r) => r.body)).toEqual([
      undefined,
      { data: { a: 'b' }, options: { cas: 3 } },
      undefined,
      { versions: [1, 2] },
      { versions: [2] },
      { versions: [1] },
    ]);
    await expect(c.kvDestroy('', 'secret/app/db', [])).rejects.toBeInstanceOf(ClientError);
  });

  it('reads and writes metadata, sending only the fields given', async () => {
    const full = { current_version: 2, max_versions: 0, versions: { '1': {}, '2': {} } };
    const rec = routeFetch({
      'GET sys/internal/ui/mounts/*': kvV2Probe('secret/'),
      'GET secret/metadata/app': { body: { data: full } },
      'POST secret/metadata/app': { status: 204 },
      'DELETE secret/metadata/app': { status: 204 },
    });
    const c = client(rec.fetch);
    expect((await c.kvMetadataGet('', 'secret/app'))?.metadata).toEqual(full);
    await c.kvMetadataPut('', 'secret/app', { maxVersions: 5, customMetadata: { owner: 'ops' } });
    await c.kvMetadataPut('', 'secret/app', {
      casRequired: false,
      deleteVersionAfter: '1h',
    });
    await c.kvMetadataDelete('', 'secret/app');
    expect(rec.requests.slice(2).map((r) => r.body)).toEqual([
      { max_versions: 5, custom_metadata: { owner: 'ops' } },
      { cas_required: false, delete_version_after: '1h' },
      undefined,
    ]);
  });

  it('forgets probed mounts when mounts change through the client', async () => {
    let version = '1';
    const rec = routeFetch({
      'GET sys/internal/ui/mounts/*': () => ({
        body: { data: { path: 'm/', type: 'kv', options: { version } } },
      }),
      'POST sys/mounts/m/tune': { status: 204 },
      'PUT m/x': { status: 204 },
      'PUT m/data/x': { body: { data: metadata } },
    });
    const c = client(rec.fetch);
    expect((await c.kvPut('', 'm/x', { a: '1' })).apiPath).toBe('m/x');
    version = '2';
    await c.tuneMount('m', { options: { version: '2' } });
    expect((await c.kvPut('', 'm/x', { a: '1' })).apiPath).toBe('m/data/x');
  });
});
