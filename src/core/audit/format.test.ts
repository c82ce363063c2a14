import { describe, expect, it } from 'vitest';
import type { Caller } from '../caller.js';
import type { TokenEntry } from '../token-store.js';
import { rfc3339Nano } from '../../sdk/text.js';
import { auditAuthOf, auditResponseOf, formatAuditEntry } from './format.js';
import { deviceHasher, hmacString } from './hash.js';
import { FIXED_NOW, sampleRecord } from './testing.js';

const salt = Buffer.alloc(32, 1);
const hash = deviceHasher(salt);
const h = (s: string) => hmacString(salt, s);

describe('rfc3339Nano', () => {
  it('prints Go RFC3339Nano: UTC, trailing zeros of the fraction dropped', () => {
    expect(rfc3339Nano(Date.UTC(2026, 0, 2, 3, 4, 5, 670))).toBe('2026-01-02T03:04:05.67Z');
    expect(rfc3339Nano(Date.UTC(2026, 0, 2, 3, 4, 5, 1))).toBe('2026-01-02T03:04:05.001Z');
    expect(rfc3339Nano(Date.UTC(2026, 0, 2, 3, 4, 5, 0))).toBe('2026-01-02T03:04:05Z');
  });
});

describe('formatAuditEntry', () => {
  it('writes the Vault request shape with tokens, accessors, metadata and data HMACd', () => {
    const entry = formatAuditEntry('request', sampleRecord(), FIXED_NOW, hash, {
      hmacAccessor: true,
    });
    expect(entry).toEqual({
      time: '2026-01-02T03:04:05.67Z',
      type: 'request',
      auth: {
        client_token: h('cfs.sampletoken'),
        accessor: h('sampleaccessor'),
        display_name: 'token-app',
        policies: ['default', 'app'],
        token_policies: ['default', 'app'],
        metadata: { team: h('ops') },
        entity_id: '',
        token_type: 'service',
        token_ttl: 3600,
      },
      request: {
        id: 'req-1',
        operation: 'update',
        mount_type: 'kv',
        mount_accessor: 'kv_12345678',
        client_token: h('cfs.sampletoken'),
        client_token_accessor: h('sampleaccessor'),
        namespace: { id: 'root' },
        path: 'secret/data/app',
        data: { data: { password: h('hunter2') } },
        remote_address: '127.0.0.1',
        wrap_ttl: 0,
      },
      error: '',
    });
  });

  it('keeps accessors in clear only when hmac_accessor is off', () => {
    const entry = formatAuditEntry('request', sampleRecord(), FIXED_NOW, hash, {
      hmacAccessor: false,
    });
    expect((entry['auth'] as Record<string, unknown>)['accessor']).toBe('sampleaccessor');
    expect((entry['request'] as Record<string, unknown>)['client_token_accessor']).toBe(
      'sampleaccessor',
    );
    expect((entry['auth'] as Record<string, unknown>)['client_token']).toBe(h('cfs.sampletoken'));
  });

  it('writes the response block: data and a returned token HMACd, warnings and mount type clear', () => {
    const record = sampleRecord({
      response: {
        mountType: 'token',
        data: { id: 'cfs.lookedup', ttl: 30 },
        auth: {
          clientToken: 'cfs.newtoken',
          accessor: 'newaccessor',
          policies: ['default'],
          tokenPolicies: ['default'],
          metadata: { owner: 'alice' },
          leaseDurationSeconds: 60,
          renewable: true,
          entityId: '',
          tokenType: 'service',
          orphan: false,
          numUses: 0,
        },
        secret: { leaseId: 'database/creds/ro/abc' },
        warnings: ['a warning'],
      },
    });
    const entry = formatAuditEntry('response', record, FIXED_NOW, hash, { hmacAccessor: true });
    expect(entry['type']).toBe('response');
    expect(entry['response']).toEqual({
      mount_type: 'token',
      mount_accessor: '',
      auth: {
        client_token: h('cfs.newtoken'),
        accessor: h('newaccessor'),
        policies: ['default'],
        token_policies: ['default'],
        metadata: { owner: h('alice') },
        entity_id: '',
        token_type: 'service',
        token_ttl: 60,
        renewable: true,
        orphan: false,
        num_uses: 0,
      },
      secret: { lease_id: 'database/creds/ro/abc' },
      data: { id: h('cfs.lookedup'), ttl: 30 },
      warnings: ['a warning'],
    });
  });

  it('audits a request whose token did not resolve: empty auth, the presented token HMACd, the error', () => {
    const entry = formatAuditEntry(
      'request',
      {
        request: { id: 'r', operation: 'read', path: 'secret/x', clientToken: 'bogus' },
        error: 'permission denied',
      },
      FIXED_NOW,
      hash,
      { hmacAccessor: true },
    );
    expect(entry['auth']).toEqual({});
    expect(entry['error']).toBe('permission denied');
    expect((entry['request'] as Record<string, unknown>)['client_token']).toBe(h('bogus'));
    expect(entry['request']).not.toHaveProperty('data');
  });

  it('builds auth and response blocks from a caller and an engine result', () => {
    const entry = {
      accessor: 'acc',
      policies: ['default'],
      path: 'auth/token/create',
      displayName: 'token',
      meta: null,
      createdAt: 0,
      ttlSeconds: 120,
      explicitMaxTtlSeconds: 0,
      maxTtlSeconds: 0,
      periodSeconds: 0,
      numUses: 0,
      renewable: true,
      orphan: true,
      type: 'service',
    } satisfies TokenEntry;
    const caller: Caller = { token: 'cfs.t', entry, isRoot: false, sudoOn: () => false };
    expect(auditAuthOf(caller)).toMatchObject({
      clientToken: 'cfs.t',
      accessor: 'acc',
      tokenTtlSeconds: 120,
      tokenType: 'service',
      metadata: null,
    });
    expect(
      auditResponseOf(
        { kind: 'data', data: { a: 'b' }, warnings: ['w'] },
        { type: 'kv', accessor: 'kv_1' },
      ),
    ).toEqual({ mountType: 'kv', mountAccessor: 'kv_1', data: { a: 'b' }, warnings: ['w'] });
    expect(auditResponseOf({ kind: 'empty' }, { type: 'system', accessor: 's' })).toEqual({
      mountType: 'system',
      mountAccessor: 's',
    });
  });
});

describe('formatAuditEntry: optional fields', () => {
  const returnedAuth = {
    clientToken: 'cfs.ret',
    accessor: 'retaccessor',
    policies: ['default', 'team'],
    tokenPolicies: ['default'],
    identityPolicies: ['team'],
    metadata: null,
    leaseDurationSeconds: 60,
    renewable: false,
    entityId: 'ent-1',
    tokenType: 'batch' as const,
    orphan: true,
    numUses: 3,
  };

  it('writes empty strings for absent mount, token and accessor, and omits empty data', () => {
    const entry = formatAuditEntry(
      'request',
      { request: { id: 'r', operation: 'read', path: 'sys/health', data: {} } },
      FIXED_NOW,
      hash,
      { hmacAccessor: false },
    );
    expect(entry['request']).toEqual({
      id: 'r',
      operation: 'read',
      mount_type: '',
      mount_accessor: '',
      client_token: '',
      client_token_accessor: '',
      namespace: { id: 'root' },
      path: 'sys/health',
      remote_address: '',
      wrap_ttl: 0,
    });
  });

  it('writes the remote port, the wrap TTL and the door with its principal, in clear', () => {
    const request = {
      ...sampleRecord().request,
      remotePort: 51234,
      wrapTtlSeconds: 300,
      door: { api: 'gcp', method: 'AccessSecretVersion', principal: 'user:alice@example.com' },
    };
    const entry = formatAuditEntry('request', { request }, FIXED_NOW, hash, {
      hmacAccessor: true,
    });
    expect(entry['request']).toMatchObject({
      remote_port: 51234,
      wrap_ttl: 300,
      door: { api: 'gcp', method: 'AccessSecretVersion', principal: 'user:alice@example.com' },
    });
    const noPrincipal = formatAuditEntry(
      'request',
      { request: { ...request, door: { api: 'aws', method: 'GetSecretValue' } } },
      FIXED_NOW,
      hash,
      { hmacAccessor: true },
    );
    expect((noPrincipal['request'] as Record<string, unknown>)['door']).toEqual({
      api: 'aws',
      method: 'GetSecretValue',
    });
  });

  it('writes identity policies of the caller and of a returned token', () => {
    const record = sampleRecord({
      auth: { ...sampleRecord().auth!, identityPolicies: ['team'], metadata: null },
      response: { auth: returnedAuth },
    });
    const entry = formatAuditEntry('response', record, FIXED_NOW, hash, { hmacAccessor: false });
    expect(entry['auth']).toMatchObject({ identity_policies: ['team'], metadata: null });
    expect((entry['response'] as Record<string, unknown>)['auth']).toEqual({
      client_token: h('cfs.ret'),
      accessor: 'retaccessor',
      policies: ['default', 'team'],
      token_policies: ['default'],
      identity_policies: ['team'],
      metadata: null,
      entity_id: 'ent-1',
      token_type: 'batch',
      token_ttl: 60,
      renewable: false,
      orphan: true,
      num_uses: 3,
    });
  });

  it("writes wrap_info with the token HMAC'd and the accessor as hmac_accessor says", () => {
    const wrapInfo = {
      token: 'cfs.wrapping',
      accessor: 'wrapaccessor',
      ttlSeconds: 120,
      creationTime: FIXED_NOW,
      creationPath: 'secret/data/app',
    };
    const record = sampleRecord({
      response: { mountType: 'kv', data: null, wrapInfo, warnings: [] },
    });
    for (const hmacAccessor of [true, false]) {
      const entry = formatAuditEntry('response', record, FIXED_NOW, hash, { hmacAccessor });
      expect(entry['response']).toEqual({
        mount_type: 'kv',
        mount_accessor: '',
        wrap_info: {
          token: h('cfs.wrapping'),
          accessor: hmacAccessor ? h('wrapaccessor') : 'wrapaccessor',
          ttl: 120,
          creation_time: '2026-01-02T03:04:05.67Z',
          creation_path: 'secret/data/app',
        },
      });
    }
  });

  it('a response without mount or data writes empty mount fields and no data', () => {
    const entry = formatAuditEntry('response', sampleRecord({ response: {} }), FIXED_NOW, hash, {
      hmacAccessor: true,
    });
    expect(entry['response']).toStrictEqual({ mount_type: '', mount_accessor: '' });
  });

  it('a request line never carries the response, even when the record has one', () => {
    const record = sampleRecord({ response: { mountType: 'kv', data: { v: 'x' } } });
    const entry = formatAuditEntry('request', record, FIXED_NOW, hash, { hmacAccessor: true });
    expect(entry).not.toHaveProperty('response');
    expect(Object.keys(entry)).toEqual(['time', 'type', 'auth', 'request', 'error']);
    const failed = formatAuditEntry('response', sampleRecord(), FIXED_NOW, hash, {
      hmacAccessor: true,
    });
    expect(Object.keys(failed)).toEqual(['time', 'type', 'auth', 'request', 'error']);
  });
});

describe('auditAuthOf and auditResponseOf', () => {
  const entry = {
    accessor: 'acc',
    policies: ['default', 'dev'],
    path: 'auth/token/create',
    displayName: 'token',
    meta: { team: 'ops' },
    createdAt: 0,
    ttlSeconds: 120,
    explicitMaxTtlSeconds: 0,
    maxTtlSeconds: 0,
    periodSeconds: 0,
    numUses: 0,
    renewable: true,
    orphan: true,
    type: 'service',
    entityId: 'ent-9',
  } satisfies TokenEntry;

  it('merges identity policies into the policies, and lists them apart', () => {
    const caller: Caller = {
      token: 'cfs.t',
      entry,
      isRoot: false,
      identityPolicies: ['Ops', 'dev'],
      sudoOn: () => false,
    };
    expect(auditAuthOf(caller)).toEqual({
      clientToken: 'cfs.t',
      accessor: 'acc',
      displayName: 'token',
      policies: ['default', 'dev', 'ops'],
      tokenPolicies: ['default', 'dev'],
      identityPolicies: ['Ops', 'dev'],
      metadata: { team: 'ops' },
      entityId: 'ent-9',
      tokenType: 'service',
      tokenTtlSeconds: 120,
    });
    // A token without the default policy does not get it from its entity.
    expect(
      auditAuthOf({ ...caller, entry: { ...entry, policies: ['dev'] }, identityPolicies: ['ops'] })
        .policies,
    ).toEqual(['dev', 'ops']);
    const none = auditAuthOf({ ...caller, identityPolicies: [] });
    expect(none.policies).toEqual(['default', 'dev']);
    expect(none).not.toHaveProperty('identityPolicies');
    const noEntity = Object.fromEntries(
      Object.entries(entry).filter(([key]) => key !== 'entityId'),
    ) as unknown as TokenEntry;
    expect(auditAuthOf({ ...caller, entry: noEntity }).entityId).toBe('');
  });

  it('takes the lease id of leased data, the auth of a login and the wrap info of a wrapped response', () => {
    const mount = { type: 'database', accessor: 'database_1' };
    expect(
      auditResponseOf({ kind: 'data', data: { u: 'v' }, leaseId: 'database/creds/ro/x' }, mount),
    ).toEqual({
      mountType: 'database',
      mountAccessor: 'database_1',
      data: { u: 'v' },
      secret: { leaseId: 'database/creds/ro/x' },
    });
    const auth = {
      clientToken: 'cfs.x',
      accessor: 'a',
      policies: [],
      tokenPolicies: [],
      metadata: null,
      leaseDurationSeconds: 1,
      renewable: true,
      entityId: '',
      tokenType: 'service' as const,
      orphan: false,
      numUses: 0,
    };
    expect(auditResponseOf({ kind: 'auth', auth, warnings: [] }, mount)).toEqual({
      mountType: 'database',
      mountAccessor: 'database_1',
      auth,
    });
    const wrapInfo = {
      token: 't',
      accessor: 'a',
      ttlSeconds: 1,
      creationTime: 0,
      creationPath: 'p',
    };
    expect(auditResponseOf({ kind: 'wrapped', wrapInfo }, mount)).toEqual({
      mountType: 'database',
      mountAccessor: 'database_1',
      wrapInfo,
    });
  });
});
