import { describe, expect, it } from 'vitest';
import { CofferError } from '../../sdk/errors.js';
import type { Storage } from '../../sdk/storage.js';
import { memoryStorage } from '../../sdk/testing.js';
import { DEFAULT_POLICY_TEXT, RESPONSE_WRAPPING_POLICY_TEXT } from './builtin.js';
import { MAX_POLICY_NAME_LENGTH } from './parse.js';
import { PolicyStore, type StoredPolicy } from './policy-store.js';
import type { TemplateIdentity } from './template.js';

const decoder = new TextDecoder();

async function openStore(storage = memoryStorage(), now = () => 1_700_000_000_000) {
  const store = new PolicyStore({ storage, now });
  await store.open();
  return { store, storage };
}

function stored(storage: ReturnType<typeof memoryStorage>, key: string): StoredPolicy | undefined {
  const raw = storage.entries.get(key);
  return raw === undefined ? undefined : (JSON.parse(decoder.decode(raw)) as StoredPolicy);
}

/** Counts storage reads, to show what is served from memory. */
function countingStorage(inner: Storage): Storage & { gets: number } {
  const counting = {
    gets: 0,
    get: (key: string) => {
      counting.gets++;
      return inner.get(key);
    },
    put: (key: string, value: Uint8Array) => inner.put(key, value),
    delete: (key: string) => inner.delete(key),
    list: (prefix: string) => inner.list(prefix),
    batch: (ops: Parameters<Storage['batch']>[0]) => inner.batch(ops),
  };
  return counting;
}

async function rejection(promise: Promise<unknown>): Promise<CofferError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(CofferError);
    return error as CofferError;
  }
  throw new Error('expected a rejection');
}

describe('PolicyStore', () => {
  it('writes the default policy on first open, once, and never overwrites an edit', async () => {
    const { store, storage } = await openStore();
    expect(stored(storage, 'default')).toEqual({
      name: 'default',
      raw: DEFAULT_POLICY_TEXT,
      version: 1,
      modifiedAt: 1_700_000_000_000,
    });
    await store.put('default', 'path "x" { capabilities = ["read"] }');
    const again = new PolicyStore({ storage });
    await again.open();
    expect(stored(storage, 'default')).toMatchObject({
      raw: 'path "x" { capabilities = ["read"] }',
      version: 2,
    });
    expect((await again.get('default'))?.rules.map((r) => r.pattern)).toEqual(['x']);
  });

  it('serves root and response-wrapping built in, without storing them', async () => {
    const { store, storage } = await openStore();
    expect(await store.get('root')).toMatchObject({ name: 'root', rules: [], raw: '' });
    expect((await store.get('response-wrapping'))?.raw).toBe(RESPONSE_WRAPPING_POLICY_TEXT);
    expect([...storage.entries.keys()]).toEqual(['default']);
  });

  it('normalises names on get and put; an impossible name is simply absent', async () => {
    const { store, storage } = await openStore();
    await store.put('  App\t', 'path "a" { capabilities = ["read"] }');
    expect(stored(storage, 'app')?.name).toBe('app');
    expect((await store.get('APP'))?.name).toBe('app');
    expect(await store.get('a/b')).toBeUndefined();
    expect(await store.get('missing')).toBeUndefined();
  });

  it('regression: root can never be written, however it is spelled', async () => {
    const { store, storage } = await openStore();
    for (const name of ['root', 'ROOT', ' root', 'root\t', 'Root\n']) {
      const error = await rejection(store.put(name, 'path "*" { capabilities = ["sudo"] }'));
      expect(error.code).toBe('invalid_request');
      expect(error.message).toBe('cannot update "root" policy');
    }
    const error = await rejection(store.put('Response-Wrapping', ''));
    expect(error.message).toBe('cannot update "response-wrapping" policy');
    expect([...storage.entries.keys()]).toEqual(['default']);
  });

  it('refuses text that does not parse, with line and column', async () => {
    const { store } = await openStore();
    const error = await rejection(store.put('bad', 'path "a" {\n  capabilites = ["read"]\n}'));
    expect(error.code).toBe('invalid_request');
    expect(error.message).toBe('2:3: unknown key "capabilites"');
    expect(await store.get('bad')).toBeUndefined();
  });

  it('protects default, root and response-wrapping from deletion; a missing policy is fine', async () => {
    const { store } = await openStore();
    expect((await rejection(store.delete('Default'))).message).toBe('cannot delete default policy');
    expect((await rejection(store.delete('root'))).message).toBe('cannot delete "root" policy');
    expect((await rejection(store.delete('response-wrapping'))).code).toBe('invalid_request');
    await store.delete('never-existed');
    await store.put('gone', '');
    await store.delete('gone');
    expect(await store.get('gone')).toBeUndefined();
  });

  it('lists the stored policies sorted, then root (as Vault)', async () => {
    const { store } = await openStore();
    await store.put('zeta', '');
    await store.put('alpha', '');
    expect(await store.list()).toEqual(['alpha', 'default', 'zeta', 'root']);
  });

  it('caches one compiled ACL per policy set, whatever the order or repeats', async () => {
    const { store } = await openStore();
    await store.put('a', 'path "x" { capabilities = ["read"] }');
    const first = await store.acl(['a', 'default']);
    expect(await store.acl(['default', 'a', 'a'])).toBe(first);
    expect(first.allowOperation({ operation: 'read', path: 'x' }).allowed).toBe(true);
    expect(
      first.allowOperation({ operation: 'read', path: 'auth/token/lookup-self' }).allowed,
    ).toBe(true);
  });

  it('invalidates every compiled ACL on a write, so an edit applies on the next request', async () => {
    const { store } = await openStore();
    await store.put('a', 'path "x" { capabilities = ["read"] }');
    const before = await store.acl(['a']);
    const version = store.version;
    await store.put('a', 'path "x" { capabilities = ["deny"] }');
    expect(store.version).toBeGreaterThan(version);
    const after = await store.acl(['a']);
    expect(after).not.toBe(before);
    expect(after.allowOperation({ operation: 'read', path: 'x' }).allowed).toBe(false);
    // Deleting invalidates too.
    const other = await store.acl(['default', 'a']);
    await store.delete('a');
    const gone = await store.acl(['default', 'a']);
    expect(gone).not.toBe(other);
    expect(gone.capabilities('x')).toEqual(['deny']);
  });

  it('does not cache an ACL compiled from policies that changed while it was built', async () => {
    const memory = memoryStorage();
    let armed = false;
    let gate: (() => void) | undefined;
    const slow: Storage = {
      ...memory,
      get: async (key) => {
        // Read now, answer later: the caller gets the policy as it was before the edit.
        const value = await memory.get(key);
        if (armed && gate === undefined && key === 'a') {
          await new Promise<void>((resolve) => {
            gate = resolve;
          });
        }
        return value;
      },
    };
    const store = new PolicyStore({ storage: slow });
    await store.open();
    await store.put('a', 'path "x" { capabilities = ["read"] }');
    store.invalidate(); // forget the cached policy so the next load reads storage
    armed = true;
    const pending = store.acl(['a']);
    for (let i = 0; i < 100 && gate === undefined; i++) await Promise.resolve();
    await store.put('a', 'path "x" { capabilities = ["deny"] }');
    gate!();
    // The stale compile may answer its own request, but must not be served to the next one.
    await pending;
    const fresh = await store.acl(['a']);
    expect(fresh.allowOperation({ operation: 'read', path: 'x' }).allowed).toBe(false);
  });

  it('skips unknown names and names that are not normalised (fail closed)', async () => {
    const { store } = await openStore();
    expect((await store.acl(['nope'])).capabilities('x')).toEqual(['deny']);
    expect((await store.acl(['ROOT'])).isRoot).toBe(false);
    expect((await store.acl([' root'])).isRoot).toBe(false);
    expect((await store.acl(['root'])).isRoot).toBe(true);
    expect((await store.acl([])).allowOperation({ operation: 'read', path: 'x' }).allowed).toBe(
      false,
    );
  });

  it('keeps policies in memory after the first load', async () => {
    const counting = countingStorage(memoryStorage());
    const store = new PolicyStore({ storage: counting });
    await store.open();
    await store.put('a', '');
    store.invalidate();
    await store.get('a');
    const reads = counting.gets;
    await store.get('a');
    await store.acl(['a']);
    await store.get('missing');
    await store.get('missing');
    expect(counting.gets).toBe(reads + 1);
  });

  it('refuses to work while closed (sealed)', async () => {
    const { store } = await openStore();
    store.close();
    expect((await rejection(store.acl(['default']))).code).toBe('sealed');
    expect((await rejection(store.get('default'))).code).toBe('sealed');
    expect((await rejection(store.put('a', ''))).code).toBe('sealed');
  });

  it('fails closed when a stored policy no longer parses', async () => {
    const storage = memoryStorage();
    const { store } = await openStore(storage);
    await storage.put(
      'broken',
      new TextEncoder().encode(JSON.stringify({ name: 'broken', raw: 'path "a" { x = 1 }' })),
    );
    const error = await rejection(store.acl(['default', 'broken']));
    expect(error.code).toBe('internal');
    expect(error.message).toContain('"broken"');
    // The parse error is kept as the cause, for the operator's log.
    expect(error.cause).toBeInstanceOf(CofferError);
    expect((error.cause as CofferError).code).toBe('invalid_request');
  });
});

// Promises the first mutation run of policy-store.ts (bench/mutation.md) found unchecked.
describe('PolicyStore: stored entries, listing and the ACL cache', () => {
  it('a stored entry that is not a policy record fails closed as an integrity failure', async () => {
    for (const entry of ['"text"', 'null', '{"raw": 7}']) {
      const { store, storage } = await openStore();
      storage.entries.set('bad', Buffer.from(entry));
      const error = await rejection(store.get('bad'));
      expect(error.code, entry).toBe('integrity_failure');
      expect(error.message).toBe('stored policy "bad" is malformed');
      expect((await rejection(store.acl(['bad']))).code, entry).toBe('integrity_failure');
    }
  });

  it('lists stored names sorted, without folder keys or the built-in names, then root', async () => {
    const { store, storage } = await openStore();
    await store.put('b', 'path "x" { capabilities = ["read"] }');
    await store.put('a', 'path "x" { capabilities = ["read"] }');
    storage.entries.set('dir/nested', Buffer.from('{"raw":""}'));
    storage.entries.set('response-wrapping', Buffer.from('{"raw":""}'));
    expect(await store.list()).toEqual(['a', 'b', 'default', 'root']);
  });

  it('a sealed (closed) store refuses with the sealed error', async () => {
    const store = new PolicyStore({ storage: memoryStorage() });
    const error = await rejection(store.list());
    expect(error.code).toBe('sealed');
    expect(error.message).toBe('Vault is sealed');
  });

  it('the compiled-ACL cache keeps at most maxCachedAcls sets, dropping the oldest', async () => {
    const store = new PolicyStore({ storage: memoryStorage(), maxCachedAcls: 2 });
    await store.open();
    for (const name of ['a', 'b', 'c'])
      await store.put(name, `path "${name}" { capabilities = ["read"] }`);
    const a1 = await store.acl(['a']);
    expect(await store.acl(['a'])).toBe(a1);
    const b1 = await store.acl(['b']);
    const c1 = await store.acl(['c']);
    expect(await store.acl(['c'])).toBe(c1);
    expect(await store.acl(['b'])).toBe(b1);
    // Three sets for two places: the first one in was dropped.
    expect(await store.acl(['a'])).not.toBe(a1);
  });
});

// Promises the policy-parse re-run (bench/mutation/mut-policy-acl.md) found unchecked.
describe('PolicyStore: the synchronous ACL cache and templated policy sets', () => {
  const identity: TemplateIdentity = {
    cacheKey: 'e1@1',
    entity: { id: 'e1', name: 'alice', metadata: { prefix: '//secret' } },
    aliases: new Map(),
    groups: [],
  };

  it('cachedAcl serves an ACL acl() compiled, for the names in any order or repeated', async () => {
    const { store } = await openStore();
    await store.put('a', 'path "a" { capabilities = ["read"] }');
    await store.put('b', 'path "b" { capabilities = ["read"] }');
    expect(store.cachedAcl(['a', 'b'])).toBeUndefined();
    const acl = await store.acl(['a', 'b']);
    expect(store.cachedAcl(['a', 'b'])).toBe(acl);
    expect(store.cachedAcl(['b', 'a'])).toBe(acl);
    expect(store.cachedAcl(['a', 'b', 'a'])).toBe(acl);
    const single = await store.acl(['a']);
    expect(store.cachedAcl(['a', 'a'])).toBe(single);
    expect(await store.acl(['a', 'a'])).toBe(single);
  });

  it('cachedAcl gives nothing once the store is closed (sealed)', async () => {
    const { store } = await openStore();
    await store.put('a', 'path "a" { capabilities = ["read"] }');
    await store.acl(['a']);
    expect(store.cachedAcl(['a'])).toBeDefined();
    store.close();
    expect(store.cachedAcl(['a'])).toBeUndefined();
  });

  it('compiles policies in sorted name order whatever order the token holds them in', async () => {
    const { store } = await openStore();
    await store.put('a', 'path "a" { capabilities = ["read"] }');
    await store.put('b', 'path "b" { capabilities = ["read"] }');
    expect((await store.acl(['b', 'a', 'b'])).policyNames).toEqual(['a', 'b']);
  });

  it('a name not in normalised form matches nothing, even when storage holds that key', async () => {
    const { store, storage } = await openStore();
    const entry = Buffer.from(
      JSON.stringify({ name: 'A', raw: 'path "a" { capabilities = ["read"] }' }),
    );
    storage.entries.set('A', entry);
    const tooLong = 'x'.repeat(MAX_POLICY_NAME_LENGTH + 1);
    storage.entries.set(tooLong, entry);
    const acl = await store.acl(['A', tooLong]);
    expect(acl.policyNames).toEqual([]);
    expect(acl.capabilities('a')).toEqual(['deny']);
  });

  it('a name that does not normalise is absent, without a storage read', async () => {
    const counting = countingStorage(memoryStorage());
    const store = new PolicyStore({ storage: counting });
    await store.open();
    const reads = counting.gets;
    expect(await store.get('')).toBeUndefined();
    expect(await store.get('a/b')).toBeUndefined();
    expect(counting.gets).toBe(reads);
  });

  it('lists stored names sorted even when storage lists them in another order', async () => {
    const inner = memoryStorage();
    const reversed: Storage = {
      get: (key) => inner.get(key),
      put: (key, value) => inner.put(key, value),
      delete: (key) => inner.delete(key),
      list: async (prefix) => [...(await inner.list(prefix))].reverse(),
      batch: (ops) => inner.batch(ops),
    };
    const store = new PolicyStore({ storage: reversed });
    await store.open();
    for (const name of ['a', 'c', 'b'])
      await store.put(name, 'path "x" { capabilities = ["read"] }');
    expect(await inner.list('')).not.toEqual(await reversed.list(''));
    expect(await store.list()).toEqual(['a', 'b', 'c', 'default', 'root']);
  });

  it('fills templated rules from the identity, beside plain rules and plain policies', async () => {
    const { store } = await openStore();
    await store.put('plain', 'path "plain/*" { capabilities = ["list"] }');
    await store.put(
      'mixed',
      [
        'path "own/{{identity.entity.id}}/*" { capabilities = ["read"] }',
        'path "shared/*" { capabilities = ["update"] }',
      ].join('\n'),
    );
    const acl = await store.acl(['plain', 'mixed'], identity);
    expect(acl.capabilities('own/e1/x')).toEqual(['read']);
    expect(acl.capabilities('own/e2/x')).toEqual(['deny']);
    expect(acl.capabilities('shared/x')).toEqual(['update']);
    expect(acl.capabilities('plain/x')).toEqual(['list']);
    // Not the plain set's ACL: cachedAcl (no identity) must not serve it.
    expect(store.cachedAcl(['mixed', 'plain'])).toBeUndefined();
    expect(await store.acl(['mixed', 'plain'], identity)).toBe(acl);
  });

  it('strips every leading slash a template value puts in front of a pattern', async () => {
    const { store } = await openStore();
    await store.put(
      't',
      'path "{{identity.entity.metadata.prefix}}/{{identity.entity.id}}" { capabilities = ["read"] }',
    );
    const acl = await store.acl(['t'], identity);
    expect(acl.capabilities('secret/e1')).toEqual(['read']);
    expect(acl.explain('secret/e1').matches.map((m) => m.pattern)).toEqual(['secret/e1']);
  });
});
