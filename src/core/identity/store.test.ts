// The identity store on its own (a memory storage view): group resolution (direct, nested,
// diamonds), what a write does to cached resolutions, concurrent logins of one alias, and
// that everything lives in storage (a new store over the same view sees it).
import { describe, expect, it } from 'vitest';
import { createInmemBackend } from '../../physical/inmem.js';
import type { AuthMountRef } from './records.js';
import { IdentityStore } from './store.js';

const MOUNT: AuthMountRef = {
  accessor: 'auth_who_1',
  type: 'who',
  path: 'auth/who/',
  local: false,
};

function newStore(storage = createInmemBackend()): IdentityStore {
  const store = new IdentityStore({
    storage,
    now: () => 1_700_000_000_000,
    authMount: (accessor) => (accessor === MOUNT.accessor ? MOUNT : undefined),
  });
  store.open();
  return store;
}

const login = (store: IdentityStore, name: string, groups?: string[]) =>
  store.loginEntity({ mount: MOUNT, aliasName: name, aliasMetadata: {}, groupAliases: groups });

describe('IdentityStore', () => {
  it('resolves direct and nested groups once each, with their policies', async () => {
    const store = newStore();
    const { entity } = await store.writeEntity({ name: 'e', policies: ['P-E'] });
    const leaf = (await store.writeGroup({ name: 'leaf', memberEntityIds: [entity.id] })).group;
    const left = (
      await store.writeGroup({ name: 'l', policies: ['pl'], memberGroupIds: [leaf.id] })
    ).group;
    const right = (
      await store.writeGroup({ name: 'r', policies: ['pr'], memberGroupIds: [leaf.id] })
    ).group;
    const top = (
      await store.writeGroup({
        name: 'top',
        policies: ['pt', 'pl'],
        memberGroupIds: [left.id, right.id],
      })
    ).group;
    const resolved = await store.resolve(entity.id);
    expect(resolved?.directGroupIds).toEqual([leaf.id]);
    expect(resolved?.inheritedGroupIds).toEqual([left.id, right.id, top.id].sort());
    expect(resolved?.policies).toEqual(['p-e', 'pl', 'pr', 'pt']);
  });

  it('drops cached resolutions on every write', async () => {
    const store = newStore();
    const entity = await login(store, 'u');
    const group = (
      await store.writeGroup({ name: 'g', policies: ['pg'], memberEntityIds: [entity.id] })
    ).group;
    expect((await store.resolve(entity.id))?.policies).toEqual(['pg']);
    await store.writeGroup({ id: group.id, memberEntityIds: [] });
    expect((await store.resolve(entity.id))?.policies).toEqual([]);
    await store.deleteEntity(entity.id);
    expect(await store.resolve(entity.id)).toBeUndefined();
  });

  it('creates one entity for concurrent first logins of one alias', async () => {
    const store = newStore();
    const entities = await Promise.all(Array.from({ length: 8 }, () => login(store, 'same')));
    expect(new Set(entities.map((e) => e.id)).size).toBe(1);
    expect(await store.listEntities()).toHaveLength(1);
    expect(await store.listAliases()).toHaveLength(1);
  });

  it('keeps everything in storage: a second store over the same view sees it', async () => {
    const storage = createInmemBackend();
    const first = newStore(storage);
    const entity = await login(first, 'persisted');
    const ext = (await first.writeGroup({ name: 'ext', type: 'external', policies: ['px'] })).group;
    await first.writeGroupAlias({
      name: 'devs',
      mountAccessor: MOUNT.accessor,
      canonicalId: ext.id,
    });
    await login(first, 'persisted', ['devs']);
    const second = newStore(storage);
    expect((await second.aliasByFactors(MOUNT.accessor, 'PERSISTED'))?.canonicalId).toBe(entity.id);
    expect((await second.resolve(entity.id))?.policies).toEqual(['px']);
  });

  it('writes no entity, group or alias name in clear into a storage key', async () => {
    const storage = createInmemBackend();
    const store = newStore(storage);
    const entity = await login(store, 'alice@example.com');
    await store.writeEntity({ id: entity.id, name: 'Alice Liddell' });
    await store.writeGroup({ name: 'wonderland-admins', type: 'external' });
    const keys: string[] = [];
    const walk = async (prefix: string): Promise<void> => {
      for (const child of await storage.list(prefix)) {
        if (child.endsWith('/')) await walk(prefix + child);
        else keys.push(prefix + child);
      }
    };
    await walk('');
    expect(keys.length).toBeGreaterThan(4);
    expect(keys.join('\n')).not.toMatch(/alice|liddell|wonderland/i);
  });

  it('only touches external groups bound to the login mount', async () => {
    const store = newStore();
    const entity = await login(store, 'x');
    const internal = (
      await store.writeGroup({ name: 'int', policies: ['pi'], memberEntityIds: [entity.id] })
    ).group;
    await login(store, 'x', []);
    expect((await store.getGroup(internal.id))?.memberEntityIds).toEqual([entity.id]);
  });

  it('refuses a type change, a root policy, and an unknown member', async () => {
    const store = newStore();
    const group = (await store.writeGroup({ name: 'g' })).group;
    await expect(store.writeGroup({ id: group.id, type: 'external' })).rejects.toThrow(
      /^type: group type cannot be changed/,
    );
    await expect(store.writeGroup({ name: 'h', policies: ['Root'] })).rejects.toThrow(
      /policies cannot contain root/,
    );
    await expect(store.writeGroup({ name: 'h', memberEntityIds: ['nope'] })).rejects.toThrow(
      /^member_entity_ids: entity "nope" does not exist/,
    );
  });

  it('merges with a conflict only when told which alias to keep', async () => {
    const store = newStore();
    const a = await login(store, 'a');
    const b = await login(store, 'b');
    await expect(store.merge([a.id], b.id, [])).rejects.toThrow(/conflicting mount accessors/);
    const keep = (await store.aliasByFactors(MOUNT.accessor, 'a'))!;
    await store.merge([a.id], b.id, [keep.id]);
    expect((await store.entityAliases(b.id)).map((x) => x.name)).toEqual(['a']);
    expect((await store.currentEntity(a.id))?.id).toBe(b.id);
  });
});
