import { describe, expect, it } from 'vitest';
import { memoryStorage } from '../sdk/testing.js';
import { SERVICE_TOKEN_PREFIX, TokenStore } from './token-store.js';

async function store(now = () => 1_000_000, storage = memoryStorage()) {
  const tokens = new TokenStore({ storage, now });
  await tokens.open();
  return { tokens, storage };
}

describe('TokenStore', () => {
  it('creates random prefixed tokens and never stores them in clear', async () => {
    const { tokens, storage } = await store();
    const { token, entry } = await tokens.create({
      policies: ['root'],
      path: 'auth/token/root',
      displayName: 'root',
      ttlSeconds: 0,
    });
    expect(token.startsWith(SERVICE_TOKEN_PREFIX)).toBe(true);
    expect(token.length).toBeGreaterThanOrEqual(SERVICE_TOKEN_PREFIX.length + 43);
    expect(entry.accessor).toMatch(/^[0-9A-Za-z]{24}$/);
    for (const [key, value] of storage.entries) {
      expect(key).not.toContain(token);
      expect(Buffer.from(value).toString('latin1')).not.toContain(token);
    }
    expect((await tokens.lookup(token))?.policies).toEqual(['root']);
  });

  it('resolves tokens after a restart with the same salt, and not with another store', async () => {
    const { tokens, storage } = await store();
    const { token } = await tokens.create({
      id: 'dev-root',
      policies: ['root'],
      path: 'p',
      displayName: 'd',
      ttlSeconds: 0,
    });
    const again = await store(undefined, storage);
    expect(await again.tokens.lookup(token)).toBeDefined();
    const other = await store();
    expect(await other.tokens.lookup(token)).toBeUndefined();
  });

  it('expires tokens with a TTL', async () => {
    let now = 1_000_000;
    const { tokens } = await store(() => now);
    const { token } = await tokens.create({
      policies: ['root'],
      path: 'p',
      displayName: 'd',
      ttlSeconds: 10,
    });
    now += 9_999;
    expect(await tokens.lookup(token)).toBeDefined();
    now += 1;
    expect(await tokens.lookup(token)).toBeUndefined();
  });

  it('a revoked token fails on the very next lookup', async () => {
    const { tokens } = await store();
    const { token } = await tokens.create({
      policies: ['root'],
      path: 'p',
      displayName: 'd',
      ttlSeconds: 0,
    });
    expect(await tokens.lookup(token)).toBeDefined();
    await tokens.revoke(token);
    expect(await tokens.lookup(token)).toBeUndefined();
  });

  it('refuses a duplicate token id and an empty one', async () => {
    const { tokens } = await store();
    await tokens.create({ id: 'x', policies: [], path: 'p', displayName: 'd', ttlSeconds: 0 });
    await expect(
      tokens.create({ id: 'x', policies: [], path: 'p', displayName: 'd', ttlSeconds: 0 }),
    ).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(
      tokens.create({ id: '', policies: [], path: 'p', displayName: 'd', ttlSeconds: 0 }),
    ).rejects.toMatchObject({ code: 'invalid_request' });
  });
});
