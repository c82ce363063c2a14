import { createCipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Storage } from '../sdk/storage.js';
import { memoryStorage } from '../sdk/testing.js';
import { TOKEN_KEYS } from './keys.js';
import { defaultRole } from './token-backend.js';
import {
  BATCH_TOKEN_PREFIX,
  DEFAULT_SYSTEM_TTL_SECONDS,
  SERVICE_TOKEN_PREFIX,
  TokenStore,
  addressAllowed,
  normaliseCidr,
  sanitizePolicies,
  type CreateTokenOptions,
} from './token-store.js';

const T0 = Date.UTC(2026, 0, 1);

async function store(
  now = () => 1_000_000,
  storage = memoryStorage(),
  ttls: { max?: number; def?: number } = {},
) {
  const tokens = new TokenStore({
    storage,
    now,
    ...(ttls.max === undefined ? {} : { maxLeaseTtlSeconds: ttls.max }),
    ...(ttls.def === undefined ? {} : { defaultLeaseTtlSeconds: ttls.def }),
  });
  await tokens.open();
  return { tokens, storage };
}

/** A store with a clock the test moves (epoch ms). */
async function clockedStore(ttls: { max?: number; def?: number } = {}) {
  const clock = { now: T0 };
  const { tokens, storage } = await store(() => clock.now, memoryStorage(), ttls);
  return { tokens, storage, clock };
}

function opts(overrides: Partial<CreateTokenOptions> = {}): CreateTokenOptions {
  return { policies: ['app'], path: 'auth/token/create', displayName: 'token', ...overrides };
}

function keysUnder(storage: { entries: Map<string, Uint8Array> }, prefix: string): string[] {
  return [...storage.entries.keys()].filter((k) => k.startsWith(prefix));
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
    // ADR 0003: what secret scanners match.
    expect(token).toMatch(/^cfs\.[0-9A-Za-z]{44}$/);
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

  it("refuses custom ids with a '.', so none can pose as a cfs./cfb. token", async () => {
    const { tokens } = await store();
    for (const id of ['cfb.AAAA', 'cfs.x', 'a.b', 'has space']) {
      await expect(tokens.create(opts({ id }))).rejects.toMatchObject({ code: 'invalid_request' });
    }
  });
});

describe('sanitizePolicies', () => {
  it('trims, lower-cases, dedupes and sorts; root alone wins', () => {
    expect(sanitizePolicies([' B', 'a', 'A ', ''], false)).toEqual(['a', 'b']);
    expect(sanitizePolicies(['b'], true)).toEqual(['b', 'default']);
    expect(sanitizePolicies(['a', ' ROOT '], true)).toEqual(['root']);
  });
});

describe('token trees', () => {
  it('token revocation cascades to children: 3 levels, 200 grandchildren; orphans survive', async () => {
    const { tokens, storage } = await clockedStore();
    const parent = await tokens.create(opts());
    const unrelated = await tokens.create(opts());
    const orphanMadeByParent = await tokens.create(
      opts({ issuerExpiresAt: parent.entry.expiresAt! }),
    );
    const children: string[] = [];
    const grandchildren: string[] = [];
    const greatGrandchildren: string[] = [];
    for (let i = 0; i < 4; i++) {
      const child = await tokens.create(opts({ parentToken: parent.token }));
      children.push(child.token);
      for (let j = 0; j < 50; j++) {
        const grandchild = await tokens.create(opts({ parentToken: child.token }));
        grandchildren.push(grandchild.token);
        if (j < 2) {
          const great = await tokens.create(opts({ parentToken: grandchild.token }));
          greatGrandchildren.push(great.token);
        }
      }
    }
    expect(grandchildren).toHaveLength(200);
    const before = keysUnder(storage, TOKEN_KEYS.idPrefix).length;
    expect(before).toBe(3 + 4 + 200 + 8);

    await tokens.revoke(parent.token);

    for (const token of [parent.token, ...children, ...grandchildren, ...greatGrandchildren]) {
      expect(await tokens.lookup(token)).toBeUndefined();
    }
    expect(await tokens.lookup(unrelated.token)).toBeDefined();
    expect(await tokens.lookup(orphanMadeByParent.token)).toBeDefined();
    // Nothing of the subtree is left behind: entries, accessors, children index.
    expect(keysUnder(storage, TOKEN_KEYS.idPrefix)).toHaveLength(2);
    expect(keysUnder(storage, TOKEN_KEYS.accessorPrefix)).toHaveLength(2);
    expect(keysUnder(storage, TOKEN_KEYS.parentPrefix)).toHaveLength(0);
  });

  it('a token being revoked fails at once, and so does every descendant the walk has not reached', async () => {
    const { tokens } = await clockedStore();
    const parent = await tokens.create(opts());
    const child = await tokens.create(opts({ parentToken: parent.token }));
    const grandchild = await tokens.create(opts({ parentToken: child.token }));
    expect(await tokens.lookup(grandchild.token)).toBeDefined(); // cached now
    const revoking = tokens.revoke(parent.token);
    expect(await tokens.lookup(parent.token)).toBeUndefined();
    expect(await tokens.lookup(grandchild.token)).toBeUndefined();
    expect(await tokens.authenticate(child.token)).toBeUndefined();
    await revoking;
  });

  it('revokes a 300-deep chain without recursion', async () => {
    const { tokens, storage } = await clockedStore();
    const root = await tokens.create(opts());
    let last = root.token;
    for (let i = 0; i < 300; i++) last = (await tokens.create(opts({ parentToken: last }))).token;
    expect(await tokens.lookup(last)).toBeDefined();
    await tokens.revoke(root.token);
    expect(await tokens.lookup(last)).toBeUndefined();
    expect(keysUnder(storage, TOKEN_KEYS.idPrefix)).toHaveLength(0);
  });

  it('revokeOrphan keeps the children, now orphans, with their own children', async () => {
    const { tokens, storage } = await clockedStore();
    const parent = await tokens.create(opts());
    const a = await tokens.create(opts({ parentToken: parent.token }));
    const b = await tokens.create(opts({ parentToken: parent.token }));
    const grandchild = await tokens.create(opts({ parentToken: a.token }));
    expect(a.entry.orphan).toBe(false);
    expect(await tokens.revokeOrphan(parent.token)).toBe(true);
    expect(await tokens.lookup(parent.token)).toBeUndefined();
    for (const t of [a.token, b.token]) {
      const entry = await tokens.lookup(t);
      expect(entry?.orphan).toBe(true);
      expect(entry?.parent).toBeUndefined();
    }
    expect((await tokens.lookup(grandchild.token))?.orphan).toBe(false);
    expect(
      keysUnder(storage, `${TOKEN_KEYS.parentPrefix}${tokens.hashToken(parent.token)}/`),
    ).toEqual([]);
    // The former child is a real root of its own subtree now.
    await tokens.revoke(a.token);
    expect(await tokens.lookup(grandchild.token)).toBeUndefined();
    expect(await tokens.lookup(b.token)).toBeDefined();
    expect(await tokens.revokeOrphan('cfs.unknown')).toBe(false);
  });

  it("caps a child's TTL by its parent's remaining TTL, and the child dies with the parent", async () => {
    const { tokens, clock } = await clockedStore();
    const parent = await tokens.create(opts({ ttlSeconds: 100 }));
    clock.now += 40_000;
    const child = await tokens.create(opts({ parentToken: parent.token, ttlSeconds: 1000 }));
    expect(child.entry.ttlSeconds).toBe(60);
    expect(child.warnings.join(' ')).toContain('parent');
    const orphan = await tokens.create(opts({ ttlSeconds: 1000 }));
    expect(orphan.entry.ttlSeconds).toBe(1000);
    clock.now += 60_000;
    expect(await tokens.lookup(child.token)).toBeUndefined();
    expect(await tokens.lookup(parent.token)).toBeUndefined();
    expect(await tokens.lookup(orphan.token)).toBeDefined();
  });

  it('a parent that expires first takes its children along, found lazily on lookup', async () => {
    const { tokens, storage, clock } = await clockedStore();
    const parent = await tokens.create(opts({ ttlSeconds: 100 }));
    const child = await tokens.create(opts({ parentToken: parent.token, ttlSeconds: 100 }));
    await tokens.renew(parent.token, 10); // a shorter increment shortens the parent's life
    clock.now += 20_000;
    expect(await storage.get(TOKEN_KEYS.idPrefix + tokens.hashToken(child.token))).toBeDefined();
    expect(await tokens.lookup(child.token)).toBeUndefined();
    // The expired parent found on the way was deleted with its whole subtree.
    expect(await storage.get(TOKEN_KEYS.idPrefix + tokens.hashToken(parent.token))).toBeUndefined();
    expect(await storage.get(TOKEN_KEYS.idPrefix + tokens.hashToken(child.token))).toBeUndefined();
  });

  it('a child of a renewed parent stays alive, and an expired parent kills a longer-lived child', async () => {
    const { tokens, clock } = await clockedStore();
    const parent = await tokens.create(opts({ ttlSeconds: 100 }));
    const child = await tokens.create(opts({ parentToken: parent.token, ttlSeconds: 50 }));
    clock.now += 40_000;
    await tokens.renew(child.token, 80); // capped at the parent's 60 s left
    expect((await tokens.lookup(child.token))?.expiresAt).toBe(clock.now + 60_000);
    clock.now += 60_000;
    expect(await tokens.lookup(child.token)).toBeUndefined();
  });

  it('refuses children from use-limited, unknown and batch parents', async () => {
    const { tokens } = await clockedStore();
    const limited = await tokens.create(opts({ numUses: 2 }));
    await expect(tokens.create(opts({ parentToken: limited.token }))).rejects.toMatchObject({
      code: 'invalid_request',
      message: 'restricted use token cannot generate child tokens',
    });
    await expect(tokens.create(opts({ parentToken: 'cfs.nope' }))).rejects.toMatchObject({
      code: 'invalid_request',
      message: 'parent token lookup failed: no parent found',
    });
    const batch = await tokens.create(opts({ type: 'batch' }));
    await expect(tokens.create(opts({ parentToken: batch.token }))).rejects.toMatchObject({
      code: 'invalid_request',
      message: 'batch tokens cannot create more tokens',
    });
  });

  it('an expiring token cannot mint a token that never expires', async () => {
    const { tokens } = await clockedStore();
    const expiringRoot = await tokens.create(opts({ policies: ['root'], ttlSeconds: 100 }));
    expect(expiringRoot.entry.expiresAt).toBeDefined();
    await expect(
      tokens.create(opts({ policies: ['root'], parentToken: expiringRoot.token })),
    ).rejects.toMatchObject({
      code: 'invalid_request',
      message: 'expiring root tokens cannot create non-expiring root tokens',
    });
    await expect(
      tokens.create(opts({ policies: ['root'], issuerExpiresAt: expiringRoot.entry.expiresAt! })),
    ).rejects.toThrow('expiring root tokens cannot create non-expiring root tokens');
    const forever = await tokens.create(opts({ policies: ['root'] }));
    expect(forever.entry.expiresAt).toBeUndefined();
    expect(forever.entry.renewable).toBe(false);
  });
});

describe('cache', () => {
  it('a revoked child fails at once even though it was cached', async () => {
    const { tokens } = await clockedStore();
    const parent = await tokens.create(opts());
    const child = await tokens.create(opts({ parentToken: parent.token }));
    expect(await tokens.authenticate(child.token)).toBeDefined();
    await tokens.revoke(parent.token);
    expect(await tokens.authenticate(child.token)).toBeUndefined();
  });

  it('a read that started before a revocation never puts the revoked entry back in the cache', async () => {
    const inner = memoryStorage();
    let gate: Promise<void> | undefined;
    let release: () => void = () => undefined;
    const storage: Storage = {
      ...inner,
      get: async (key) => {
        const value = await inner.get(key);
        if (gate !== undefined && key.startsWith(TOKEN_KEYS.idPrefix)) {
          const wait = gate;
          gate = undefined;
          await wait;
        }
        return value;
      },
    };
    const tokens = new TokenStore({ storage, now: () => T0 });
    await tokens.open();
    const { token } = await tokens.create(opts());
    const fresh = new TokenStore({ storage, now: () => T0 }); // empty cache, same storage
    await fresh.open();
    gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow = fresh.lookup(token); // reads the entry, then waits at the gate
    await new Promise((resolve) => setImmediate(resolve));
    await fresh.revoke(token);
    release();
    await slow; // began before the revocation: may see the old entry
    expect(await fresh.lookup(token)).toBeUndefined();
  });
});

describe('use limits', () => {
  it('a token with num_uses N works exactly N times, and is revoked after its last use', async () => {
    const { tokens, storage } = await clockedStore();
    const { token } = await tokens.create(opts({ numUses: 3 }));
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) {
      const entry = await tokens.authenticate(token);
      expect(entry).toBeDefined();
      seen.push(entry!.numUses);
      if (i < 2) await tokens.completeUse(token, entry!);
      else {
        // During its last use it is already dead to every other request...
        expect(await tokens.lookup(token)).toBeUndefined();
        expect(await storage.get(TOKEN_KEYS.idPrefix + tokens.hashToken(token))).toBeDefined();
        // ...and gone once the use completes.
        await tokens.completeUse(token, entry!);
      }
    }
    expect(seen).toEqual([2, 1, -1]);
    expect(await tokens.authenticate(token)).toBeUndefined();
    expect(await storage.get(TOKEN_KEYS.idPrefix + tokens.hashToken(token))).toBeUndefined();
  });

  it('concurrent requests cannot overspend the uses', async () => {
    const { tokens } = await clockedStore();
    const { token } = await tokens.create(opts({ numUses: 3 }));
    const results = await Promise.all(Array.from({ length: 8 }, () => tokens.authenticate(token)));
    expect(results.filter((r) => r !== undefined)).toHaveLength(3);
  });

  it('lookup consumes no use', async () => {
    const { tokens } = await clockedStore();
    const { token } = await tokens.create(opts({ numUses: 1 }));
    for (let i = 0; i < 3; i++) expect((await tokens.lookup(token))?.numUses).toBe(1);
    expect((await tokens.authenticate(token))?.numUses).toBe(-1);
  });
});

describe('renewal', () => {
  it('caps an increment by the explicit max TTL, counted from creation', async () => {
    const { tokens, clock } = await clockedStore();
    const { token } = await tokens.create(opts({ ttlSeconds: 100, explicitMaxTtlSeconds: 300 }));
    clock.now += 50_000;
    const renewed = await tokens.renew(token, 1000);
    expect(renewed.ttlSeconds).toBe(250);
    expect(renewed.warnings.length).toBeGreaterThan(0);
    expect(renewed.entry.lastRenewalAt).toBe(clock.now);
    clock.now += 249_000;
    expect((await tokens.renew(token, 1000)).ttlSeconds).toBe(1);
    clock.now += 1_000;
    await expect(tokens.renew(token, 10)).rejects.toMatchObject({
      code: 'invalid_request',
      message: 'token not found',
    });
  });

  it('renews for the creation TTL when no increment is given', async () => {
    const { tokens, clock } = await clockedStore();
    const { token } = await tokens.create(opts({ ttlSeconds: 120 }));
    clock.now += 100_000;
    const renewed = await tokens.renew(token);
    expect(renewed.ttlSeconds).toBe(120);
    expect(renewed.entry.expiresAt).toBe(clock.now + 120_000);
  });

  it('renews a periodic token to its period whatever the increment, past the system max', async () => {
    const { tokens, clock } = await clockedStore({ max: 1000, def: 500 });
    const { token, entry } = await tokens.create(opts({ periodSeconds: 60, ttlSeconds: 5000 }));
    expect(entry.ttlSeconds).toBe(60);
    for (let i = 0; i < 30; i++) {
      clock.now += 50_000;
      expect((await tokens.renew(token, 5000)).ttlSeconds).toBe(60);
    }
    expect(clock.now - T0).toBeGreaterThan(1000 * 1000);
  });

  it('a periodic token with an explicit max stops at it', async () => {
    const { tokens, clock } = await clockedStore();
    const { token } = await tokens.create(opts({ periodSeconds: 60, explicitMaxTtlSeconds: 90 }));
    clock.now += 50_000;
    expect((await tokens.renew(token)).ttlSeconds).toBe(40);
  });

  it('applies the system default and maximum, and a role maximum', async () => {
    const { tokens, clock } = await clockedStore({ max: 1000, def: 300 });
    expect((await tokens.create(opts())).entry.ttlSeconds).toBe(300);
    const capped = await tokens.create(opts({ ttlSeconds: 5000 }));
    expect(capped.entry.ttlSeconds).toBe(1000);
    expect(capped.warnings.length).toBeGreaterThan(0);
    const roleCapped = await tokens.create(opts({ ttlSeconds: 100, maxTtlSeconds: 200 }));
    clock.now += 50_000;
    expect((await tokens.renew(roleCapped.token, 1000)).ttlSeconds).toBe(150);
  });

  it('refuses non-renewable, non-expiring and batch tokens', async () => {
    const { tokens } = await clockedStore();
    const fixed = await tokens.create(opts({ renewable: false }));
    await expect(tokens.renew(fixed.token)).rejects.toMatchObject({
      code: 'invalid_request',
      message: 'lease is not renewable',
    });
    const root = await tokens.create(opts({ policies: ['root'] }));
    await expect(tokens.renew(root.token)).rejects.toMatchObject({
      code: 'invalid_request',
      message: 'lease is not renewable',
    });
    const batch = await tokens.create(opts({ type: 'batch' }));
    await expect(tokens.renew(batch.token)).rejects.toMatchObject({
      code: 'invalid_request',
      message: 'batch tokens cannot be renewed',
    });
    await expect(tokens.renew('cfs.unknown')).rejects.toMatchObject({
      code: 'invalid_request',
      message: 'token not found',
    });
  });

  it('stops renewing tokens whose role was deleted', async () => {
    const { tokens } = await clockedStore();
    const { token } = await tokens.create(opts({ role: 'gone' }));
    await expect(tokens.renew(token)).rejects.toThrow('could not be found');
  });
});

describe('batch tokens', () => {
  it('work without being stored, listed or renewable', async () => {
    const { tokens, storage, clock } = await clockedStore();
    const keysBefore = storage.entries.size;
    const { token, entry } = await tokens.create(
      opts({ type: 'batch', ttlSeconds: 60, meta: { k: 'v' } }),
    );
    expect(token.startsWith(BATCH_TOKEN_PREFIX)).toBe(true);
    expect(entry).toMatchObject({ type: 'batch', accessor: '', renewable: false, orphan: true });
    expect(storage.entries.size).toBe(keysBefore);
    expect(await tokens.listAccessors()).toEqual([]);
    const found = await tokens.authenticate(token);
    expect(found).toMatchObject({ policies: ['app'], meta: { k: 'v' }, type: 'batch' });
    await expect(tokens.revoke(token)).rejects.toMatchObject({
      code: 'invalid_request',
      message: 'batch tokens cannot be revoked',
    });
    clock.now += 60_000;
    expect(await tokens.lookup(token)).toBeUndefined();
  });

  it('any tampering makes a batch token invalid', async () => {
    const { tokens } = await clockedStore();
    const { token } = await tokens.create(opts({ type: 'batch' }));
    const body = token.slice(BATCH_TOKEN_PREFIX.length);
    const flip = (i: number): string => {
      const c = body[i] === 'A' ? 'B' : 'A';
      return BATCH_TOKEN_PREFIX + body.slice(0, i) + c + body.slice(i + 1);
    };
    for (const i of [0, 5, Math.floor(body.length / 2), body.length - 3]) {
      expect(await tokens.lookup(flip(i))).toBeUndefined();
    }
    expect(await tokens.lookup(token.slice(0, -4))).toBeUndefined();
    expect(await tokens.lookup(`${BATCH_TOKEN_PREFIX}!!!`)).toBeUndefined();
    expect(await tokens.lookup(BATCH_TOKEN_PREFIX)).toBeUndefined();
    const other = await store();
    expect(await other.tokens.lookup(token)).toBeUndefined();
    expect(await tokens.lookup(token)).toBeDefined();
  });

  it('a batch child dies with its service parent', async () => {
    const { tokens } = await clockedStore();
    const parent = await tokens.create(opts());
    const child = await tokens.create(opts({ type: 'batch', parentToken: parent.token }));
    expect(child.entry.orphan).toBe(false);
    expect(await tokens.lookup(child.token)).toBeDefined();
    await tokens.revoke(parent.token);
    expect(await tokens.lookup(child.token)).toBeUndefined();
  });

  it('refuses root, use limits, periods, explicit max and custom ids', async () => {
    const { tokens } = await clockedStore();
    const batch = (o: Partial<CreateTokenOptions>) => tokens.create(opts({ type: 'batch', ...o }));
    await expect(batch({ policies: [' Root'] })).rejects.toThrow(
      'batch tokens cannot be root tokens',
    );
    await expect(batch({ numUses: 1 })).rejects.toMatchObject({ field: 'num_uses' });
    await expect(batch({ periodSeconds: 10 })).rejects.toMatchObject({ field: 'period' });
    await expect(batch({ explicitMaxTtlSeconds: 10 })).rejects.toMatchObject({
      field: 'explicit_max_ttl',
    });
    await expect(batch({ id: 'abc' })).rejects.toMatchObject({ field: 'id' });
  });
});

describe('bound CIDRs', () => {
  it('a bound token works only from inside its CIDRs, never from an unknown address', async () => {
    const { tokens } = await clockedStore();
    const { token } = await tokens.create(opts({ boundCidrs: ['10.0.0.0/8', '2001:db8::/32'] }));
    expect(await tokens.authenticate(token, { remoteAddress: '10.1.2.3' })).toBeDefined();
    expect(await tokens.authenticate(token, { remoteAddress: '::ffff:10.1.2.3' })).toBeDefined();
    expect(await tokens.authenticate(token, { remoteAddress: '2001:db8::5' })).toBeDefined();
    expect(await tokens.authenticate(token, { remoteAddress: '11.0.0.1' })).toBeUndefined();
    expect(await tokens.authenticate(token)).toBeUndefined();
    const open = await tokens.create(opts());
    expect(await tokens.authenticate(open.token)).toBeDefined();
  });

  it('normalises and validates CIDRs', () => {
    expect(normaliseCidr(' 10.0.0.1 ', 'f')).toBe('10.0.0.1/32');
    expect(normaliseCidr('::1', 'f')).toBe('::1/128');
    expect(() => normaliseCidr('10.0.0.0/33', 'f')).toThrow();
    expect(() => normaliseCidr('nope', 'f')).toThrow();
    expect(addressAllowed([], undefined)).toBe(true);
    expect(addressAllowed(['127.0.0.1/32'], 'garbage')).toBe(false);
  });
});

describe('accessors', () => {
  it('act on exactly the token that owns the accessor', async () => {
    const { tokens } = await clockedStore();
    const a = await tokens.create(opts({ displayName: 'a' }));
    const b = await tokens.create(opts({ displayName: 'b' }));
    expect((await tokens.lookupByAccessor(b.entry.accessor))?.displayName).toBe('b');
    expect(new Set(await tokens.listAccessors())).toEqual(
      new Set([a.entry.accessor, b.entry.accessor]),
    );
    expect(await tokens.revokeByAccessor(b.entry.accessor)).toBe(true);
    expect(await tokens.lookup(b.token)).toBeUndefined();
    expect(await tokens.lookup(a.token)).toBeDefined();
    expect(await tokens.revokeByAccessor(b.entry.accessor)).toBe(false);
    for (const bad of ['', '../id/x', 'a/b', b.entry.accessor]) {
      expect(await tokens.lookupByAccessor(bad)).toBeUndefined();
      await expect(tokens.renewByAccessor(bad)).rejects.toMatchObject({
        code: 'invalid_request',
        message: 'invalid accessor',
      });
    }
  });

  it('an accessor index pointing at another token reaches nothing', async () => {
    const { tokens, storage } = await clockedStore();
    const victim = await tokens.create(opts());
    // Simulate a corrupt or stale index entry: a made-up accessor pointing at the victim.
    await storage.put(
      `${TOKEN_KEYS.accessorPrefix}Forged00000000000000000`,
      Buffer.from(JSON.stringify({ hash: tokens.hashToken(victim.token) })),
    );
    expect(await tokens.lookupByAccessor('Forged00000000000000000')).toBeUndefined();
    expect(await tokens.revokeByAccessor('Forged00000000000000000')).toBe(false);
    await expect(tokens.renewByAccessor('Forged00000000000000000')).rejects.toThrow(
      'invalid accessor',
    );
    expect(await tokens.lookup(victim.token)).toBeDefined();
  });
});

describe('tidy', () => {
  it('removes dangling index entries and revokes dead tokens', async () => {
    const { tokens, storage, clock } = await clockedStore();
    const live = await tokens.create(opts({ ttlSeconds: 1000 }));
    const expiring = await tokens.create(opts({ ttlSeconds: 10 }));
    const parent = await tokens.create(opts());
    const child = await tokens.create(opts({ parentToken: parent.token }));
    const usedUp = await tokens.create(opts({ numUses: 1 }));
    await tokens.authenticate(usedUp.token); // last use, completeUse never called
    // A crash left the parent's entry deleted but not its child, and two dangling indices.
    await storage.delete(TOKEN_KEYS.idPrefix + tokens.hashToken(parent.token));
    await storage.put(
      `${TOKEN_KEYS.accessorPrefix}Dangling0000000000000000`,
      Buffer.from('{"hash":"00"}'),
    );
    await storage.put(
      `${TOKEN_KEYS.parentPrefix}${tokens.hashToken(live.token)}/${'f'.repeat(64)}`,
      Buffer.from('{}'),
    );
    clock.now += 20_000;

    const counts = await tokens.tidy();
    expect(counts.tokensRevoked).toBe(3); // expiring, child, usedUp
    expect(counts.parentEntriesDeleted).toBe(1);
    expect(counts.accessorsDeleted).toBe(2); // the dangling one and the crashed parent's
    expect(await tokens.lookup(live.token)).toBeDefined();
    for (const t of [expiring.token, child.token, usedUp.token]) {
      expect(await storage.get(TOKEN_KEYS.idPrefix + tokens.hashToken(t))).toBeUndefined();
    }
    expect(keysUnder(storage, TOKEN_KEYS.parentPrefix)).toEqual([]);
    expect(await tokens.listAccessors()).toEqual([live.entry.accessor]);
    const again = await tokens.tidy();
    expect(again).toMatchObject({ tokensRevoked: 0, parentEntriesDeleted: 0, accessorsDeleted: 0 });
  });
});

describe('roles', () => {
  it('stores, lists and deletes roles; refuses bad names', async () => {
    const { tokens } = await clockedStore();
    const role = { ...defaultRole('ci'), allowedPolicies: ['a'] };
    await tokens.putRole(role);
    expect(await tokens.getRole('ci')).toEqual(role);
    expect(await tokens.listRoles()).toEqual(['ci']);
    await tokens.deleteRole('ci');
    expect(await tokens.getRole('ci')).toBeUndefined();
    await expect(tokens.getRole('../x')).rejects.toMatchObject({ field: 'role_name' });
  });
});

// ---------------------------------------------------------------------------------------
// Mutation-testing follow-ups (bench/mutation/mut-token-store.md): each test below was seen
// failing with the mutant it guards against planted by hand.

/** Seals `plaintext` as ADR 0003 lays out a batch token, under `storage`'s salt. */
async function sealAsBatch(storage: Storage, plaintext: string, version = 1): Promise<string> {
  const salt = await storage.get(TOKEN_KEYS.salt);
  const key = Buffer.from(
    hkdfSync('sha256', salt!, Buffer.alloc(0), 'coffer batch token key v1', 32),
  );
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from('coffer batch token v1', 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const raw = Buffer.concat([Buffer.of(version), iv, body, cipher.getAuthTag()]);
  return BATCH_TOKEN_PREFIX + raw.toString('base64url');
}

describe('system TTLs', () => {
  it('the default TTL is capped by the maximum; both default to 32 days', () => {
    const storage = memoryStorage();
    const capped = new TokenStore({
      storage,
      now: () => T0,
      defaultLeaseTtlSeconds: 500,
      maxLeaseTtlSeconds: 100,
    });
    expect(capped.defaultLeaseTtlSeconds).toBe(100);
    expect(capped.maxLeaseTtlSeconds).toBe(100);
    const lower = new TokenStore({
      storage,
      now: () => T0,
      defaultLeaseTtlSeconds: 1,
      maxLeaseTtlSeconds: 1,
    });
    expect(lower.defaultLeaseTtlSeconds).toBe(1);
    expect(lower.maxLeaseTtlSeconds).toBe(1);
    const defaults = new TokenStore({ storage, now: () => T0 });
    expect(defaults.defaultLeaseTtlSeconds).toBe(DEFAULT_SYSTEM_TTL_SECONDS);
    expect(defaults.maxLeaseTtlSeconds).toBe(DEFAULT_SYSTEM_TTL_SECONDS);
    expect(DEFAULT_SYSTEM_TTL_SECONDS).toBe(32 * 24 * 3600);
  });

  it('refuses a default or maximum TTL that is not a positive whole number of seconds', () => {
    const storage = memoryStorage();
    for (const bad of [0, -1, 1.5, Number.NaN, 2 ** 53]) {
      for (const ttls of [{ maxLeaseTtlSeconds: bad }, { defaultLeaseTtlSeconds: bad }]) {
        expect(() => new TokenStore({ storage, now: () => T0, ...ttls })).toThrow(
          expect.objectContaining({
            code: 'internal',
            message: 'token store: lease TTLs must be positive whole seconds',
          }),
        );
      }
    }
  });
});

describe('salt and HMAC storage keys', () => {
  it('stores a token only under HMAC-SHA256(salt, token), with its accessor indexed to that hash', async () => {
    const { tokens, storage } = await clockedStore();
    const salt = await storage.get(TOKEN_KEYS.salt);
    expect(salt).toHaveLength(32);
    const { token, entry } = await tokens.create(opts());
    const hash = createHmac('sha256', Buffer.from(salt!)).update(token, 'utf8').digest('hex');
    expect(tokens.hashToken(token)).toBe(hash);
    expect(await storage.get(TOKEN_KEYS.idPrefix + hash)).toBeDefined();
    const index = await storage.get(TOKEN_KEYS.accessorPrefix + entry.accessor);
    expect(JSON.parse(Buffer.from(index!).toString('utf8'))).toEqual({ hash });
  });

  it('a store that opens an existing view keeps its salt', async () => {
    const { storage } = await clockedStore();
    const salt = Buffer.from((await storage.get(TOKEN_KEYS.salt))!);
    await store(undefined, storage);
    expect(Buffer.from((await storage.get(TOKEN_KEYS.salt))!).equals(salt)).toBe(true);
  });

  it('close forgets the salt, the batch key and the cache; open brings back only what is stored', async () => {
    const { tokens, storage } = await clockedStore();
    const kept = await tokens.create(opts());
    const dropped = await tokens.create(opts());
    const batch = await tokens.create(opts({ type: 'batch' }));
    expect(await tokens.lookup(dropped.token)).toBeDefined(); // cached
    tokens.close();
    tokens.close(); // twice is harmless
    expect(() => tokens.hashToken(kept.token)).toThrow(
      expect.objectContaining({ code: 'sealed', message: 'Vault is sealed' }),
    );
    await expect(tokens.lookup(batch.token)).rejects.toMatchObject({ code: 'sealed' });
    await expect(tokens.create(opts({ type: 'batch' }))).rejects.toMatchObject({
      code: 'sealed',
      message: 'Vault is sealed',
    });
    // Changed behind the store's back while it was sealed: the cache must not answer for it.
    const droppedHash = createHmac('sha256', Buffer.from((await storage.get(TOKEN_KEYS.salt))!))
      .update(dropped.token, 'utf8')
      .digest('hex');
    await storage.delete(TOKEN_KEYS.idPrefix + droppedHash);
    await tokens.open();
    expect(await tokens.lookup(kept.token)).toBeDefined();
    expect(await tokens.lookup(batch.token)).toBeDefined();
    expect(await tokens.lookup(dropped.token)).toBeUndefined();
  });

  it('closing a store that never opened is harmless, and it is sealed', () => {
    const tokens = new TokenStore({ storage: memoryStorage(), now: () => T0 });
    tokens.close();
    expect(() => tokens.hashToken('x')).toThrow('Vault is sealed');
  });
});

describe('entries as created', () => {
  it('a plain service token has exactly these fields', async () => {
    const { tokens } = await clockedStore({ max: 1000, def: 300 });
    const { entry, warnings } = await tokens.create(opts({ policies: [' B', 'a'] }));
    expect(warnings).toEqual([]);
    expect(entry).toStrictEqual({
      accessor: entry.accessor,
      policies: ['a', 'b'],
      path: 'auth/token/create',
      displayName: 'token',
      meta: null,
      createdAt: T0,
      ttlSeconds: 300,
      explicitMaxTtlSeconds: 0,
      maxTtlSeconds: 0,
      periodSeconds: 0,
      expiresAt: T0 + 300_000,
      numUses: 0,
      renewable: true,
      orphan: true,
      type: 'service',
    });
    expect(entry.accessor).toMatch(/^[0-9A-Za-z]{24}$/);
  });

  it('a child, with role, CIDRs, entity, meta and limits, keeps each of them', async () => {
    const { tokens } = await clockedStore();
    const parent = await tokens.create(opts({ ttlSeconds: 1000 }));
    const meta = { team: 'a' };
    const { entry } = await tokens.create(
      opts({
        parentToken: parent.token,
        ttlSeconds: 100,
        explicitMaxTtlSeconds: 500,
        maxTtlSeconds: 400,
        numUses: 3,
        renewable: false,
        role: 'ci',
        boundCidrs: [' 10.0.0.0/08 '],
        entityId: 'entity-1',
        meta,
      }),
    );
    meta.team = 'changed';
    expect(entry).toStrictEqual({
      accessor: entry.accessor,
      policies: ['app'],
      path: 'auth/token/create',
      displayName: 'token',
      meta: { team: 'a' },
      createdAt: T0,
      ttlSeconds: 100,
      explicitMaxTtlSeconds: 500,
      maxTtlSeconds: 400,
      periodSeconds: 0,
      expiresAt: T0 + 100_000,
      numUses: 3,
      renewable: false,
      orphan: false,
      parent: tokens.hashToken(parent.token),
      type: 'service',
      role: 'ci',
      boundCidrs: ['10.0.0.0/8'],
      entityId: 'entity-1',
    });
  });

  it('an explicit null meta and an empty entity id are stored as none', async () => {
    const { tokens } = await clockedStore();
    const { entry } = await tokens.create(opts({ meta: null, entityId: '' }));
    expect(entry.meta).toBeNull();
    expect('entityId' in entry).toBe(false);
  });

  it('a root token with an explicit max TTL expires at it and is renewable; without, never', async () => {
    const { tokens } = await clockedStore();
    const bounded = await tokens.create(opts({ policies: ['root'], explicitMaxTtlSeconds: 100 }));
    expect(bounded.entry).toMatchObject({ ttlSeconds: 100, expiresAt: T0 + 100_000 });
    expect(bounded.entry.renewable).toBe(true);
    const asked = await tokens.create(opts({ policies: ['root'], ttlSeconds: 50 }));
    expect(asked.entry).toMatchObject({ ttlSeconds: 50, expiresAt: T0 + 50_000 });
    const over = await tokens.create(opts({ policies: ['root'], ttlSeconds: 5_000_000 }));
    expect(over.entry.ttlSeconds).toBe(DEFAULT_SYSTEM_TTL_SECONDS);
    const periodic = await tokens.create(opts({ policies: ['root'], periodSeconds: 70 }));
    expect(periodic.entry).toMatchObject({ ttlSeconds: 70, periodSeconds: 70 });
  });

  it('neverExpires makes a token of any policy that never expires and cannot be renewed', async () => {
    const { tokens, clock } = await clockedStore({ max: 100, def: 100 });
    const { token, entry } = await tokens.create(opts({ neverExpires: true }));
    expect(entry.ttlSeconds).toBe(0);
    expect(entry.expiresAt).toBeUndefined();
    expect(entry.renewable).toBe(false);
    clock.now += 10_000_000;
    expect(await tokens.lookup(token)).toBeDefined();
  });
});

describe('TTL bounds', () => {
  it('a backend maximum above the system maximum, or 0, does not raise it', async () => {
    const { tokens } = await clockedStore({ max: 1000, def: 300 });
    const above = await tokens.create(opts({ ttlSeconds: 5000, maxTtlSeconds: 2000 }));
    expect(above.entry.ttlSeconds).toBe(1000);
    expect(above.warnings).toEqual([
      'TTL of 5000s exceeded the effective max_ttl of 1000s; TTL value is capped accordingly',
    ]);
    const explicitAbove = await tokens.create(
      opts({ ttlSeconds: 5000, explicitMaxTtlSeconds: 2000 }),
    );
    expect(explicitAbove.entry.ttlSeconds).toBe(1000);
    const exact = await tokens.create(opts({ ttlSeconds: 1000 }));
    expect(exact.entry.ttlSeconds).toBe(1000);
    expect(exact.warnings).toEqual([]);
  });

  it('the explicit max TTL caps the creation TTL, below both other maxima', async () => {
    const { tokens } = await clockedStore({ max: 1000, def: 300 });
    const { entry, warnings } = await tokens.create(
      opts({ ttlSeconds: 900, maxTtlSeconds: 800, explicitMaxTtlSeconds: 200 }),
    );
    expect(entry.ttlSeconds).toBe(200);
    expect(warnings).toEqual([
      'TTL of 900s exceeded the effective max_ttl of 200s; TTL value is capped accordingly',
    ]);
    const backend = await tokens.create(opts({ ttlSeconds: 900, maxTtlSeconds: 800 }));
    expect(backend.entry.ttlSeconds).toBe(800);
  });

  it('a period above the maximum is capped to it, with a warning; a period equal to it is not', async () => {
    const { tokens } = await clockedStore({ max: 1000, def: 300 });
    const capped = await tokens.create(opts({ periodSeconds: 2000 }));
    expect(capped.entry).toMatchObject({ ttlSeconds: 1000, periodSeconds: 1000 });
    expect(capped.warnings).toEqual([
      'period of 2000s exceeded the effective max_ttl of 1000s; period value is capped accordingly',
    ]);
    const equal = await tokens.create(opts({ periodSeconds: 1000 }));
    expect(equal.entry).toMatchObject({ ttlSeconds: 1000, periodSeconds: 1000 });
    expect(equal.warnings).toEqual([]);
    const byRole = await tokens.create(opts({ periodSeconds: 600, maxTtlSeconds: 500 }));
    expect(byRole.entry.periodSeconds).toBe(500);
  });

  it('a periodic token with an explicit max cannot renew once less than a second is left', async () => {
    const { tokens, clock } = await clockedStore();
    const { token } = await tokens.create(opts({ periodSeconds: 60, explicitMaxTtlSeconds: 90 }));
    clock.now += 50_000;
    const renewed = await tokens.renew(token);
    expect(renewed.ttlSeconds).toBe(40);
    expect(renewed.warnings).toEqual([
      'TTL of 60s exceeded the effective max_ttl of 40s; TTL value is capped accordingly',
    ]);
    clock.now += 39_500;
    await expect(tokens.renew(token)).rejects.toMatchObject({
      code: 'invalid_request',
      message: 'past the max TTL, cannot renew',
    });
  });

  it('a periodic token without an explicit max is not bounded by its creation time', async () => {
    const { tokens, clock } = await clockedStore({ max: 100, def: 100 });
    const { token } = await tokens.create(opts({ periodSeconds: 60 }));
    clock.now += 59_000;
    expect((await tokens.renew(token)).warnings).toEqual([]);
    clock.now += 59_000;
    expect((await tokens.renew(token)).ttlSeconds).toBe(60);
  });

  it('refuses negative or fractional seconds, naming the field', async () => {
    const { tokens } = await clockedStore();
    const cases: [Partial<CreateTokenOptions>, string][] = [
      [{ numUses: -1 }, 'num_uses'],
      [{ numUses: 1.5 }, 'num_uses'],
      [{ periodSeconds: -1 }, 'period'],
      [{ explicitMaxTtlSeconds: -1 }, 'explicit_max_ttl'],
      [{ ttlSeconds: -1 }, 'ttl'],
      [{ maxTtlSeconds: 2 ** 53 }, 'max_ttl'],
    ];
    for (const [o, field] of cases) {
      await expect(tokens.create(opts(o))).rejects.toMatchObject({
        code: 'invalid_request',
        field,
        message: `${field}: must be a non-negative whole number of seconds`,
      });
    }
    const { token } = await tokens.create(opts());
    await expect(tokens.renew(token, -5)).rejects.toMatchObject({
      field: 'increment',
      message: 'increment: must be a non-negative whole number of seconds',
    });
  });

  it("a child is capped by its parent's remaining TTL, and refused when under a second is left", async () => {
    const { tokens, clock } = await clockedStore();
    const parent = await tokens.create(opts({ ttlSeconds: 100 }));
    clock.now += 40_000;
    const capped = await tokens.create(opts({ parentToken: parent.token, ttlSeconds: 1000 }));
    expect(capped.warnings).toEqual([
      "TTL of 1000s exceeded the parent token's remaining TTL; capped to 60s",
    ]);
    const equal = await tokens.create(opts({ parentToken: parent.token, ttlSeconds: 60 }));
    expect(equal.warnings).toEqual([]);
    expect(equal.entry.ttlSeconds).toBe(60);
    clock.now += 59_500;
    await expect(tokens.create(opts({ parentToken: parent.token }))).rejects.toMatchObject({
      code: 'invalid_request',
      message: 'parent token lookup failed: no parent found',
    });
  });

  it("a renewal is capped by the parent's remaining TTL, and refused when under a second is left", async () => {
    const { tokens, clock } = await clockedStore();
    const parent = await tokens.create(opts({ ttlSeconds: 100 }));
    const child = await tokens.create(opts({ parentToken: parent.token, ttlSeconds: 50 }));
    clock.now += 40_000;
    const renewed = await tokens.renew(child.token, 80);
    expect(renewed.ttlSeconds).toBe(60);
    expect(renewed.warnings).toEqual([
      "TTL of 80s exceeded the parent token's remaining TTL; capped to 60s",
    ]);
    expect((await tokens.renew(child.token, 60)).warnings).toEqual([]);
    clock.now += 59_500;
    await expect(tokens.renew(child.token)).rejects.toMatchObject({
      code: 'invalid_request',
      message: 'token not found',
    });
    await expect(tokens.renewByAccessor(child.entry.accessor)).rejects.toMatchObject({
      code: 'invalid_request',
      message: 'invalid accessor',
    });
  });
});

describe('renewal and revocation hooks', () => {
  it('onWritten sees every stored or renewed service token, onDeleted every deleted one', async () => {
    const clock = { now: T0 };
    const events: string[] = [];
    const tokens = new TokenStore({
      storage: memoryStorage(),
      now: () => clock.now,
      onWritten: (hash, entry) => {
        events.push(`written ${hash} ${entry.expiresAt}`);
        return Promise.resolve();
      },
      onDeleted: (hash, entry) => {
        events.push(`deleted ${hash} ${entry.displayName}`);
        return Promise.resolve();
      },
    });
    await tokens.open();
    const parent = await tokens.create(opts({ displayName: 'p', ttlSeconds: 100 }));
    const child = await tokens.create(opts({ displayName: 'c', parentToken: parent.token }));
    await tokens.create(opts({ type: 'batch' }));
    clock.now += 10_000;
    await tokens.renew(parent.token, 200);
    const ph = tokens.hashToken(parent.token);
    const ch = tokens.hashToken(child.token);
    await tokens.revoke(parent.token);
    expect(events).toEqual([
      `written ${ph} ${T0 + 100_000}`,
      `written ${ch} ${T0 + 100_000}`,
      `written ${ph} ${clock.now + 200_000}`,
      `deleted ${ch} c`,
      `deleted ${ph} p`,
    ]);
  });
});

describe('custom ids and roles', () => {
  it('a custom id is 1 to 512 printable ASCII characters without a dot; each refusal says why', async () => {
    const { tokens } = await clockedStore();
    for (const id of ['a', 'x'.repeat(512), '!~', 'A-Z_0:9']) {
      expect((await tokens.create(opts({ id }))).token).toBe(id);
      expect(await tokens.lookup(id)).toBeDefined();
    }
    const lengthMessage = 'id: token ids must be 1 to 512 characters';
    const asciiMessage = 'id: custom token ids must be printable ASCII without spaces';
    const cases: [string, string][] = [
      ['', lengthMessage],
      ['y'.repeat(513), lengthMessage],
      ['a.b', "id: custom token ids cannot contain '.'"],
      [' a', asciiMessage],
      ['a ', asciiMessage],
      ['tab\tx', asciiMessage],
      ['é', asciiMessage],
      ['\x7f', asciiMessage],
    ];
    for (const [id, message] of cases) {
      await expect(tokens.create(opts({ id }))).rejects.toMatchObject({
        code: 'invalid_request',
        field: 'id',
        message,
      });
    }
    await expect(tokens.create(opts({ id: 'a' }))).rejects.toMatchObject({
      field: 'id',
      message: 'id: a token with this id already exists',
    });
  });

  it('batch refusals name the field and say why', async () => {
    const { tokens } = await clockedStore();
    const batch = (o: Partial<CreateTokenOptions>) => tokens.create(opts({ type: 'batch', ...o }));
    await expect(batch({ id: 'abc' })).rejects.toMatchObject({
      message: 'id: batch tokens cannot have a custom id',
    });
    await expect(batch({ policies: ['root'] })).rejects.toMatchObject({
      code: 'invalid_request',
      message: 'batch tokens cannot be root tokens',
    });
    await expect(batch({ numUses: 1 })).rejects.toMatchObject({
      message: 'num_uses: batch tokens cannot have "num_uses" set',
    });
    await expect(batch({ periodSeconds: 10 })).rejects.toMatchObject({
      message: 'period: batch tokens cannot have "period" set',
    });
    await expect(batch({ explicitMaxTtlSeconds: 10 })).rejects.toMatchObject({
      message: 'explicit_max_ttl: batch tokens cannot have "explicit_max_ttl" set',
    });
    // The checks are for batch tokens only.
    const service = await tokens.create(opts({ numUses: 1, periodSeconds: 10, id: 'svc' }));
    expect(service.entry.numUses).toBe(1);
  });

  it('role names are 1 to 128 word characters, dots and dashes, ending in a letter or digit', async () => {
    const { tokens, storage } = await clockedStore();
    for (const name of ['a', '9', 'r'.repeat(128), 'a-b.c_d']) {
      await tokens.putRole(defaultRole(name));
      expect((await tokens.getRole(name))?.name).toBe(name);
    }
    const refusal = {
      code: 'invalid_request',
      field: 'role_name',
      message:
        'role_name: must be 1 to 128 letters, digits, "_", "-" or ".", starting and ending with a letter or digit',
    };
    for (const name of ['', 'r'.repeat(129), '.a', 'a.', '-a', 'a-', 'a/b', 'a b', 'é']) {
      await expect(tokens.getRole(name)).rejects.toMatchObject(refusal);
      await expect(tokens.putRole(defaultRole(name))).rejects.toMatchObject(refusal);
      await expect(tokens.deleteRole(name)).rejects.toMatchObject(refusal);
    }
    await storage.put(`${TOKEN_KEYS.rolePrefix}folder/inner`, Buffer.from('{}'));
    expect(await tokens.listRoles()).toEqual(['9', 'a', 'a-b.c_d', 'r'.repeat(128)]);
  });

  it('a token whose role still exists renews', async () => {
    const { tokens } = await clockedStore();
    await tokens.putRole(defaultRole('ci'));
    const { token } = await tokens.create(opts({ role: 'ci', ttlSeconds: 100 }));
    expect((await tokens.renew(token, 50)).ttlSeconds).toBe(50);
  });

  it('renewal names the role it could not find', async () => {
    const { tokens } = await clockedStore();
    const { token } = await tokens.create(opts({ role: 'gone' }));
    await expect(tokens.renew(token)).rejects.toMatchObject({
      code: 'invalid_request',
      message: 'original token role "gone" could not be found, not renewing',
    });
  });
});

describe('bound CIDRs: parsing and matching', () => {
  it('normaliseCidr: prefixes up to the family width, leading zeros dropped; each refusal says why', () => {
    expect(normaliseCidr('10.0.0.0/32', 'f')).toBe('10.0.0.0/32');
    expect(normaliseCidr(' 10.0.0.0/008 ', 'f')).toBe('10.0.0.0/8');
    expect(normaliseCidr('10.0.0.0/0', 'f')).toBe('10.0.0.0/0');
    expect(normaliseCidr('2001:db8::/128', 'f')).toBe('2001:db8::/128');
    expect(normaliseCidr('2001:db8::/33', 'f')).toBe('2001:db8::/33');
    for (const bad of [
      '10.0.0.0/',
      '10.0.0.0/x',
      '10.0.0.0/1x',
      '10.0.0.0/x1',
      '10.0.0.0/0008',
      '10.0.0.0/33',
      '10.0.0.0/-1',
      '2001:db8::/129',
    ]) {
      expect(() => normaliseCidr(bad, 'f')).toThrow(
        expect.objectContaining({
          code: 'invalid_request',
          field: 'f',
          message: 'f: has a CIDR block with an invalid prefix length',
        }),
      );
    }
    for (const bad of ['nope', '', '10.0.0/8', '/8', '10.0.0.256']) {
      expect(() => normaliseCidr(bad, 'f')).toThrow(
        expect.objectContaining({
          field: 'f',
          message: 'f: must be a list of IP addresses or CIDR blocks',
        }),
      );
    }
  });

  it('token creation validates and normalises bound CIDRs under token_bound_cidrs', async () => {
    const { tokens } = await clockedStore();
    await expect(tokens.create(opts({ boundCidrs: ['10.0.0.0/8', 'x'] }))).rejects.toMatchObject({
      field: 'token_bound_cidrs',
    });
    const { entry } = await tokens.create(opts({ boundCidrs: ['10.1.2.3', '::1'] }));
    expect(entry.boundCidrs).toEqual(['10.1.2.3/32', '::1/128']);
  });

  it('addressAllowed: trims, drops an IPv6 zone, unwraps IPv4-mapped addresses, skips unusable entries', () => {
    expect(addressAllowed(['10.0.0.0/8'], ' 10.1.2.3 ')).toBe(true);
    expect(addressAllowed(['fe80::/10'], 'fe80::1%eth0')).toBe(true);
    expect(addressAllowed(['10.0.0.0/8'], '::FFFF:10.1.2.3')).toBe(true);
    expect(addressAllowed(['10.0.0.0/8'], '::ffff:11.1.2.3')).toBe(false);
    expect(addressAllowed(['garbage/8', '10.0.0.0/8'], '10.0.0.1')).toBe(true);
    expect(addressAllowed(['2001:db8::/32'], '10.0.0.1')).toBe(false);
    expect(addressAllowed(['2001:db8::/32'], '2001:db8::1')).toBe(true);
    expect(addressAllowed(['10.0.0.0/8'], '2001:db8::1')).toBe(false);
    expect(addressAllowed(['10.0.0.0/8'], '')).toBe(false);
    expect(addressAllowed(['10.0.0.0/8'], undefined)).toBe(false);
  });

  it('addressAllowed fails closed on stored entries normaliseCidr would not write', () => {
    // No prefix: the one address, never /0 (every address).
    expect(addressAllowed(['10.0.0.1'], '10.0.0.1')).toBe(true);
    expect(addressAllowed(['10.0.0.1'], '10.0.0.2')).toBe(false);
    expect(addressAllowed(['2001:db8::1'], '2001:db8::2')).toBe(false);
    // A malformed prefix allows nothing.
    for (const entry of ['10.0.0.0/', '10.0.0.0/x', '10.0.0.0/33', '10.0.0.0/-1', '10.0.0.0/1.5']) {
      expect(addressAllowed([entry], '10.0.0.1')).toBe(false);
    }
    expect(addressAllowed(['::/129'], '::1')).toBe(false);
  });

  it('a bound token refused from outside its CIDRs spends no use', async () => {
    const { tokens } = await clockedStore();
    const { token } = await tokens.create(opts({ numUses: 2, boundCidrs: ['10.0.0.0/8'] }));
    expect(await tokens.authenticate(token, { remoteAddress: '11.0.0.1' })).toBeUndefined();
    expect((await tokens.lookup(token))?.numUses).toBe(2);
    expect((await tokens.authenticate(token, { remoteAddress: '10.0.0.1' }))?.numUses).toBe(1);
  });
});

describe('use counts', () => {
  it('a spent use is stored and seen at once, by this store and by a fresh one', async () => {
    const { tokens, storage } = await clockedStore();
    const { token } = await tokens.create(opts({ numUses: 3 }));
    expect((await tokens.authenticate(token))?.numUses).toBe(2);
    expect((await tokens.lookup(token))?.numUses).toBe(2);
    const fresh = await store(() => T0, storage);
    expect((await fresh.tokens.lookup(token))?.numUses).toBe(2);
  });

  it('completeUse revokes the token (with its subtree) only after its last use', async () => {
    const { tokens, storage } = await clockedStore();
    const { token, entry } = await tokens.create(opts());
    await tokens.completeUse(token, entry);
    await tokens.completeUse(token, { ...entry, numUses: 2 });
    expect(await tokens.lookup(token)).toBeDefined();
    await tokens.completeUse(token, { ...entry, numUses: -1 });
    expect(await storage.get(TOKEN_KEYS.idPrefix + tokens.hashToken(token))).toBeUndefined();
  });
});

describe('revocation edges', () => {
  it('revokeHash takes a lower-case hex token hash and refuses anything else', async () => {
    const { tokens } = await clockedStore();
    const parent = await tokens.create(opts());
    const child = await tokens.create(opts({ parentToken: parent.token }));
    const hash = tokens.hashToken(parent.token);
    for (const bad of ['xyz', hash.toUpperCase(), `${hash}0`, `0${hash}`, hash.slice(1)]) {
      await expect(tokens.revokeHash(bad)).rejects.toMatchObject({
        code: 'invalid_request',
        message: 'invalid token hash',
      });
    }
    expect(await tokens.lookup(child.token)).toBeDefined();
    await tokens.revokeHash(hash);
    expect(await tokens.lookup(parent.token)).toBeUndefined();
    expect(await tokens.lookup(child.token)).toBeUndefined();
  });

  it('a tampered batch token is no error to revoke; a valid one is refused, orphan or not', async () => {
    const { tokens } = await clockedStore();
    const batch = await tokens.create(opts({ type: 'batch' }));
    await expect(tokens.revoke(`${BATCH_TOKEN_PREFIX}AAAA`)).resolves.toBeUndefined();
    expect(await tokens.revokeOrphan(`${BATCH_TOKEN_PREFIX}AAAA`)).toBe(false);
    await expect(tokens.revokeOrphan(batch.token)).rejects.toMatchObject({
      code: 'invalid_request',
      message: 'batch tokens cannot be revoked',
    });
    expect(await tokens.revokeOrphan('')).toBe(false);
    await expect(tokens.revoke('')).resolves.toBeUndefined();
    expect(await tokens.lookup(batch.token)).toBeDefined();
  });

  it('a presented token over 16,384 characters is refused before it is opened; 16,384 is not', async () => {
    const { tokens } = await clockedStore();
    /** The first batch token at least `length` long, made by padding its display name. */
    const batchOfLength = async (length: number): Promise<string> => {
      const base = (await tokens.create(opts({ type: 'batch', displayName: '' }))).token.length;
      const estimate = Math.floor(((length - base) * 3) / 4) - 4;
      for (let n = estimate; ; n++) {
        const { token } = await tokens.create(opts({ type: 'batch', displayName: 'x'.repeat(n) }));
        if (token.length >= length) return token;
      }
    };
    const exact = await batchOfLength(16_384);
    expect(exact).toHaveLength(16_384);
    expect(await tokens.lookup(exact)).toBeDefined();
    await expect(tokens.revoke(exact)).rejects.toMatchObject({
      code: 'invalid_request',
      message: 'batch tokens cannot be revoked',
    });
    await expect(tokens.revokeOrphan(exact)).rejects.toThrow('batch tokens cannot be revoked');
    const over = await batchOfLength(16_385);
    expect(over.length).toBeGreaterThan(16_384);
    expect(await tokens.lookup(over)).toBeUndefined();
    expect(await tokens.authenticate(over)).toBeUndefined();
    await expect(tokens.revoke(over)).resolves.toBeUndefined();
    expect(await tokens.revokeOrphan(over)).toBe(false);
  });

  it('a cycle in a corrupt children index is dropped, not walked forever', async () => {
    const { tokens, storage } = await clockedStore();
    const parent = await tokens.create(opts());
    const child = await tokens.create(opts({ parentToken: parent.token }));
    const ph = tokens.hashToken(parent.token);
    const ch = tokens.hashToken(child.token);
    await storage.put(`${TOKEN_KEYS.parentPrefix}${ch}/${ph}`, Buffer.from('{}'));
    await tokens.revoke(parent.token);
    expect(keysUnder(storage, TOKEN_KEYS.parentPrefix)).toEqual([]);
    expect(keysUnder(storage, TOKEN_KEYS.idPrefix)).toEqual([]);
    expect(keysUnder(storage, TOKEN_KEYS.accessorPrefix)).toEqual([]);
  });

  it('revokeOrphan drops a stale index entry without re-parenting a token that is not its child', async () => {
    const { tokens, storage } = await clockedStore();
    const parent = await tokens.create(opts());
    const other = await tokens.create(opts());
    const child = await tokens.create(opts({ parentToken: other.token }));
    const ph = tokens.hashToken(parent.token);
    const ch = tokens.hashToken(child.token);
    await storage.put(`${TOKEN_KEYS.parentPrefix}${ph}/${ch}`, Buffer.from('{}'));
    expect(await tokens.revokeOrphan(parent.token)).toBe(true);
    expect(keysUnder(storage, `${TOKEN_KEYS.parentPrefix}${ph}/`)).toEqual([]);
    const fresh = await store(() => T0, storage);
    const entry = await fresh.tokens.lookup(child.token);
    expect(entry).toMatchObject({ orphan: false, parent: tokens.hashToken(other.token) });
    await tokens.revoke(other.token);
    expect(await tokens.lookup(child.token)).toBeUndefined();
  });

  it('an accessor index entry that points at a missing token reaches nothing', async () => {
    const { tokens, storage } = await clockedStore();
    await storage.put(
      `${TOKEN_KEYS.accessorPrefix}Missing00000000000000000`,
      Buffer.from(JSON.stringify({ hash: 'a'.repeat(64) })),
    );
    expect(await tokens.lookupByAccessor('Missing00000000000000000')).toBeUndefined();
    expect(await tokens.revokeByAccessor('Missing00000000000000000')).toBe(false);
    expect(await tokens.revokeByAccessor('not/valid')).toBe(false);
  });
});

describe('parent chains in corrupt storage fail closed', () => {
  /** Rewrites `token`'s stored entry so that it hangs under a made-up chain of `depth` ancestors. */
  async function hangUnderChain(
    storage: Storage,
    tokens: TokenStore,
    token: string,
    depth: number,
  ) {
    const hash = tokens.hashToken(token);
    const raw = await storage.get(TOKEN_KEYS.idPrefix + hash);
    const entry = JSON.parse(Buffer.from(raw!).toString('utf8')) as Record<string, unknown>;
    const ancestor = (i: number) => i.toString(16).padStart(64, '0');
    const put = (key: string, value: unknown) =>
      storage.put(TOKEN_KEYS.idPrefix + key, Buffer.from(JSON.stringify(value)));
    await put(hash, { ...entry, orphan: false, parent: ancestor(1) });
    const rest = { ...entry };
    delete rest.parent;
    for (let i = 1; i <= depth; i++) {
      await put(
        ancestor(i),
        i < depth ? { ...rest, orphan: false, parent: ancestor(i + 1) } : { ...rest, orphan: true },
      );
    }
  }

  it('a chain of 1,000 ancestors is followed; one of 1,001 is not', async () => {
    const storage = memoryStorage();
    const { tokens } = await store(() => T0, storage);
    const within = await tokens.create(opts());
    const beyond = await tokens.create(opts());
    await hangUnderChain(storage, tokens, within.token, 1000);
    const fresh = await store(() => T0, storage);
    expect(await fresh.tokens.lookup(within.token)).toBeDefined();
    await hangUnderChain(storage, tokens, beyond.token, 1001);
    const again = await store(() => T0, storage);
    expect(await again.tokens.lookup(beyond.token)).toBeUndefined();
  });

  it('a parent chain that loops back makes every token on it dead', async () => {
    const storage = memoryStorage();
    const { tokens } = await store(() => T0, storage);
    const a = await tokens.create(opts());
    const b = await tokens.create(opts({ parentToken: a.token }));
    const ah = tokens.hashToken(a.token);
    const raw = await storage.get(TOKEN_KEYS.idPrefix + ah);
    const entry = JSON.parse(Buffer.from(raw!).toString('utf8')) as Record<string, unknown>;
    await storage.put(
      TOKEN_KEYS.idPrefix + ah,
      Buffer.from(JSON.stringify({ ...entry, orphan: false, parent: tokens.hashToken(b.token) })),
    );
    const fresh = await store(() => T0, storage);
    expect(await fresh.tokens.lookup(a.token)).toBeUndefined();
    expect(await fresh.tokens.lookup(b.token)).toBeUndefined();
  });
});

describe('batch token format (ADR 0003)', () => {
  const payload = {
    accessor: '',
    policies: ['app'],
    path: 'p',
    displayName: 'd',
    meta: null,
    createdAt: T0,
    ttlSeconds: 60,
    explicitMaxTtlSeconds: 0,
    maxTtlSeconds: 0,
    periodSeconds: 0,
    expiresAt: T0 + 60_000,
    numUses: 0,
    renewable: false,
    orphan: true,
    type: 'batch',
  };

  it('a token sealed as the ADR lays it out opens, without its nonce', async () => {
    const { tokens, storage } = await clockedStore();
    const parent = await tokens.create(opts());
    const child = {
      ...payload,
      orphan: false,
      parent: tokens.hashToken(parent.token),
      entityId: 'e1',
    };
    const token = await sealAsBatch(storage, JSON.stringify({ ...child, n: 'nonce' }));
    expect(await tokens.lookup(token)).toStrictEqual(child);
    const orphan = await sealAsBatch(storage, JSON.stringify({ ...payload, n: 'nonce' }));
    expect(await tokens.authenticate(orphan)).toStrictEqual(payload);
    // Every character must be base64url: nothing may be added before or after.
    expect(await tokens.lookup(`${token}!`)).toBeUndefined();
    expect(
      await tokens.lookup(`${BATCH_TOKEN_PREFIX}!${token.slice(BATCH_TOKEN_PREFIX.length)}`),
    ).toBeUndefined();
    expect(
      await tokens.lookup(await sealAsBatch(storage, JSON.stringify(payload), 2)),
    ).toBeUndefined();
  });

  it('refuses a sealed payload that is not a batch entry', async () => {
    const { tokens, storage } = await clockedStore();
    const variants: Record<string, unknown>[] = [
      { type: 'service' },
      { type: undefined },
      { policies: 'app' },
      { policies: ['app', 1] },
      { createdAt: String(T0) },
      { expiresAt: undefined },
      { ttlSeconds: '60' },
      { path: 1 },
      { displayName: null },
      { parent: 5 },
      { entityId: 5 },
    ];
    for (const variant of variants) {
      const token = await sealAsBatch(storage, JSON.stringify({ ...payload, ...variant }));
      expect(await tokens.lookup(token), JSON.stringify(variant)).toBeUndefined();
    }
    for (const text of ['not json', '[]', 'null', '"batch"']) {
      expect(await tokens.lookup(await sealAsBatch(storage, text)), text).toBeUndefined();
    }
  });
});

describe('tidy: counts and what it keeps', () => {
  it('counts what it scanned and keeps live trees; stray keys and foreign index entries aside', async () => {
    const { tokens, storage } = await clockedStore();
    const parent = await tokens.create(opts());
    const child = await tokens.create(opts({ parentToken: parent.token }));
    const other = await tokens.create(opts());
    const ph = tokens.hashToken(parent.token);
    const ch = tokens.hashToken(child.token);
    await storage.put(`${TOKEN_KEYS.idPrefix}not-a-hash`, Buffer.from('{}'));
    await storage.put(`${TOKEN_KEYS.accessorPrefix}folder/inner`, Buffer.from('{}'));
    await storage.put(
      `${TOKEN_KEYS.accessorPrefix}Stray0000000000000000000`,
      Buffer.from(JSON.stringify({ hash: ph })),
    );
    await storage.put(
      `${TOKEN_KEYS.accessorPrefix}Number000000000000000000`,
      Buffer.from(JSON.stringify({ hash: 5 })),
    );
    await storage.put(`${TOKEN_KEYS.accessorPrefix}Null0000000000000000000`, Buffer.from('null'));
    // The child indexed under a token that is not its parent.
    await storage.put(
      `${TOKEN_KEYS.parentPrefix}${tokens.hashToken(other.token)}/${ch}`,
      Buffer.from('{}'),
    );
    const counts = await tokens.tidy();
    expect(counts).toEqual({
      tokensScanned: 3,
      tokensRevoked: 0,
      parentEntriesScanned: 2,
      parentEntriesDeleted: 1,
      accessorsScanned: 6,
      accessorsDeleted: 3,
    });
    expect(await tokens.lookup(child.token)).toBeDefined();
    expect(await storage.get(`${TOKEN_KEYS.parentPrefix}${ph}/${ch}`)).toBeDefined();
    expect(await storage.get(`${TOKEN_KEYS.idPrefix}not-a-hash`)).toBeDefined();
    expect(new Set(await tokens.listAccessors())).toEqual(
      new Set([parent.entry.accessor, child.entry.accessor, other.entry.accessor]),
    );
  });

  it('a second tidy while one runs joins it; the next one runs anew', async () => {
    const { tokens } = await clockedStore();
    const first = tokens.tidy();
    expect(tokens.tidy()).toBe(first);
    await first;
    const next = tokens.tidy();
    expect(next).not.toBe(first);
    await next;
  });
});

describe('races with revocation and with other stores', () => {
  it('a child created while its parent is being revoked is refused, never left behind', async () => {
    const { tokens, storage } = await clockedStore();
    const parent = await tokens.create(opts());
    const creating = tokens.create(opts({ parentToken: parent.token }));
    const revoking = tokens.revoke(parent.token);
    await expect(creating).rejects.toMatchObject({
      code: 'invalid_request',
      message: 'parent token lookup failed: no parent found',
    });
    await revoking;
    expect(keysUnder(storage, TOKEN_KEYS.idPrefix)).toEqual([]);
  });

  it('a cached expiry is checked against storage: a token renewed by another store lives on', async () => {
    const clock = { now: T0 };
    const storage = memoryStorage();
    const here = await store(() => clock.now, storage);
    const there = await store(() => clock.now, storage);
    const { token } = await here.tokens.create(opts({ ttlSeconds: 100 }));
    expect(await here.tokens.lookup(token)).toBeDefined(); // cached with the first expiry
    clock.now += 50_000;
    await there.tokens.renew(token, 1000);
    clock.now += 60_000;
    expect((await here.tokens.lookup(token))?.expiresAt).toBe(T0 + 1_050_000);
    expect(await there.tokens.lookup(token)).toBeDefined();
  });

  it('a cached token revoked by another store is gone once its cached expiry passes', async () => {
    const clock = { now: T0 };
    const storage = memoryStorage();
    const here = await store(() => clock.now, storage);
    const there = await store(() => clock.now, storage);
    const { token } = await here.tokens.create(opts({ ttlSeconds: 100 }));
    expect(await here.tokens.lookup(token)).toBeDefined();
    await there.tokens.revoke(token);
    clock.now += 100_000;
    expect(await here.tokens.lookup(token)).toBeUndefined();
  });
});

describe('revocation leaves nothing behind', () => {
  it("a child whose creation overlaps its parent's revocation is revoked with it", async () => {
    const inner = memoryStorage();
    let gate: Promise<void> | undefined;
    let release: () => void = () => undefined;
    let gated: () => void = () => undefined;
    const reached = new Promise<void>((resolve) => {
      gated = resolve;
    });
    const storage: Storage = {
      ...inner,
      batch: async (ops) => {
        if (gate !== undefined) {
          const wait = gate;
          gate = undefined;
          gated();
          await wait;
        }
        return inner.batch(ops);
      },
    };
    const tokens = new TokenStore({ storage, now: () => T0 });
    await tokens.open();
    const parent = await tokens.create(opts());
    gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const creating = tokens.create(opts({ parentToken: parent.token })); // held at its write
    await reached;
    const revoking = tokens.revoke(parent.token);
    await new Promise((resolve) => setImmediate(resolve));
    release();
    const child = await creating;
    await revoking;
    expect(await tokens.lookup(child.token)).toBeUndefined();
    expect(keysUnder(inner, TOKEN_KEYS.idPrefix)).toEqual([]);
    expect(keysUnder(inner, TOKEN_KEYS.parentPrefix)).toEqual([]);
  });

  it('a revoked custom id can be used again, whichever way it was revoked', async () => {
    const { tokens } = await clockedStore();
    await tokens.create(opts({ id: 'reused' }));
    await tokens.create(opts({ parentToken: 'reused' }));
    await tokens.revoke('reused');
    await tokens.create(opts({ id: 'reused' }));
    expect(await tokens.lookup('reused')).toBeDefined();
    expect(await tokens.revokeOrphan('reused')).toBe(true);
    await tokens.create(opts({ id: 'reused' }));
    expect(await tokens.lookup('reused')).toBeDefined();
  });

  it("revoking a child directly takes it out of its parent's children index", async () => {
    const { tokens, storage } = await clockedStore();
    const parent = await tokens.create(opts());
    const child = await tokens.create(opts({ parentToken: parent.token }));
    const sibling = await tokens.create(opts({ parentToken: parent.token }));
    await tokens.revoke(child.token);
    expect(keysUnder(storage, TOKEN_KEYS.parentPrefix)).toEqual([
      `${TOKEN_KEYS.parentPrefix}${tokens.hashToken(parent.token)}/${tokens.hashToken(sibling.token)}`,
    ]);
    expect(await tokens.lookup(sibling.token)).toBeDefined();
  });

  it('a children index entry whose token is gone is dropped when the parent is revoked', async () => {
    const { tokens, storage } = await clockedStore();
    const parent = await tokens.create(opts());
    const ph = tokens.hashToken(parent.token);
    await storage.put(`${TOKEN_KEYS.parentPrefix}${ph}/${'e'.repeat(64)}`, Buffer.from('{}'));
    await tokens.revoke(parent.token);
    expect(keysUnder(storage, TOKEN_KEYS.parentPrefix)).toEqual([]);
    expect(keysUnder(storage, TOKEN_KEYS.idPrefix)).toEqual([]);
  });
});

describe('orphaned children keep what they were', () => {
  it('revokeOrphan changes nothing of a child but its parent', async () => {
    const { tokens, storage } = await clockedStore();
    const parent = await tokens.create(opts());
    const child = await tokens.create(
      opts({ parentToken: parent.token, numUses: 2, meta: { k: 'v' }, role: 'r' }),
    );
    expect(await tokens.revokeOrphan(parent.token)).toBe(true);
    const expected: Record<string, unknown> = { ...child.entry, orphan: true };
    delete expected.parent;
    expect(await tokens.lookup(child.token)).toStrictEqual(expected);
    const fresh = await store(() => T0, storage);
    expect(await fresh.tokens.lookup(child.token)).toStrictEqual(expected);
    expect(await fresh.tokens.lookupByAccessor(child.entry.accessor)).toStrictEqual(expected);
  });
});

describe('revocation writes and hooks', () => {
  it('revocations write only well-formed batches (puts of bytes, deletes)', async () => {
    const inner = memoryStorage();
    const storage: Storage = {
      ...inner,
      batch: (ops) => {
        for (const op of ops) {
          const ok = op.op === 'delete' || (op.op === 'put' && op.value instanceof Uint8Array);
          if (!ok) return Promise.reject(new Error(`malformed op for ${op.key}`));
        }
        return inner.batch(ops);
      },
    };
    const tokens = new TokenStore({ storage, now: () => T0 });
    await tokens.open();
    const parent = await tokens.create(opts());
    const child = await tokens.create(opts({ parentToken: parent.token }));
    await tokens.create(opts({ parentToken: child.token }));
    expect(await tokens.revokeOrphan(parent.token)).toBe(true);
    await tokens.revoke(child.token);
    expect(keysUnder(inner, TOKEN_KEYS.idPrefix)).toEqual([]);
  });

  it('a token revoked, made again with the same id, can be revoked again', async () => {
    const { tokens } = await clockedStore();
    for (let i = 0; i < 2; i++) {
      await tokens.create(opts({ id: 'again' }));
      await tokens.revoke('again');
      expect(await tokens.lookup('again')).toBeUndefined();
    }
  });

  it('onDeleted is not called for a children index entry whose token is gone', async () => {
    const deleted: string[] = [];
    const storage = memoryStorage();
    const tokens = new TokenStore({
      storage,
      now: () => T0,
      onDeleted: (hash) => {
        deleted.push(hash);
        return Promise.resolve();
      },
    });
    await tokens.open();
    const parent = await tokens.create(opts());
    const ph = tokens.hashToken(parent.token);
    await storage.put(`${TOKEN_KEYS.parentPrefix}${ph}/${'e'.repeat(64)}`, Buffer.from('{}'));
    await tokens.revoke(parent.token);
    expect(deleted).toEqual([ph]);
  });
});
