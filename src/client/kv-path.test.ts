import { describe, expect, it } from 'vitest';
import {
  encodePath,
  findCachedMount,
  joinKvPath,
  keyWithinMount,
  kvApiPath,
  listPath,
  parseKvMountProbe,
  sanitizePath,
} from './kv-path.js';
import type { KvMountInfo } from './types.js';

const V2: KvMountInfo = { path: 'secret/', version: 2 };
const V1: KvMountInfo = { path: 'kv/', version: 1 };

describe('sanitizePath and joinKvPath', () => {
  it('trims whitespace and slashes like the Vault CLI', () => {
    expect(sanitizePath('  /secret/app/  ')).toBe('secret/app');
    expect(sanitizePath('///')).toBe('');
  });

  it('joins -mount with the key, or keeps a path-style path', () => {
    expect(joinKvPath('secret', 'app/db')).toBe('secret/app/db');
    expect(joinKvPath('/secret/', '/app/db/')).toBe('secret/app/db');
    expect(joinKvPath('', 'secret/app/db')).toBe('secret/app/db');
    expect(joinKvPath('secret', '')).toBe('secret');
  });
});

describe('kvApiPath', () => {
  it('inserts the v2 segment after the mount', () => {
    expect(kvApiPath('secret/app/db', V2, 'data')).toBe('secret/data/app/db');
    expect(kvApiPath('secret/app/db', V2, 'metadata')).toBe('secret/metadata/app/db');
    expect(kvApiPath('secret/app/db', V2, 'destroy')).toBe('secret/destroy/app/db');
  });

  it('handles nested mounts and the mount root', () => {
    const nested: KvMountInfo = { path: 'team/kv/', version: 2 };
    expect(kvApiPath('team/kv/a/b', nested, 'data')).toBe('team/kv/data/a/b');
    expect(kvApiPath('secret', V2, 'metadata')).toBe('secret/metadata');
  });

  it('uses the full path unchanged on KV v1', () => {
    expect(kvApiPath('kv/app/db', V1, 'data')).toBe('kv/app/db');
    expect(kvApiPath('/kv/app/', { path: '', version: 1 }, 'metadata')).toBe('kv/app');
  });

  it('refuses a path outside the mount', () => {
    expect(() => keyWithinMount('other/x', 'secret/')).toThrow(/not inside the mount secret\//);
    // "secretive/x" shares a prefix with "secret" but is another mount.
    expect(() => kvApiPath('secretive/x', V2, 'data')).toThrow();
  });
});

describe('parseKvMountProbe', () => {
  it('reads a kv v2 mount', () => {
    const probe = { data: { path: 'secret/', type: 'kv', options: { version: '2' } } };
    expect(parseKvMountProbe(probe)).toEqual({ path: 'secret/', version: 2 });
  });

  it('accepts a numeric version as hvac sends it', () => {
    const probe = { data: { path: 'kv2', type: 'kv', options: { version: 2 } } };
    expect(parseKvMountProbe(probe)).toEqual({ path: 'kv2/', version: 2 });
  });

  it('treats kv without options, other types and no answer as v1', () => {
    expect(parseKvMountProbe({ data: { path: 'kv/', type: 'kv', options: null } })).toEqual({
      path: 'kv/',
      version: 1,
    });
    expect(
      parseKvMountProbe({ data: { path: 'g/', type: 'generic', options: { version: '2' } } }),
    ).toEqual({ path: 'g/', version: 1 });
    expect(parseKvMountProbe(undefined)).toEqual({ path: '', version: 1 });
  });
});

describe('findCachedMount', () => {
  it('picks the longest mount that contains the path', () => {
    const cache = new Map<string, KvMountInfo>([
      ['secret/', V2],
      ['secret/team/', { path: 'secret/team/', version: 1 }],
    ]);
    expect(findCachedMount(cache, 'secret/team/x')?.version).toBe(1);
    expect(findCachedMount(cache, 'secret/other')?.version).toBe(2);
    expect(findCachedMount(cache, 'secret')?.version).toBe(2);
    expect(findCachedMount(cache, 'secretive/x')).toBeUndefined();
  });
});

describe('listPath and encodePath', () => {
  it('adds one trailing slash', () => {
    expect(listPath('secret/metadata/app')).toBe('secret/metadata/app/');
    expect(listPath('secret/metadata/')).toBe('secret/metadata/');
  });

  it('encodes each segment but keeps slashes', () => {
    expect(encodePath('secret/data/a b/c?d#e%')).toBe('secret/data/a%20b/c%3Fd%23e%25');
  });
});
