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
