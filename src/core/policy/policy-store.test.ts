import { describe, expect, it } from 'vitest';
import { CofferError } from '../../sdk/errors.js';
import type { Storage } from '../../sdk/storage.js';
import { memoryStorage } from '../../sdk/testing.js';
import { DEFAULT_POLICY_TEXT, RESPONSE_WRAPPING_POLICY_TEXT } from './builtin.js';
import { PolicyStore, type StoredPolicy } from './policy-store.js';

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
