import { describe, expect, it } from 'vitest';
import { CofferClient } from './client.js';
import { ApiError, ClientError } from './errors.js';
import { leaseRenewalOf, leaseRevokeRequest } from './leases.js';
import { routeFetch } from './testing.js';
import type { CannedReply, Responder } from './testing.js';

const TOKEN = 'hvs.caller-token';
const WRAPPING = 'hvs.wrapping-token-value';
const LEASE = 'database/creds/ro/abc123';

function client(routes: Readonly<Record<string, CannedReply | Responder>>, token = TOKEN) {
  const rec = routeFetch(routes);
  return {
    rec,
    client: new CofferClient({ address: 'http://127.0.0.1:8200', token, fetch: rec.fetch }),
  };
}

describe('lease requests', () => {
  it('looks a lease up with the id in the body', async () => {
    const data = {
      id: LEASE,
      issue_time: '2026-01-01T00:00:00Z',
      expire_time: '2026-01-01T01:00:00Z',
      last_renewal: null,
      renewable: true,
      ttl: 3599,
    };
    const { rec, client: c } = client({ 'PUT sys/leases/lookup': { body: { data } } });
    const found = await c.lookupLease(` ${LEASE} `);
    expect(found.info).toEqual(data);
    expect(rec.requests[0]).toMatchObject({
      method: 'PUT',
      path: 'sys/leases/lookup',
      body: { lease_id: LEASE },
    });
    expect(rec.requests[0]!.headers['x-vault-token']).toBe(TOKEN);
  });

  it('refuses an empty id and a lookup answer without data.id', async () => {
    const { rec, client: c } = client({ 'PUT sys/leases/lookup': { body: { data: {} } } });
    await expect(c.lookupLease('  ')).rejects.toBeInstanceOf(ClientError);
    expect(rec.requests).toHaveLength(0);
    await expect(c.lookupLease(LEASE)).rejects.toThrow(/no data\.id/);
  });

  it('renews with increment only when given, and reads the envelope', async () => {
    const reply = { body: { lease_id: LEASE, renewable: true, lease_duration: 1800, data: {} } };
    const { rec, client: c } = client({ 'PUT sys/leases/renew': reply });
    const renewed = await c.renewLease(LEASE, 1800);
    expect(renewed).toMatchObject({ leaseId: LEASE, renewable: true, leaseDurationSeconds: 1800 });
    await c.renewLease(LEASE);
    expect(rec.requests.map((r) => r.body)).toEqual([
      { lease_id: LEASE, increment: 1800 },
      { lease_id: LEASE },
    ]);
    await expect(c.renewLease(LEASE, -1)).rejects.toBeInstanceOf(ClientError);
    await expect(c.renewLease(LEASE, 1.5)).rejects.toBeInstanceOf(ClientError);
  });

  it('reads a renewal answer that carries the lease in data', () => {
    const renewal = leaseRenewalOf({
      data: { lease_id: LEASE, renewable: false, lease_duration: 60 },
    });
    expect(renewal).toMatchObject({ leaseId: LEASE, renewable: false, leaseDurationSeconds: 60 });
    expect(() => leaseRenewalOf({ data: {} })).toThrow(ClientError);
    expect(() => leaseRenewalOf(undefined)).toThrow(ClientError);
  });

  it('builds the three revocation routes', () => {
    expect(leaseRevokeRequest({ kind: 'lease', leaseId: LEASE })).toEqual({
      path: 'sys/leases/revoke',
      body: { lease_id: LEASE },
    });
    expect(leaseRevokeRequest({ kind: 'lease', leaseId: LEASE, sync: false }).body).toEqual({
      lease_id: LEASE,
      sync: false,
    });
    expect(leaseRevokeRequest({ kind: 'prefix', prefix: 'database/creds/' })).toEqual({
      path: 'sys/leases/revoke-prefix/database/creds/',
      body: undefined,
    });
    expect(leaseRevokeRequest({ kind: 'prefix', prefix: 'a b/', sync: false })).toEqual({
      path: 'sys/leases/revoke-prefix/a%20b/',
      body: { sync: false },
    });
    expect(leaseRevokeRequest({ kind: 'force', prefix: '/database/' }).path).toBe(
      'sys/leases/revoke-force/database/',
    );
    expect(() => leaseRevokeRequest({ kind: 'prefix', prefix: '../sys' })).toThrow(ClientError);
    expect(() => leaseRevokeRequest({ kind: 'force', prefix: ' ' })).toThrow(ClientError);
  });

  it('sends a prefix revocation without a body and surfaces API errors', async () => {
    const { rec, client: c } = client({
      'PUT sys/leases/revoke-prefix/*': { status: 204 },
      'PUT sys/leases/revoke': { status: 400, body: { errors: ['invalid lease ID'] } },
    });
    await c.revokeLease({ kind: 'prefix', prefix: 'database/' });
    expect(rec.requests[0]).toMatchObject({ method: 'PUT', body: undefined });
    await expect(c.revokeLease({ kind: 'lease', leaseId: 'x' })).rejects.toBeInstanceOf(ApiError);
  });
});

describe('unwrap', () => {
  const wrapped = { data: { password: 'p' } };

  it('sends a given wrapping token in the body, authenticated by the client token', async () => {
    const { rec, client: c } = client({ 'POST sys/wrapping/unwrap': { body: wrapped } });
    expect(await c.unwrap(WRAPPING)).toEqual(wrapped);
    expect(rec.requests[0]).toMatchObject({ method: 'POST', body: { token: WRAPPING } });
    expect(rec.requests[0]!.headers['x-vault-token']).toBe(TOKEN);
    expect(rec.requests[0]!.url.search).toBe('');
  });

  it('without a token uses the client token as the wrapping token and sends no body', async () => {
    const { rec, client: c } = client({ 'POST sys/wrapping/unwrap': { body: wrapped } }, WRAPPING);
    await c.unwrap();
    expect(rec.requests[0]!.body).toBeUndefined();
    expect(rec.requests[0]!.headers['x-vault-token']).toBe(WRAPPING);
  });
});
