// The ACL driven through the HTTP API: a matrix of tokens × requests → status, and the
// regressions the policy milestone guards.
import { beforeAll, describe, expect, it } from 'vitest';
import { createUnsealedStack } from '../../test/helpers/stack.js';

type Stack = Awaited<ReturnType<typeof createUnsealedStack>>;
type Method = 'GET' | 'POST' | 'DELETE' | 'PATCH';

const POLICIES: Record<string, string> = {
  reader: `
    path "secret/data/app/*" { capabilities = ["read"] }
    path "secret/metadata/app/*" { capabilities = ["list", "read"] }`,
  writer: `path "secret/data/app/rw/*" { capabilities = ["create", "update"] }`,
  denier: `path "secret/data/app/secret" { capabilities = ["deny"] }`,
  creator: `path "secret/data/app/c/*" { capabilities = ["create"] }`,
  sudoer: `
    path "sys/rotate" { capabilities = ["update", "sudo"] }
    path "sys/mounts" { capabilities = ["read"] }`,
  nosudo: `path "sys/rotate" { capabilities = ["update"] }`,
  segment: `path "secret/data/+/shared" { capabilities = ["read"] }`,
  json: JSON.stringify({ path: { 'secret/data/json/*': { capabilities: ['read'] } } }),
  minter: `path "auth/token/create" { capabilities = ["update"] }`,
  sudominter: `path "auth/token/create" { capabilities = ["update", "sudo"] }`,
  // The same pattern in two policies: the merge must let the deny win whichever comes first
  // (a token's policies are merged in name order, so the names set the order).
  'merge-a-grant': `path "secret/data/app/x" { capabilities = ["read", "update", "create"] }`,
  'merge-b-deny': `path "secret/data/app/x" { capabilities = ["deny"] }`,
  'merge-a-deny': `path "secret/data/app/x" { capabilities = ["deny"] }`,
  'merge-b-grant': `path "secret/data/app/x" { capabilities = ["read", "update", "create"] }`,
};

describe('ACL policy matrix over HTTP', () => {
  let s: Stack;
  const tokens: Record<string, string> = {};

  async function call(token: string, method: Method, url: string, payload?: object) {
    return s.app.inject({
      method,
      url: `/v1/${url}`,
      headers: {
        'x-vault-token': token,
        ...(method === 'PATCH' ? { 'content-type': 'application/merge-patch+json' } : {}),
      },
      ...(payload === undefined ? {} : { payload }),
    });
  }

  async function createToken(body: object): Promise<string> {
    const res = await call(s.rootToken, 'POST', 'auth/token/create', body);
    expect(res.statusCode).toBe(200);
    return res.json().auth.client_token as string;
  }

  beforeAll(async () => {
    s = await createUnsealedStack();
    for (const [name, text] of Object.entries(POLICIES)) {
      const res = await call(s.rootToken, 'POST', `sys/policies/acl/${name}`, { policy: text });
      expect(res.statusCode).toBe(204);
    }
    for (const path of ['app/x', 'app/secret', 'other', 'team/shared', 'json/a']) {
      await call(s.rootToken, 'POST', `secret/data/${path}`, { data: { v: path } });
    }
    const sets: Record<string, string[]> = {
      reader: ['reader'],
      rw: ['reader', 'writer'],
      deny: ['reader', 'denier'],
      creator: ['creator'],
      sudo: ['sudoer'],
      nosudo: ['nosudo'],
      segment: ['segment'],
      json: ['json'],
      mergedDenyLast: ['merge-a-grant', 'merge-b-deny'],
      mergedDenyFirst: ['merge-a-deny', 'merge-b-grant'],
      mergedGrant: ['merge-a-grant', 'merge-b-grant'],
    };
    for (const [name, policies] of Object.entries(sets)) {
      tokens[name] = await createToken({ policies, ttl: '1h' });
    }
    tokens.empty = await createToken({ policies: ['nonexistent'], no_default_policy: true });
  });

  const matrix: [string, Method, string, object | undefined, number][] = [
    ['reader', 'GET', 'secret/data/app/x', undefined, 200],
    ['reader', 'GET', 'secret/data/other', undefined, 403],
    ['reader', 'POST', 'secret/data/app/x', { data: { v: 1 } }, 403],
    ['reader', 'DELETE', 'secret/data/app/x', undefined, 403],
    ['reader', 'GET', 'secret/metadata/app/?list=true', undefined, 200],
    ['reader', 'GET', 'secret/metadata/?list=true', undefined, 403],
    ['reader', 'POST', 'sys/mounts/evil', { type: 'kv' }, 403],
    ['reader', 'GET', 'auth/token/lookup-self', undefined, 200],
    ['rw', 'POST', 'secret/data/app/rw/new', { data: { v: 1 } }, 200],
    ['rw', 'POST', 'secret/data/app/rw/new', { data: { v: 2 } }, 200],
    ['rw', 'PATCH', 'secret/data/app/rw/new', { data: { v: 3 } }, 403],
    ['deny', 'GET', 'secret/data/app/x', undefined, 200],
    ['deny', 'GET', 'secret/data/app/secret', undefined, 403],
    ['creator', 'POST', 'secret/data/app/c/one', { data: { v: 1 } }, 200],
    ['creator', 'POST', 'secret/data/app/c/one', { data: { v: 2 } }, 403],
    ['sudo', 'POST', 'sys/rotate', undefined, 204],
    ['sudo', 'GET', 'sys/mounts', undefined, 200],
    ['nosudo', 'POST', 'sys/rotate', undefined, 403],
    ['segment', 'GET', 'secret/data/team/shared', undefined, 200],
    ['segment', 'GET', 'secret/data/team/deeper/shared', undefined, 403],
    ['json', 'GET', 'secret/data/json/a', undefined, 200],
    ['json', 'GET', 'secret/data/app/x', undefined, 403],
    ['mergedGrant', 'GET', 'secret/data/app/x', undefined, 200],
    ['mergedDenyLast', 'GET', 'secret/data/app/x', undefined, 403],
    ['mergedDenyLast', 'POST', 'secret/data/app/x', { data: { v: 1 } }, 403],
    ['mergedDenyFirst', 'GET', 'secret/data/app/x', undefined, 403],
    ['empty', 'GET', 'secret/data/app/x', undefined, 403],
    ['empty', 'GET', 'auth/token/lookup-self', undefined, 403],
  ];

  it.each(matrix)('%s %s %s %j → %i', async (token, method, url, payload, status) => {
    const res = await call(tokens[token]!, method, url, payload);
    expect(res.statusCode).toBe(status);
    if (status === 403) expect(res.json().errors).toEqual(['permission denied']);
  });

  it('lets a limited token probe the mounts it can use, and no others', async () => {
    const ok = await call(tokens.reader!, 'GET', 'sys/internal/ui/mounts/secret/app/x');
    expect(ok.statusCode).toBe(200);
    expect(ok.json().data.options).toEqual({ version: '2' });
    const none = await call(tokens.sudo!, 'GET', 'sys/internal/ui/mounts/secret/app/x');
    expect(none.statusCode).toBe(403);
  });

  it('reports capabilities for the caller, another token and an accessor', async () => {
    const self = await call(tokens.reader!, 'POST', 'sys/capabilities-self', {
      paths: ['secret/data/app/x', 'secret/data/other'],
    });
    expect(self.json().data).toEqual({
      'secret/data/app/x': ['read'],
      'secret/data/other': ['deny'],
    });
    const root = await call(s.rootToken, 'POST', 'sys/capabilities', {
      token: tokens.rw,
      paths: ['secret/data/app/rw/a'],
    });
    expect(root.json().capabilities).toEqual(['create', 'update']);
    const lookup = await call(s.rootToken, 'POST', 'auth/token/lookup', { token: tokens.deny });
    const accessor = lookup.json().data.accessor as string;
    const byAccessor = await call(s.rootToken, 'POST', 'sys/capabilities-accessor', {
      accessor,
      paths: ['secret/data/app/secret'],
    });
    expect(byAccessor.json().capabilities).toEqual(['deny']);
  });

  it('explains which rule of which policy decided', async () => {
    const res = await call(tokens.deny!, 'POST', 'sys/policies/explain', {
      path: 'secret/data/app/secret',
      operation: 'read',
    });
    const data = res.json().data;
    expect(data.allowed).toBe(false);
    const used = data.matches.filter((m: { used: boolean }) => m.used);
    expect(used).toEqual([
      expect.objectContaining({
        policy: 'denier',
        pattern: 'secret/data/app/secret',
        kind: 'exact',
      }),
    ]);
    expect(
      data.matches.some((m: { policy: string; used: boolean }) => m.policy === 'reader' && !m.used),
    ).toBe(true);
  });

  describe('regressions', () => {
    it('policy names are normalised on write, so no spelling of root can be written', async () => {
      for (const name of ['ROOT', '%20root', 'root%09', 'Root']) {
        const res = await call(s.rootToken, 'POST', `sys/policies/acl/${name}`, {
          policy: 'path "*" { capabilities = ["sudo", "read"] }',
        });
        expect(res.statusCode).toBe(400);
      }
      const upper = await call(s.rootToken, 'POST', 'sys/policies/acl/MiXeD', {
        policy: POLICIES.reader,
      });
      expect(upper.statusCode).toBe(200);
      expect(upper.json().warnings[0]).toContain('"mixed"');
      expect((await call(s.rootToken, 'GET', 'sys/policies/acl/mixed')).statusCode).toBe(200);
    });

    it('a non-root token cannot grant root however it is spelled', async () => {
      // With sudo on auth/token/create the subset rule is waived, so the refusal below is
      // the root rule itself, not the ACL or the subset check.
      const minter = await createToken({ policies: ['reader', 'sudominter'] });
      expect(
        (await call(minter, 'POST', 'auth/token/create', { policies: ['writer'] })).statusCode,
      ).toBe(200);
      for (const policies of [['ROOT'], [' root'], ['root\t'], ['root']]) {
        const res = await call(minter, 'POST', 'auth/token/create', { policies });
        expect(res.statusCode).toBe(400);
        expect(res.json().errors[0]).toContain('root');
      }
    });

    it('an empty allow-list denies', async () => {
      await call(s.rootToken, 'POST', 'sys/policies/acl/nothing', { policy: '# no rules\n' });
      const token = await createToken({ policies: ['nothing'], no_default_policy: true });
      expect((await call(token, 'GET', 'secret/data/app/x')).statusCode).toBe(403);
      expect((await call(token, 'GET', 'sys/mounts')).statusCode).toBe(403);
    });

    it('a policy edit applies on the very next request', async () => {
      await call(s.rootToken, 'POST', 'sys/policies/acl/editable', {
        policy: 'path "secret/data/app/x" { capabilities = ["read"] }',
      });
      const token = await createToken({ policies: ['editable'] });
      expect((await call(token, 'GET', 'secret/data/app/x')).statusCode).toBe(200);
      await call(s.rootToken, 'POST', 'sys/policies/acl/editable', {
        policy: 'path "secret/data/app/x" { capabilities = ["deny"] }',
      });
      expect((await call(token, 'GET', 'secret/data/app/x')).statusCode).toBe(403);
    });

    it('a revoked token fails on the next request, and revoking a parent revokes its children', async () => {
      const parent = await createToken({ policies: ['reader', 'minter'] });
      const childRes = await call(parent, 'POST', 'auth/token/create', {
        policies: ['reader', 'minter'],
      });
      expect(childRes.statusCode).toBe(200);
      const child = childRes.json().auth.client_token as string;
      const grandRes = await call(child, 'POST', 'auth/token/create', { policies: ['reader'] });
      const grandchild = grandRes.json().auth.client_token as string;
      expect((await call(grandchild, 'GET', 'secret/data/app/x')).statusCode).toBe(200);
      const revoke = await call(s.rootToken, 'POST', 'auth/token/revoke', { token: parent });
      expect(revoke.statusCode).toBe(204);
      for (const token of [parent, child, grandchild]) {
        expect((await call(token, 'GET', 'secret/data/app/x')).statusCode).toBe(403);
      }
    });

    it('revoking a parent removes its whole subtree, not only the parent', async () => {
      const parent = await createToken({ policies: ['reader', 'minter'] });
      const childRes = await call(parent, 'POST', 'auth/token/create', {
        policies: ['reader', 'minter'],
      });
      const child = childRes.json().auth as { client_token: string; accessor: string };
      const grandRes = await call(child.client_token, 'POST', 'auth/token/create', {
        policies: ['reader'],
      });
      const grandchild = grandRes.json().auth as { client_token: string; accessor: string };
      const parentAccessor = (await call(parent, 'GET', 'auth/token/lookup-self')).json().data
        .accessor as string;
      const accessors = async (): Promise<string[]> => {
        const res = await call(s.rootToken, 'GET', 'auth/token/accessors?list=true');
        expect(res.statusCode).toBe(200);
        return res.json().data.keys as string[];
      };
      expect(await accessors()).toEqual(
        expect.arrayContaining([parentAccessor, child.accessor, grandchild.accessor]),
      );
      const revoke = await call(s.rootToken, 'POST', 'auth/token/revoke', { token: parent });
      expect(revoke.statusCode).toBe(204);
      // Not merely unusable through a dead parent: the descendants themselves are gone.
      const left = await accessors();
      for (const accessor of [parentAccessor, child.accessor, grandchild.accessor]) {
        expect(left).not.toContain(accessor);
      }
      for (const accessor of [child.accessor, grandchild.accessor]) {
        const looked = await call(s.rootToken, 'POST', 'auth/token/lookup-accessor', { accessor });
        expect(looked.statusCode).toBe(400);
      }
    });

    it("an accessor acts on exactly its own token, and a limited token cannot touch another's", async () => {
      const a = await createToken({ policies: ['reader'] });
      const b = await createToken({ policies: ['reader'] });
      const accessorOfA = (
        await call(s.rootToken, 'POST', 'auth/token/lookup', { token: a })
      ).json().data.accessor as string;
      const denied = await call(b, 'POST', 'auth/token/revoke-accessor', { accessor: accessorOfA });
      expect(denied.statusCode).toBe(403);
      const revoked = await call(s.rootToken, 'POST', 'auth/token/revoke-accessor', {
        accessor: accessorOfA,
      });
      expect(revoked.statusCode).toBe(204);
      expect((await call(a, 'GET', 'secret/data/app/x')).statusCode).toBe(403);
      expect((await call(b, 'GET', 'secret/data/app/x')).statusCode).toBe(200);
    });

    it('a token with num_uses works exactly that many times', async () => {
      const token = await createToken({ policies: ['reader'], num_uses: 2 });
      expect((await call(token, 'GET', 'secret/data/app/x')).statusCode).toBe(200);
      expect((await call(token, 'GET', 'secret/data/app/x')).statusCode).toBe(200);
      expect((await call(token, 'GET', 'secret/data/app/x')).statusCode).toBe(403);
    });

    it('the default policy is attached and cannot be deleted; root cannot be changed', async () => {
      const lookup = await call(tokens.reader!, 'GET', 'auth/token/lookup-self');
      expect(lookup.json().data.policies).toEqual(['default', 'reader']);
      expect((await call(s.rootToken, 'DELETE', 'sys/policies/acl/default')).statusCode).toBe(400);
      const list = await call(s.rootToken, 'GET', 'sys/policies/acl?list=true');
      expect(list.json().data.keys).toEqual(expect.arrayContaining(['default', 'root', 'reader']));
    });
  });
});
