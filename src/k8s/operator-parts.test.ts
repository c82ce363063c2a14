// The operator's pure parts: spec checks (scopes), Secret data and its HMAC, and the rollout
// restart limiter.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SecretRead } from '../client/index.js';
import { parseSpec, scopesFor, SpecError } from './crd.js';
import type { CofferSecret } from './crd.js';
import { restartAnnotation, Restarter } from './restarter.js';
import { buildSecretData, dataMac } from './secret-data.js';

const resource = (spec: unknown, namespace = 'shop'): CofferSecret => ({
  metadata: { name: 'app', namespace, uid: 'u1' },
  spec,
});

function read(path: string, data: Record<string, unknown>): [string, SecretRead] {
  return [`kv:${path}`, { target: { kind: 'kv', path }, apiPath: path, data, watchPaths: [path] }];
}

describe('parseSpec', () => {
  it('reads a full spec with defaults', () => {
    const spec = parseSpec(resource({ sources: [{ path: '/shop/app/' }] }), []);
    expect(spec).toEqual({
      sources: [{ path: 'shop/app' }],
      target: { name: 'app', type: 'Opaque', labels: {}, annotations: {}, templates: {} },
      rolloutRestartTargets: [],
      revokeOnDelete: true,
    });
  });

  it('SECURITY: refuses a path outside the namespace scopes', () => {
    const scopes = scopesFor(['{namespace}/', 'database/creds/{namespace}-'], 'shop');
    expect(parseSpec(resource({ sources: [{ path: 'shop/app' }] }), scopes).sources).toHaveLength(
      1,
    );
    expect(
      parseSpec(resource({ sources: [{ path: 'database/creds/shop-app' }] }), scopes).sources,
    ).toHaveLength(1);
    for (const path of ['billing/app', 'shopping/app', 'database/creds/billing-app', 'shopx']) {
      expect(() => parseSpec(resource({ sources: [{ path }] }), scopes)).toThrow(
        'spec.sources[0].path is outside the paths this namespace may read',
      );
    }
  });

  it('names the field at fault', () => {
    const bad = (spec: unknown) => () => parseSpec(resource(spec), []);
    expect(bad({ sources: [] })).toThrow('spec.sources must list at least one source');
    expect(bad({ sources: [{ path: 'a/../b' }] })).toThrow('spec.sources[0].path');
    expect(bad({ sources: [{ path: 'a', version: 0 }] })).toThrow('spec.sources[0].version');
    expect(bad({ sources: [{ path: 'a', keys: { 'a b': 'x' } }] })).toThrow(SpecError);
    expect(
      bad({ sources: [{ path: 'a' }], rolloutRestartTargets: [{ kind: 'Pod', name: 'x' }] }),
    ).toThrow('spec.rolloutRestartTargets[0].kind');
    expect(bad({ sources: [{ path: 'a' }], target: { name: 'Not_A_Name' } })).toThrow(
      'spec.target.name',
    );
  });
});

describe('Secret data', () => {
  const spec = parseSpec(
    resource({
      sources: [{ path: 'shop/app' }, { path: 'shop/db', keys: { DB_PASSWORD: 'password' } }],
      target: { templates: { DSN: 'postgres://{{user}}:{{DB_PASSWORD}}@db/shop' } },
    }),
    [],
  );

  it('merges sources, renames keys and renders templates', () => {
    const reads = new Map([
      read('shop/app', { user: 'app', port: 5432 }),
      read('shop/db', { password: 'pw', other: 'x' }),
    ]);
    expect(buildSecretData(spec, reads)).toEqual({
      user: 'app',
      port: '5432',
      DB_PASSWORD: 'pw',
      DSN: 'postgres://app:pw@db/shop',
    });
  });

  it('refuses a key given twice and a missing key, naming them and not their values', () => {
    const twice = new Map([
      read('shop/app', { DB_PASSWORD: 'secret-1' }),
      read('shop/db', { password: 'secret-2' }),
    ]);
    expect(() => buildSecretData(spec, twice)).toThrow('key "DB_PASSWORD" is given twice');
    const missing = new Map([read('shop/app', { user: 'a' }), read('shop/db', {})]);
    expect(() => buildSecretData(spec, missing)).toThrow(
      'no key "password" in the secret at shop/db',
    );
  });

  it('the HMAC depends on the key, the type and every key and value', () => {
    const key = Buffer.alloc(32, 1);
    const base = dataMac(key, 'Opaque', { a: '1', b: '2' });
    expect(dataMac(key, 'Opaque', { b: '2', a: '1' })).toBe(base);
    expect(dataMac(key, 'Opaque', { a: '1', b: '3' })).not.toBe(base);
    expect(dataMac(key, 'Opaque', { a: '12' })).not.toBe(
      dataMac(key, 'Opaque', { a: '1', '2': '' }),
    );
    expect(dataMac(key, 'kubernetes.io/tls', { a: '1', b: '2' })).not.toBe(base);
    expect(dataMac(Buffer.alloc(32, 2), 'Opaque', { a: '1', b: '2' })).not.toBe(base);
  });
});

describe('Restarter', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('turns a burst into one restart and keeps to one restart per interval', async () => {
    vi.useFakeTimers();
    const applied: string[] = [];
    const restarter = new Restarter({
      apply: (_target, _annotation, value) => {
        applied.push(value);
        return Promise.resolve(true);
      },
      intervalMs: 10_000,
      debounceMs: 1_000,
      log: () => undefined,
    });
    const target = { namespace: 'shop', kind: 'Deployment' as const, name: 'shop' };
    for (const v of ['a', 'b', 'c']) restarter.request(target, restartAnnotation('app'), v);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(applied).toEqual(['c']);
    restarter.request(target, restartAnnotation('app'), 'd');
    restarter.request(target, restartAnnotation('app'), 'e');
    await vi.advanceTimersByTimeAsync(5_000);
    expect(applied).toEqual(['c']);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(applied).toEqual(['c', 'e']);
    restarter.close();
  });

  it('names the annotation after the resource, within the 63-character limit', () => {
    expect(restartAnnotation('app')).toBe('coffer.dev/restart-app');
    expect(restartAnnotation('x'.repeat(100)).split('/')[1]!.length).toBeLessThanOrEqual(63);
  });
});
