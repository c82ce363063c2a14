// Tests for mount type aliases: kv-v2, kv-v1 and Vault's old name `generic`.
import { describe, expect, it } from 'vitest';
import { resolveType } from './mount-render.js';

describe('resolveType', () => {
  it('maps generic to KV version 1, keeping an explicit version', () => {
    expect(resolveType('generic', {})).toEqual(['kv', { version: '1' }]);
    expect(resolveType('generic', { version: '2' })).toEqual(['kv', { version: '2' }]);
    expect(resolveType('kv-v2', {})).toEqual(['kv', { version: '2' }]);
    expect(resolveType('transit', {})).toEqual(['transit', {}]);
  });
});
