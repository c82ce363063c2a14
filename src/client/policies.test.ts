import { describe, expect, it } from 'vitest';
import { CofferClient } from './client.js';
import { ApiError, ClientError } from './errors.js';
import { explanationOf, policyPath } from './policies.js';
import { routeFetch } from './testing.js';
import type { CannedReply, Responder } from './testing.js';

function client(routes: Readonly<Record<string, CannedReply | Responder>>) {
  const rec = routeFetch(routes);
  return {
    rec,
    client: new CofferClient({ address: 'http://127.0.0.1:8200', token: 't', fetch: rec.fetch }),
  };
}

const HCL = 'path "secret/*" {\n  capabilities = ["read"]\n}\n';

describe('policy methods', () => {
  it('lists with LIST (GET ?list=true) and keeps the string keys', async () => {
    const { rec, client: c } = client({
      'LIST sys/policies/acl/': { body: { data: { keys: ['default', 'ops', 'root', 7] } } },
    });
    expect(await c.listPolicies()).toEqual(['default', 'ops', 'root']);
    expect(rec.requests[0]).toMatchObject({ method: 'GET', query: { list: 'true' } });
  });

  it('reads a policy, and undefined for a missing one (404 with or without errors)', async () => {
    const { client: c } = client({
      'GET sys/policies/acl/ops': { body: { data: { name: 'ops', policy: HCL } } },
      'GET sys/policies/acl/gone': { status: 404, body: { errors: ['no such policy'] } },
    });
    expect(await c.readPolicy('ops')).toEqual({ name: 'ops', policy: HCL });
    expect(await c.readPolicy('gone')).toBeUndefined();
    expect(await c.readPolicy('never')).toBeUndefined();
  });

  it('writes the text as {policy} with PUT and deletes with DELETE', async () => {
    const { rec, client: c } = client({
      'PUT sys/policies/acl/ops': { status: 204 },
      'DELETE sys/policies/acl/ops': { status: 204 },
    });
    expect(await c.writePolicy('ops', HCL)).toBeUndefined();
    await c.deletePolicy('ops');
    expect(rec.requests.map((r) => [r.method, r.path, r.body])).toEqual([
      ['PUT', 'sys/policies/acl/ops', { policy: HCL }],
      ['DELETE', 'sys/policies/acl/ops', undefined],
    ]);
    await expect(c.writePolicy('ops', ' \n')).rejects.toThrow(ClientError);
  });

  it('refuses names that would route elsewhere', () => {
    expect(policyPath(' ops ')).toBe('sys/policies/acl/ops');
    expect(() => policyPath('')).toThrow(ClientError);
    expect(() => policyPath('a/b')).toThrow(ClientError);
  });

  it('explains a path and decodes snake_case keys', async () => {
    const data = {
      path: 'secret/data/app',
      operation: 'read',
      allowed: true,
      capabilities: ['read'],
      is_root: false,
      policies: ['default', 'app'],
      matches: [
        {
          policy: 'app',
          pattern: 'secret/data/*',
          line: 4,
          capabilities: ['read'],
          kind: 'glob',
          used: true,
        },
        { policy: 'bad' },
      ],
      reason: 'matched a glob rule',
    };
    const { rec, client: c } = client({ 'POST sys/policies/explain': { body: { data } } });
    const result = await c.explainPolicy('secret/data/app', 'read');
    expect(rec.requests[0]!.body).toEqual({ path: 'secret/data/app', operation: 'read' });
    expect(result).toMatchObject({
      path: 'secret/data/app',
      operation: 'read',
      allowed: true,
      isRoot: false,
      policies: ['default', 'app'],
      reason: 'matched a glob rule',
    });
    expect(result.matches).toEqual([
      {
        policy: 'app',
        pattern: 'secret/data/*',
        line: 4,
        capabilities: ['read'],
        kind: 'glob',
        used: true,
      },
    ]);
    await c.explainPolicy('x');
    expect(rec.requests[1]!.body).toEqual({ path: 'x' });
  });

  it('leaves out what the server did not say', () => {
    const result = explanationOf({ data: { path: 'p', capabilities: ['deny'], matches: [] } });
    expect(result.allowed).toBeUndefined();
    expect(result.operation).toBeUndefined();
    expect(result.isRoot).toBe(false);
    expect(() => explanationOf(undefined)).toThrow(ClientError);
  });

  it('passes a 403 on', async () => {
    const { client: c } = client({
      'POST sys/policies/explain': { status: 403, body: { errors: ['permission denied'] } },
    });
    await expect(c.explainPolicy('x')).rejects.toBeInstanceOf(ApiError);
  });
});
