import { describe, expect, it } from 'vitest';
import type { Storage } from '../sdk/storage.js';
import { memoryStorage } from '../sdk/testing.js';
import { TOKEN_KEYS } from './keys.js';
import {
  BATCH_TOKEN_PREFIX,
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
    await expect(tokens.create(opts({ parentToken: limited.token }))).rejects.toThrow(
      'restricted use token cannot generate child tokens',
    );
    await expect(tokens.create(opts({ parentToken: 'cfs.nope' }))).rejects.toThrow(
      'no parent found',
    );
    const batch = await tokens.create(opts({ type: 'batch' }));
    await expect(tokens.create(opts({ parentToken: batch.token }))).rejects.toThrow(
      'batch tokens cannot create more tokens',
    );
  });

  it('an expiring token cannot mint a token that never expires', async () => {
    const { tokens } = await clockedStore();
    const expiringRoot = await tokens.create(opts({ policies: ['root'], ttlSeconds: 100 }));
    expect(expiringRoot.entry.expiresAt).toBeDefined();
    await expect(
      tokens.create(opts({ policies: ['root'], parentToken: expiringRoot.token })),
    ).rejects.toThrow('expiring root tokens cannot create non-expiring root tokens');
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
    await expect(tokens.renew(token, 10)).rejects.toThrow('token not found');
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
    await expect(tokens.renew(fixed.token)).rejects.toThrow('lease is not renewable');
    const root = await tokens.create(opts({ policies: ['root'] }));
    await expect(tokens.renew(root.token)).rejects.toThrow('lease is not renewable');
    const batch = await tokens.create(opts({ type: 'batch' }));
    await expect(tokens.renew(batch.token)).rejects.toThrow('batch tokens cannot be renewed');
    await expect(tokens.renew('cfs.unknown')).rejects.toThrow('token not found');
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
    await expect(tokens.revoke(token)).rejects.toThrow('batch tokens cannot be revoked');
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
      await expect(tokens.renewByAccessor(bad)).rejects.toThrow('invalid accessor');
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
    const role = {
      name: 'ci',
      allowedPolicies: ['a'],
      disallowedPolicies: [],
      allowedPoliciesGlob: [],
      disallowedPoliciesGlob: [],
      orphan: false,
      renewable: true,
      pathSuffix: '',
      allowedEntityAliases: [],
      tokenType: 'default-service' as const,
      tokenTtlSeconds: 0,
      tokenMaxTtlSeconds: 0,
      tokenExplicitMaxTtlSeconds: 0,
      tokenPeriodSeconds: 0,
      tokenNumUses: 0,
      tokenNoDefaultPolicy: false,
      tokenBoundCidrs: [],
    };
    await tokens.putRole(role);
    expect(await tokens.getRole('ci')).toEqual(role);
    expect(await tokens.listRoles()).toEqual(['ci']);
    await tokens.deleteRole('ci');
    expect(await tokens.getRole('ci')).toBeUndefined();
    await expect(tokens.getRole('../x')).rejects.toMatchObject({ field: 'role_name' });
  });
});
