import { describe, expect, it } from 'vitest';
import { runCliForTest as run } from './testing.js';

const LEASE = 'database/creds/ro/abc123';
const LOOKUP = {
  data: {
    id: LEASE,
    issue_time: '2026-01-01T00:00:00Z',
    expire_time: '2026-01-01T01:00:00Z',
    last_renewal: null,
    renewable: true,
    ttl: 3599,
  },
};

describe('lease lookup', () => {
  const routes = { 'PUT sys/leases/lookup': { body: LOOKUP } };

  it('sends the id in the body and prints the six keys in order, ttl as a duration', async () => {
    const result = await run(['lease', 'lookup', LEASE], { routes });
    expect(result.code).toBe(0);
    expect(result.requests[0]).toMatchObject({
      method: 'PUT',
      path: 'sys/leases/lookup',
      body: { lease_id: LEASE },
    });
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines.slice(2).map((line) => line.split(/\s+/))).toEqual([
      ['id', LEASE],
      ['issue_time', '2026-01-01T00:00:00Z'],
      ['expire_time', '2026-01-01T01:00:00Z'],
      ['last_renewal', '<nil>'],
      ['renewable', 'true'],
      ['ttl', '59m59s'],
    ]);
  });

  it('honours -format=json and -field', async () => {
    const json = await run(['lease', 'lookup', '-format=json', LEASE], { routes });
    expect(JSON.parse(json.stdout)).toEqual(LOOKUP);
    const field = await run(['lease', 'lookup', '-field=ttl', LEASE], { routes });
    expect(field).toMatchObject({ code: 0, stdout: '3599' });
    const missing = await run(['lease', 'lookup', '-field=nope', LEASE], { routes });
    expect(missing.code).toBe(1);
  });

  it('exits 2 without an id or with an empty one, 1 on an API error', async () => {
    expect((await run(['lease', 'lookup'])).code).toBe(2);
    const empty = await run(['lease', 'lookup', ' ']);
    expect(empty.code).toBe(2);
    expect(empty.requests).toHaveLength(0);
    const denied = await run(['lease', 'lookup', LEASE], {
      routes: { 'PUT sys/leases/lookup': { status: 400, body: { errors: ['invalid lease'] } } },
    });
    expect(denied).toMatchObject({ code: 1, stderr: 'Error: invalid lease (400)\n' });
  });
});

describe('lease renew', () => {
  const routes = {
    'PUT sys/leases/renew': { body: { lease_id: LEASE, renewable: true, lease_duration: 5400 } },
  };

  it('sends the increment in seconds and prints the granted lease', async () => {
    const result = await run(['lease', 'renew', '-increment=1h30m', LEASE], { routes });
    expect(result.code).toBe(0);
    expect(result.requests[0]).toMatchObject({
      method: 'PUT',
      path: 'sys/leases/renew',
      body: { lease_id: LEASE, increment: 5400 },
    });
    expect(result.stdout).toMatch(
      /^Key\s+Value\n-+\s+-+\nlease_id\s+database\/creds\/ro\/abc123\nlease_duration\s+1h30m\nlease_renewable\s+true\n$/,
    );
  });

  it('sends no increment by default; -field and -format=json work', async () => {
    const plain = await run(['lease', 'renew', LEASE], { routes });
    expect(plain.requests[0]!.body).toEqual({ lease_id: LEASE });
    const field = await run(['lease', 'renew', '-field=lease_duration', LEASE], { routes });
    expect(field.stdout).toBe('5400');
    const json = await run(['lease', 'renew', '-format=json', LEASE], { routes });
    expect(JSON.parse(json.stdout)).toMatchObject({ lease_id: LEASE, lease_duration: 5400 });
  });

  it('refuses a bad increment with exit 2 and a non-renewable lease with exit 1', async () => {
    const bad = await run(['lease', 'renew', '-increment=soon', LEASE], { routes });
    expect(bad.code).toBe(2);
    expect(bad.requests).toHaveLength(0);
    const refused = await run(['lease', 'renew', LEASE], {
      routes: {
        'PUT sys/leases/renew': { status: 400, body: { errors: ['lease is not renewable'] } },
      },
    });
    expect(refused).toMatchObject({ code: 1, stderr: 'Error: lease is not renewable (400)\n' });
  });
});

describe('lease revoke', () => {
  const routes = { 'PUT sys/leases/*': { status: 204 } };

  it('revokes one lease synchronously by default', async () => {
    const result = await run(['lease', 'revoke', LEASE], { routes });
    expect(result).toMatchObject({ code: 0, stdout: `Success! Revoked lease: ${LEASE}\n` });
    expect(result.requests[0]).toMatchObject({
      method: 'PUT',
      path: 'sys/leases/revoke',
      body: { lease_id: LEASE },
    });
  });

  it('queues with -sync=false', async () => {
    const result = await run(['lease', 'revoke', '-sync=false', LEASE], { routes });
    expect(result.stdout).toBe('All revocation operations queued successfully!\n');
    expect(result.requests[0]!.body).toEqual({ lease_id: LEASE, sync: false });
  });

  it('revokes a prefix, and force-revokes with -prefix -force', async () => {
    const prefix = await run(['lease', 'revoke', '-prefix', 'database/creds/'], { routes });
    expect(prefix.stdout).toBe('Success! Revoked any leases with prefix: database/creds/\n');
    expect(prefix.requests[0]).toMatchObject({
      path: 'sys/leases/revoke-prefix/database/creds/',
      body: undefined,
    });
    const force = await run(['lease', 'revoke', '-prefix', '-force', 'database/'], { routes });
    expect(force.code).toBe(0);
    expect(force.stdout).toBe('Success! Force revoked any leases with prefix: database/\n');
    expect(force.stderr).toContain('Warning!');
    expect(force.requests[0]!.path).toBe('sys/leases/revoke-force/database/');
  });

  it('exits 2 for -force without -prefix, before any request', async () => {
    const result = await run(['lease', 'revoke', '-force', 'database/'], { routes });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('-force requires -prefix');
    expect(result.requests).toHaveLength(0);
  });

  it('exits 1 when the server refuses', async () => {
    const result = await run(['lease', 'revoke', '-prefix', 'database/'], {
      routes: { 'PUT sys/leases/*': { status: 403, body: { errors: ['permission denied'] } } },
    });
    expect(result).toMatchObject({ code: 1, stderr: 'Error: permission denied (403)\n' });
  });
});

describe('root help', () => {
  it('lists lease and unwrap', async () => {
    const result = await run(['-h']);
    expect(result.stdout).toContain('    lease      Look up, renew and revoke leases\n');
    expect(result.stdout).toContain('    unwrap     Return a wrapped response\n');
  });
});
