// The identity store: entities, their aliases (one per auth mount), internal and external
// groups with group aliases, merges, the entity a login maps to, and the identity a token's
// entity resolves to at request time (its policies, groups and templating values).
//
// Everything is read through the barrier; memory holds only caches, dropped on every write and
// on open/close. Only the active node serves requests (standbys forward and keep no services
// open), and activation reopens the store, so no node acts on an identity another one changed.
import { randomBytes, randomUUID } from 'node:crypto';
import { CofferError, invalidField } from '../../sdk/errors.js';
import { encodeJson, getJson, type Storage, type StorageOp } from '../../sdk/storage.js';
import { sanitizePolicies } from '../token-store.js';
import {
  IDENTITY_KEYS,
  keys,
  type AuthMountRef,
  type EntityAliasRecord,
  type EntityRecord,
  type GroupAliasRecord,
  type GroupRecord,
  type GroupType,
} from './records.js';

export interface IdentityStoreDeps {
  /** The store's own view (CORE_KEYS.identityPrefix). */
  readonly storage: Storage;
  /** Epoch ms. */
  readonly now: () => number;
  /** The auth mount with this accessor (for validation and the mount fields of aliases). */
  readonly authMount: (accessor: string) => AuthMountRef | undefined;
}

/** What a token's entity stands for at this moment (see resolve). */
export interface ResolvedIdentity {
  readonly entity: EntityRecord;
  readonly aliases: readonly EntityAliasRecord[];
  /** Direct and inherited groups. */
  readonly groups: readonly GroupRecord[];
  readonly directGroupIds: readonly string[];
  readonly inheritedGroupIds: readonly string[];
  /** Entity and group policies, normalised; never `root`. */
  readonly policies: readonly string[];
}

export interface EntityInput {
  readonly name?: string | undefined;
  readonly metadata?: Record<string, string> | undefined;
  readonly policies?: readonly string[] | undefined;
  readonly disabled?: boolean | undefined;
}

export interface GroupInput {
  readonly name?: string | undefined;
  readonly type?: GroupType | undefined;
  readonly metadata?: Record<string, string> | undefined;
  readonly policies?: readonly string[] | undefined;
  readonly memberEntityIds?: readonly string[] | undefined;
  readonly memberGroupIds?: readonly string[] | undefined;
}

export interface EntityAliasInput {
  readonly name?: string | undefined;
  readonly mountAccessor?: string | undefined;
  readonly canonicalId?: string | undefined;
  readonly customMetadata?: Record<string, string> | undefined;
}

export interface GroupAliasInput {
  readonly name?: string | undefined;
  readonly mountAccessor?: string | undefined;
  readonly canonicalId?: string | undefined;
}

/** What a login tells the store about who logged in. */
export interface LoginIdentity {
  readonly mount: AuthMountRef;
  readonly aliasName: string;
  readonly aliasMetadata: Readonly<Record<string, string>>;
  /**
   * Group names the auth method reported (a JWT `groups_claim`); undefined = the method
   * reports none, and external group memberships are left as they are.
   */
  readonly groupAliases?: readonly string[] | undefined;
}

interface GroupSnapshot {
  readonly byId: ReadonlyMap<string, GroupRecord>;
  /** Group id → ids of the groups that list it in member_group_ids. */
  readonly parents: ReadonlyMap<string, readonly string[]>;
}

const MAX_NAME_LENGTH = 512;
const RESOLVED_CACHE_MAX = 10_000;

/** Identity policies: normalised; `root` can never be granted through identity. */
export function identityPolicies(raw: readonly string[], field = 'policies'): string[] {
  const names = raw.map((p) => p.trim().toLowerCase()).filter((p) => p !== '');
  if (names.includes('root')) throw invalidField(field, 'policies cannot contain root');
  return sanitizePolicies(names, false);
}

function checkName(name: string, field = 'name'): string {
  const trimmed = name.trim();
  if (trimmed === '') throw invalidField(field, 'must not be empty');
  if (trimmed.length > MAX_NAME_LENGTH) throw invalidField(field, 'is too long');
  if (/\p{Cc}/u.test(trimmed)) throw invalidField(field, 'must not contain control characters');
  return trimmed;
}

function sameMap(
  a: Readonly<Record<string, string>>,
  b: Readonly<Record<string, string>>,
): boolean {
  const ak = Object.keys(a);
  return ak.length === Object.keys(b).length && ak.every((k) => b[k] === a[k]);
}

function unique(ids: readonly string[]): string[] {
  return [...new Set(ids.map((id) => id.trim()).filter((id) => id !== ''))];
}

function put(key: string, value: object): StorageOp {
  return { op: 'put', key, value: encodeJson(value) };
}

function del(key: string): StorageOp {
  return { op: 'delete', key };
}

export class IdentityStore {
  readonly #storage: Storage;
  readonly #now: () => number;
  readonly #authMount: (accessor: string) => AuthMountRef | undefined;
  /** Writes run one at a time: name uniqueness and membership checks read, then write. */
  #tail: Promise<unknown> = Promise.resolve();
  #version = 0;
  #groups: GroupSnapshot | undefined;
  readonly #resolved = new Map<string, ResolvedIdentity | null>();
  #open = false;

  constructor(deps: IdentityStoreDeps) {
    this.#storage = deps.storage;
    this.#now = deps.now;
    this.#authMount = deps.authMount;
  }

  open(): void {
    this.#invalidate();
    this.#open = true;
  }

  close(): void {
    this.#open = false;
    this.#invalidate();
  }

  /** Bumped on every write: cached resolutions and compiled templated ACLs key on it. */
  get version(): number {
    return this.#version;
  }

  authMount(accessor: string): AuthMountRef | undefined {
    return this.#authMount(accessor);
  }

  #assertOpen(): void {
    if (!this.#open) throw new CofferError('sealed', 'Vault is sealed');
  }

  #invalidate(): void {
    this.#version++;
    this.#groups = undefined;
    this.#resolved.clear();
  }

  async #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    this.#assertOpen();
    const run = this.#tail.then(fn, fn);
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async #commit(ops: readonly StorageOp[]): Promise<void> {
    if (ops.length === 0) return;
    try {
      await this.#storage.batch(ops);
    } finally {
      this.#invalidate();
    }
  }

  async #id(prefixKey: string): Promise<string | undefined> {
    const found = await getJson<{ id?: unknown }>(this.#storage, prefixKey);
    return typeof found?.id === 'string' ? found.id : undefined;
  }

  #requireMount(accessor: string | undefined, field = 'mount_accessor'): AuthMountRef {
    if (accessor === undefined || accessor.trim() === '') throw invalidField(field, 'is required');
    const mount = this.#authMount(accessor.trim());
    if (mount === undefined) throw invalidField(field, `invalid mount accessor "${accessor}"`);
    return mount;
  }

  // ---------------------------------------------------------------------------------------
  // Entities

  async getEntity(id: string): Promise<EntityRecord | undefined> {
    this.#assertOpen();
    if (id === '') return undefined;
    return getJson<EntityRecord>(this.#storage, keys.entity(id));
  }

  async entityByName(name: string): Promise<EntityRecord | undefined> {
    const id = await this.#id(keys.entityName(name));
    return id === undefined ? undefined : this.getEntity(id);
  }

  /** The entity an id now stands for: itself, or the entity it was merged into. */
  async currentEntity(id: string): Promise<EntityRecord | undefined> {
    const entity = await this.getEntity(id);
    if (entity !== undefined) return entity;
    let next = id;
    for (let hops = 0; hops < 16; hops++) {
      const target = await this.#id(keys.merged(next));
      if (target === undefined) return undefined;
      const found = await this.getEntity(target);
      if (found !== undefined) return found;
      next = target;
    }
    return undefined;
  }

  /** The records whose ids are listed under `prefix` (leaf keys) and that `get` still finds. */
  async #records<T>(prefix: string, get: (id: string) => Promise<T | undefined>): Promise<T[]> {
    const out: T[] = [];
    for (const id of await this.#storage.list(prefix)) {
      if (id.endsWith('/')) continue;
      const record = await get(id);
      if (record !== undefined) out.push(record);
    }
    return out;
  }

  async listEntities(): Promise<EntityRecord[]> {
    this.#assertOpen();
    return this.#records(IDENTITY_KEYS.entityPrefix, (id) => this.getEntity(id));
  }

  async entityAliases(entityId: string): Promise<EntityAliasRecord[]> {
    this.#assertOpen();
    const out = await this.#records(keys.entityAliases(entityId), (id) => this.getAlias(id));
    return out.sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  /**
   * Creates (no `id`) or updates (`id`) an entity. `byName`: the entity with this name is
   * updated if there is one (`identity/entity/name/:name`); otherwise a name in use is refused.
   */
  async writeEntity(
    input: EntityInput & { readonly id?: string | undefined },
    options: { readonly byName?: boolean } = {},
  ): Promise<{ entity: EntityRecord; created: boolean }> {
    return this.#exclusive(async () => {
      let existing: EntityRecord | undefined;
      if (input.id !== undefined && input.id !== '') {
        existing = await this.getEntity(input.id);
        if (existing === undefined) throw invalidField('id', 'entity not found from id');
      }
      const name = input.name === undefined ? undefined : checkName(input.name);
      if (name !== undefined) {
        const byName = await this.entityByName(name);
        if (byName !== undefined && existing === undefined && options.byName === true) {
          existing = byName;
        } else if (byName !== undefined && byName.id !== existing?.id) {
          throw invalidField('name', 'entity name is already in use');
        }
      }
      const now = this.#now();
      const policies = input.policies === undefined ? undefined : identityPolicies(input.policies);
      const entity: EntityRecord =
        existing === undefined
          ? {
              id: randomUUID(),
              name: name ?? `entity_${randomBytes(4).toString('hex')}`,
              metadata: { ...(input.metadata ?? {}) },
              policies: policies ?? [],
              disabled: input.disabled ?? false,
              mergedEntityIds: [],
              createdAt: now,
              updatedAt: now,
            }
          : {
              ...existing,
              name: name ?? existing.name,
              metadata: input.metadata === undefined ? existing.metadata : { ...input.metadata },
              policies: policies ?? existing.policies,
              disabled: input.disabled ?? existing.disabled,
              updatedAt: now,
            };
      const ops: StorageOp[] = [put(keys.entity(entity.id), entity)];
      if (existing !== undefined && existing.name.toLowerCase() !== entity.name.toLowerCase()) {
        ops.push(del(keys.entityName(existing.name)));
      }
      ops.push(put(keys.entityName(entity.name), { id: entity.id }));
      await this.#commit(ops);
      return { entity, created: existing === undefined };
    });
  }

  /** Deletes an entity with its aliases and group memberships. A missing one is fine. */
  async deleteEntity(id: string): Promise<void> {
    await this.#exclusive(async () => {
      const entity = await this.getEntity(id);
      if (entity === undefined) return;
      const ops: StorageOp[] = [del(keys.entity(id)), del(keys.entityName(entity.name))];
      for (const alias of await this.entityAliases(id)) ops.push(...this.#aliasDeletion(alias));
      const now = this.#now();
      for (const group of (await this.#groupSnapshot()).byId.values()) {
        if (!group.memberEntityIds.includes(id)) continue;
        ops.push(
          put(keys.group(group.id), {
            ...group,
            memberEntityIds: group.memberEntityIds.filter((m) => m !== id),
            updatedAt: now,
            modifyIndex: group.modifyIndex + 1,
          }),
        );
      }
      await this.#commit(ops);
    });
  }

  // ---------------------------------------------------------------------------------------
  // Entity aliases

  async getAlias(id: string): Promise<EntityAliasRecord | undefined> {
    this.#assertOpen();
    if (id === '') return undefined;
    return getJson<EntityAliasRecord>(this.#storage, keys.alias(id));
  }

  async aliasByFactors(accessor: string, name: string): Promise<EntityAliasRecord | undefined> {
    const id = await this.#id(keys.aliasKey(accessor, name));
    return id === undefined ? undefined : this.getAlias(id);
  }

  async listAliases(): Promise<EntityAliasRecord[]> {
    this.#assertOpen();
    return this.#records(IDENTITY_KEYS.aliasPrefix, (id) => this.getAlias(id));
  }

  #aliasDeletion(alias: EntityAliasRecord): StorageOp[] {
    return [
      del(keys.alias(alias.id)),
      del(keys.aliasKey(alias.mountAccessor, alias.name)),
      del(keys.entityAlias(alias.canonicalId, alias.id)),
    ];
  }

  /**
   * Creates or updates an entity alias. Without `id` and `canonical_id` a new entity is made
   * for it (as Vault does). An entity has at most one alias per auth mount.
   */
  async writeAlias(
    input: EntityAliasInput & { readonly id?: string | undefined },
  ): Promise<{ alias: EntityAliasRecord; created: boolean }> {
    return this.#exclusive(async () => {
      let existing: EntityAliasRecord | undefined;
      if (input.id !== undefined && input.id !== '') {
        existing = await this.getAlias(input.id);
        if (existing === undefined) throw invalidField('id', 'entity alias not found from id');
      }
      const name =
        input.name === undefined || input.name === ''
          ? existing?.name
          : checkName(input.name, 'name');
      if (name === undefined) throw invalidField('name', 'is required');
      const accessor =
        input.mountAccessor === undefined || input.mountAccessor === ''
          ? existing?.mountAccessor
          : this.#requireMount(input.mountAccessor).accessor;
      if (accessor === undefined) throw invalidField('mount_accessor', 'is required');
      const sameFactors = await this.aliasByFactors(accessor, name);
      const now = this.#now();
      const ops: StorageOp[] = [];
      let canonicalId = input.canonicalId === '' ? undefined : input.canonicalId;
      if (sameFactors !== undefined && sameFactors.id !== existing?.id) {
        if (
          existing === undefined &&
          (canonicalId ?? sameFactors.canonicalId) === sameFactors.canonicalId
        ) {
          // The same alias written again: an update of its custom metadata at most.
          existing = sameFactors;
        } else {
          throw invalidField(
            'name',
            'combination of mount and alias name is already in use by another alias',
          );
        }
      }
      canonicalId ??= existing?.canonicalId;
      if (canonicalId === undefined) {
        const entity: EntityRecord = {
          id: randomUUID(),
          name: `entity_${randomBytes(4).toString('hex')}`,
          metadata: {},
          policies: [],
          disabled: false,
          mergedEntityIds: [],
          createdAt: now,
          updatedAt: now,
        };
        ops.push(
          put(keys.entity(entity.id), entity),
          put(keys.entityName(entity.name), { id: entity.id }),
        );
        canonicalId = entity.id;
      } else if ((await this.getEntity(canonicalId)) === undefined) {
        throw invalidField('canonical_id', 'entity not found from canonical_id');
      } else {
        for (const other of await this.entityAliases(canonicalId)) {
          if (other.id !== existing?.id && other.mountAccessor === accessor) {
            throw invalidField(
              'mount_accessor',
              `alias already exists for requested entity and mount accessor (alias ${other.id})`,
            );
          }
        }
      }
      const alias: EntityAliasRecord =
        existing === undefined
          ? {
              id: randomUUID(),
              canonicalId,
              mountAccessor: accessor,
              name,
              metadata: {},
              customMetadata: { ...(input.customMetadata ?? {}) },
              mergedFromCanonicalIds: [],
              createdAt: now,
              updatedAt: now,
            }
          : {
              ...existing,
              canonicalId,
              mountAccessor: accessor,
              name,
              customMetadata:
                input.customMetadata === undefined
                  ? existing.customMetadata
                  : { ...input.customMetadata },
              updatedAt: now,
            };
      if (existing !== undefined) ops.push(...this.#aliasDeletion(existing));
      ops.push(
        put(keys.alias(alias.id), alias),
        put(keys.aliasKey(alias.mountAccessor, alias.name), { id: alias.id }),
        put(keys.entityAlias(alias.canonicalId, alias.id), {}),
      );
      await this.#commit(ops);
      return { alias, created: existing === undefined };
    });
  }

  async deleteAlias(id: string): Promise<void> {
    await this.#exclusive(async () => {
      const alias = await this.getAlias(id);
      if (alias !== undefined) await this.#commit(this.#aliasDeletion(alias));
    });
  }

  /**
   * Deletes every entity alias and group alias on an auth mount (it is being disabled, as in
   * Vault): its accessor can never log in again. Entities and groups stay.
   */
  async deleteAliasesOfMount(accessor: string): Promise<void> {
    await this.#exclusive(async () => {
      const ops: StorageOp[] = [];
      for (const alias of await this.listAliases()) {
        if (alias.mountAccessor === accessor) ops.push(...this.#aliasDeletion(alias));
      }
      for (const alias of await this.listGroupAliases()) {
        if (alias.mountAccessor === accessor) ops.push(...this.#groupAliasDeletion(alias));
      }
      await this.#commit(ops);
    });
  }

  // ---------------------------------------------------------------------------------------
  // Groups

  async #groupSnapshot(): Promise<GroupSnapshot> {
    if (this.#groups !== undefined) return this.#groups;
    const version = this.#version;
    const byId = new Map<string, GroupRecord>();
    const groups = await this.#records(IDENTITY_KEYS.groupPrefix, (id) =>
      getJson<GroupRecord>(this.#storage, keys.group(id)),
    );
    for (const group of groups) byId.set(group.id, group);
    const parents = new Map<string, string[]>();
    for (const group of byId.values()) {
      for (const child of group.memberGroupIds) {
        parents.set(child, [...(parents.get(child) ?? []), group.id]);
      }
    }
    const snapshot = { byId, parents };
    if (this.#version === version) this.#groups = snapshot;
    return snapshot;
  }

  async getGroup(id: string): Promise<GroupRecord | undefined> {
    this.#assertOpen();
    return (await this.#groupSnapshot()).byId.get(id);
  }

  async groupByName(name: string): Promise<GroupRecord | undefined> {
    const id = await this.#id(keys.groupName(name));
    return id === undefined ? undefined : this.getGroup(id);
  }

  async listGroups(): Promise<GroupRecord[]> {
    this.#assertOpen();
    return [...(await this.#groupSnapshot()).byId.values()].sort((a, b) =>
      a.id.localeCompare(b.id),
    );
  }

  /** Ids of the groups listing `groupId` in member_group_ids. */
  async parentGroupIds(groupId: string): Promise<string[]> {
    return [...((await this.#groupSnapshot()).parents.get(groupId) ?? [])].sort();
  }

  async groupAliasOf(groupId: string): Promise<GroupAliasRecord | undefined> {
    for (const alias of await this.listGroupAliases()) {
      if (alias.canonicalId === groupId) return alias;
    }
    return undefined;
  }

  async writeGroup(
    input: GroupInput & { readonly id?: string | undefined },
    options: { readonly byName?: boolean } = {},
  ): Promise<{ group: GroupRecord; created: boolean }> {
    return this.#exclusive(async () => {
      const snapshot = await this.#groupSnapshot();
      let existing: GroupRecord | undefined;
      if (input.id !== undefined && input.id !== '') {
        existing = snapshot.byId.get(input.id);
        if (existing === undefined) throw invalidField('id', 'group not found from id');
      }
      const name =
        input.name === undefined || input.name === '' ? undefined : checkName(input.name);
      if (name !== undefined) {
        const byName = await this.groupByName(name);
        if (byName !== undefined && existing === undefined && options.byName === true) {
          existing = byName;
        } else if (byName !== undefined && byName.id !== existing?.id) {
          throw invalidField('name', 'group name is already in use');
        }
      }
      const type = input.type ?? existing?.type ?? 'internal';
      if (existing !== undefined && input.type !== undefined && input.type !== existing.type) {
        throw invalidField('type', 'group type cannot be changed');
      }
      if (type === 'external') {
        if (input.memberEntityIds !== undefined && input.memberEntityIds.length > 0) {
          throw invalidField(
            'member_entity_ids',
            "member entities can't be set manually for external groups",
          );
        }
        if (input.memberGroupIds !== undefined && input.memberGroupIds.length > 0) {
          throw invalidField('member_group_ids', "member groups can't be set for external groups");
        }
      }
      const id = existing?.id ?? randomUUID();
      const memberEntityIds =
        type === 'external' || input.memberEntityIds === undefined
          ? (existing?.memberEntityIds ?? [])
          : unique(input.memberEntityIds);
      if (type === 'internal' && input.memberEntityIds !== undefined) {
        for (const entityId of memberEntityIds) {
          if ((await this.getEntity(entityId)) === undefined) {
            throw invalidField('member_entity_ids', `entity "${entityId}" does not exist`);
          }
        }
      }
      const memberGroupIds =
        input.memberGroupIds === undefined
          ? (existing?.memberGroupIds ?? [])
          : unique(input.memberGroupIds);
      for (const child of input.memberGroupIds === undefined ? [] : memberGroupIds) {
        if (child === id)
          throw invalidField('member_group_ids', 'a group cannot be its own member');
        if (!snapshot.byId.has(child)) {
          throw invalidField('member_group_ids', `group "${child}" does not exist`);
        }
        // SECURITY: a cycle would make inheritance unbounded; refuse it as Vault does.
        if (this.#descends(snapshot, child, id)) {
          throw invalidField(
            'member_group_ids',
            `group "${child}" already has this group as a member (directly or nested): that would be a cycle`,
          );
        }
      }
      const now = this.#now();
      const group: GroupRecord = {
        id,
        name: name ?? existing?.name ?? `group_${randomBytes(4).toString('hex')}`,
        type,
        metadata: input.metadata === undefined ? (existing?.metadata ?? {}) : { ...input.metadata },
        policies:
          input.policies === undefined
            ? (existing?.policies ?? [])
            : identityPolicies(input.policies),
        memberEntityIds,
        memberGroupIds,
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
        modifyIndex: (existing?.modifyIndex ?? 0) + 1,
      };
      const ops: StorageOp[] = [put(keys.group(id), group)];
      if (existing !== undefined && existing.name.toLowerCase() !== group.name.toLowerCase()) {
        ops.push(del(keys.groupName(existing.name)));
      }
      ops.push(put(keys.groupName(group.name), { id }));
      await this.#commit(ops);
      return { group, created: existing === undefined };
    });
  }

  /** Whether `target` is `from` or one of its (nested) member groups. */
  #descends(snapshot: GroupSnapshot, from: string, target: string): boolean {
    const seen = new Set<string>();
    const stack = [from];
    while (stack.length > 0) {
      const id = stack.pop()!;
      if (id === target) return true;
      if (seen.has(id)) continue;
      seen.add(id);
      stack.push(...(snapshot.byId.get(id)?.memberGroupIds ?? []));
    }
    return false;
  }

  /** Deletes a group, its alias, and its place in other groups' member_group_ids. */
  async deleteGroup(id: string): Promise<void> {
    await this.#exclusive(async () => {
      const snapshot = await this.#groupSnapshot();
      const group = snapshot.byId.get(id);
      if (group === undefined) return;
      const ops: StorageOp[] = [del(keys.group(id)), del(keys.groupName(group.name))];
      const now = this.#now();
      for (const parentId of snapshot.parents.get(id) ?? []) {
        const parent = snapshot.byId.get(parentId);
        if (parent === undefined) continue;
        ops.push(
          put(keys.group(parentId), {
            ...parent,
            memberGroupIds: parent.memberGroupIds.filter((m) => m !== id),
            updatedAt: now,
            modifyIndex: parent.modifyIndex + 1,
          }),
        );
      }
      const alias = await this.groupAliasOf(id);
      if (alias !== undefined) ops.push(...this.#groupAliasDeletion(alias));
      await this.#commit(ops);
    });
  }

  // ---------------------------------------------------------------------------------------
  // Group aliases

  async getGroupAlias(id: string): Promise<GroupAliasRecord | undefined> {
    this.#assertOpen();
    if (id === '') return undefined;
    return getJson<GroupAliasRecord>(this.#storage, keys.groupAlias(id));
  }

  async groupAliasByFactors(accessor: string, name: string): Promise<GroupAliasRecord | undefined> {
    const id = await this.#id(keys.groupAliasKey(accessor, name));
    return id === undefined ? undefined : this.getGroupAlias(id);
  }

  async listGroupAliases(): Promise<GroupAliasRecord[]> {
    this.#assertOpen();
    return this.#records(IDENTITY_KEYS.groupAliasPrefix, (id) => this.getGroupAlias(id));
  }

  #groupAliasDeletion(alias: GroupAliasRecord): StorageOp[] {
    return [
      del(keys.groupAlias(alias.id)),
      del(keys.groupAliasKey(alias.mountAccessor, alias.name)),
    ];
  }

  /**
   * Creates or updates a group alias. Only external groups have aliases; without
   * `canonical_id` a new external group is created for it (as Vault does).
   */
  async writeGroupAlias(
    input: GroupAliasInput & { readonly id?: string | undefined },
  ): Promise<{ alias: GroupAliasRecord; created: boolean }> {
    return this.#exclusive(async () => {
      let existing: GroupAliasRecord | undefined;
      if (input.id !== undefined && input.id !== '') {
        existing = await this.getGroupAlias(input.id);
        if (existing === undefined) throw invalidField('id', 'group alias not found from id');
      }
      const name =
        input.name === undefined || input.name === '' ? existing?.name : checkName(input.name);
      if (name === undefined) throw invalidField('name', 'is required');
      const mount =
        input.mountAccessor === undefined || input.mountAccessor === ''
          ? undefined
          : this.#requireMount(input.mountAccessor);
      const accessor = mount?.accessor ?? existing?.mountAccessor;
      if (accessor === undefined) throw invalidField('mount_accessor', 'is required');
      if (mount?.local === true) {
        throw invalidField('mount_accessor', 'mount accessor belongs to a local mount');
      }
      const sameFactors = await this.groupAliasByFactors(accessor, name);
      if (sameFactors !== undefined && sameFactors.id !== existing?.id) {
        throw invalidField('name', 'combination of mount and group alias name is already in use');
      }
      const now = this.#now();
      const ops: StorageOp[] = [];
      const snapshot = await this.#groupSnapshot();
      let canonicalId =
        input.canonicalId === undefined || input.canonicalId === ''
          ? existing?.canonicalId
          : input.canonicalId;
      if (canonicalId === undefined) {
        const group: GroupRecord = {
          id: randomUUID(),
          name: `group_${randomBytes(4).toString('hex')}`,
          type: 'external',
          metadata: {},
          policies: [],
          memberEntityIds: [],
          memberGroupIds: [],
          createdAt: now,
          updatedAt: now,
          modifyIndex: 1,
        };
        ops.push(
          put(keys.group(group.id), group),
          put(keys.groupName(group.name), { id: group.id }),
        );
        canonicalId = group.id;
      } else {
        const group = snapshot.byId.get(canonicalId);
        if (group === undefined)
          throw invalidField('canonical_id', 'group not found from canonical_id');
        if (group.type !== 'external') {
          throw invalidField('canonical_id', "alias can't be set on an internal group");
        }
        const current = await this.groupAliasOf(canonicalId);
        if (current !== undefined && current.id !== existing?.id) {
          // A group has one alias: the new one replaces it (as in Vault).
          ops.push(...this.#groupAliasDeletion(current));
        }
      }
      const alias: GroupAliasRecord = {
        id: existing?.id ?? randomUUID(),
        canonicalId,
        mountAccessor: accessor,
        name,
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      };
      if (existing !== undefined) ops.push(...this.#groupAliasDeletion(existing));
      ops.push(
        put(keys.groupAlias(alias.id), alias),
        put(keys.groupAliasKey(accessor, name), { id: alias.id }),
      );
      await this.#commit(ops);
      return { alias, created: existing === undefined };
    });
  }

  async deleteGroupAlias(id: string): Promise<void> {
    await this.#exclusive(async () => {
      const alias = await this.getGroupAlias(id);
      if (alias !== undefined) await this.#commit(this.#groupAliasDeletion(alias));
    });
  }

  // ---------------------------------------------------------------------------------------
  // Merge

  /**
   * Merges `fromIds` into `toId`: their aliases and group memberships move over, their ids
   * are recorded (tokens issued to them resolve to `toId`), and they are deleted. Two aliases
   * on one mount conflict; `keepAliasIds` names the one to keep (only with one from-entity).
   */
  async merge(
    fromIds: readonly string[],
    toId: string,
    keepAliasIds: readonly string[],
  ): Promise<void> {
    await this.#exclusive(async () => {
      const to = await this.getEntity(toId);
      if (to === undefined) throw invalidField('to_entity_id', 'entity id to merge to is invalid');
      const froms = unique(fromIds).filter((id) => id !== toId);
      if (froms.length === 0) throw invalidField('from_entity_ids', 'is required');
      if (keepAliasIds.length > 0 && froms.length > 1) {
        throw invalidField(
          'conflicting_alias_ids_to_keep',
          'can only be given when merging a single entity',
        );
      }
      const now = this.#now();
      const ops: StorageOp[] = [];
      const toAliases = await this.entityAliases(toId);
      const byAccessor = new Map(toAliases.map((a) => [a.mountAccessor, a]));
      const merged = new Set(to.mergedEntityIds);
      const snapshot = await this.#groupSnapshot();
      const groups = new Map(snapshot.byId);
      for (const fromId of froms) {
        const from = await this.getEntity(fromId);
        if (from === undefined) {
          throw invalidField('from_entity_ids', `entity "${fromId}" to merge from is invalid`);
        }
        for (const alias of await this.entityAliases(fromId)) {
          const clash = byAccessor.get(alias.mountAccessor);
          ops.push(...this.#aliasDeletion(alias));
          if (clash !== undefined) {
            if (keepAliasIds.includes(alias.id)) {
              ops.push(...this.#aliasDeletion(clash));
            } else if (keepAliasIds.includes(clash.id)) {
              continue;
            } else {
              throw invalidField(
                'conflicting_alias_ids_to_keep',
                `conflicting mount accessors in aliases ${clash.id} and ${alias.id}; name the one to keep`,
              );
            }
          }
          const moved: EntityAliasRecord = {
            ...alias,
            canonicalId: toId,
            mergedFromCanonicalIds: [...alias.mergedFromCanonicalIds, fromId],
            updatedAt: now,
          };
          byAccessor.set(moved.mountAccessor, moved);
          ops.push(
            put(keys.alias(moved.id), moved),
            put(keys.aliasKey(moved.mountAccessor, moved.name), { id: moved.id }),
            put(keys.entityAlias(toId, moved.id), {}),
          );
        }
        for (const [gid, group] of groups) {
          if (!group.memberEntityIds.includes(fromId)) continue;
          groups.set(gid, {
            ...group,
            memberEntityIds: unique([...group.memberEntityIds.filter((m) => m !== fromId), toId]),
            updatedAt: now,
            modifyIndex: group.modifyIndex + 1,
          });
        }
        merged.add(fromId);
        for (const id of from.mergedEntityIds) merged.add(id);
        ops.push(
          del(keys.entity(fromId)),
          del(keys.entityName(from.name)),
          put(keys.merged(fromId), { id: toId }),
        );
        for (const id of from.mergedEntityIds) ops.push(put(keys.merged(id), { id: toId }));
      }
      for (const [gid, group] of groups) {
        if (group !== snapshot.byId.get(gid)) ops.push(put(keys.group(gid), group));
      }
      ops.push(put(keys.entity(toId), { ...to, mergedEntityIds: [...merged], updatedAt: now }));
      await this.#commit(ops);
    });
  }

  // ---------------------------------------------------------------------------------------
  // Logins

  /**
   * The entity a login maps to, found by (mount accessor, alias name) or created with that
   * alias; the alias's metadata follows the login's. With `groupAliases`, the entity's
   * memberships of external groups bound to this mount are set to exactly those whose group
   * alias names were reported (unknown names are ignored, as Vault does).
   */
  async loginEntity(login: LoginIdentity): Promise<EntityRecord> {
    this.#assertOpen();
    if (login.aliasName === '') {
      throw new CofferError('invalid_request', 'missing name in alias');
    }
    const accessor = login.mount.accessor;
    let alias = await this.aliasByFactors(accessor, login.aliasName);
    let entity = alias === undefined ? undefined : await this.getEntity(alias.canonicalId);
    if (
      alias === undefined ||
      entity === undefined ||
      !sameMap(alias.metadata, login.aliasMetadata)
    ) {
      entity = await this.#exclusive(async () => {
        const now = this.#now();
        const ops: StorageOp[] = [];
        alias = await this.aliasByFactors(accessor, login.aliasName);
        let found = alias === undefined ? undefined : await this.getEntity(alias.canonicalId);
        if (found === undefined) {
          found = {
            id: randomUUID(),
            name: `entity_${randomBytes(4).toString('hex')}`,
            metadata: {},
            policies: [],
            disabled: false,
            mergedEntityIds: [],
            createdAt: now,
            updatedAt: now,
          };
          ops.push(
            put(keys.entity(found.id), found),
            put(keys.entityName(found.name), { id: found.id }),
          );
          if (alias !== undefined) ops.push(...this.#aliasDeletion(alias));
          alias = {
            id: randomUUID(),
            canonicalId: found.id,
            mountAccessor: accessor,
            name: login.aliasName,
            metadata: { ...login.aliasMetadata },
            customMetadata: {},
            mergedFromCanonicalIds: [],
            createdAt: now,
            updatedAt: now,
          };
        } else if (alias !== undefined && !sameMap(alias.metadata, login.aliasMetadata)) {
          alias = { ...alias, metadata: { ...login.aliasMetadata }, updatedAt: now };
        } else {
          return found;
        }
        ops.push(
          put(keys.alias(alias.id), alias),
          put(keys.aliasKey(accessor, alias.name), { id: alias.id }),
          put(keys.entityAlias(found.id, alias.id), {}),
        );
        await this.#commit(ops);
        return found;
      });
    }
    if (login.groupAliases !== undefined) {
      await this.#refreshExternalGroups(entity.id, accessor, login.groupAliases);
    }
    return entity;
  }

  async #refreshExternalGroups(
    entityId: string,
    accessor: string,
    names: readonly string[],
  ): Promise<void> {
    const wanted = new Set<string>();
    for (const name of names) {
      if (name === '') continue;
      const alias = await this.groupAliasByFactors(accessor, name);
      if (alias !== undefined) wanted.add(alias.canonicalId);
    }
    const needsChange = async (): Promise<GroupRecord[]> => {
      const changed: GroupRecord[] = [];
      const snapshot = await this.#groupSnapshot();
      const bound = new Set(
        (await this.listGroupAliases())
          .filter((a) => a.mountAccessor === accessor)
          .map((a) => a.canonicalId),
      );
      const now = this.#now();
      for (const group of snapshot.byId.values()) {
        if (group.type !== 'external' || !bound.has(group.id)) continue;
        const member = group.memberEntityIds.includes(entityId);
        const want = wanted.has(group.id);
        if (member === want) continue;
        changed.push({
          ...group,
          memberEntityIds: want
            ? [...group.memberEntityIds, entityId]
            : group.memberEntityIds.filter((m) => m !== entityId),
          updatedAt: now,
          modifyIndex: group.modifyIndex + 1,
        });
      }
      return changed;
    };
    if ((await needsChange()).length === 0) return;
    await this.#exclusive(async () => {
      const changed = await needsChange();
      await this.#commit(changed.map((g) => put(keys.group(g.id), g)));
    });
  }

  // ---------------------------------------------------------------------------------------
  // Resolution

  /**
   * What a token's entity stands for now: the entity (following merges), its aliases, every
   * group it is in directly or through nested groups, and the policies they add. Undefined
   * when the entity no longer exists. Cached until the next identity write.
   */
  async resolve(entityId: string): Promise<ResolvedIdentity | undefined> {
    this.#assertOpen();
    const cached = this.#resolved.get(entityId);
    if (cached !== undefined) return cached ?? undefined;
    const version = this.#version;
    const entity = await this.currentEntity(entityId);
    let resolved: ResolvedIdentity | undefined;
    if (entity !== undefined) {
      const aliases = await this.entityAliases(entity.id);
      const snapshot = await this.#groupSnapshot();
      const direct = [...snapshot.byId.values()]
        .filter((g) => g.memberEntityIds.includes(entity.id))
        .map((g) => g.id)
        .sort();
      const all = new Set(direct);
      const stack = [...direct];
      while (stack.length > 0) {
        for (const parent of snapshot.parents.get(stack.pop()!) ?? []) {
          if (all.has(parent)) continue;
          all.add(parent);
          stack.push(parent);
        }
      }
      const groups = [...all].map((id) => snapshot.byId.get(id)!).filter((g) => g !== undefined);
      const policies = sanitizePolicies(
        [...entity.policies, ...groups.flatMap((g) => g.policies)].filter(
          (p) => p.trim().toLowerCase() !== 'root',
        ),
        false,
      );
      resolved = {
        entity,
        aliases,
        groups,
        directGroupIds: direct,
        inheritedGroupIds: [...all].filter((id) => !direct.includes(id)).sort(),
        policies,
      };
    }
    if (this.#version === version && this.#open) {
      if (this.#resolved.size >= RESOLVED_CACHE_MAX) this.#resolved.clear();
      this.#resolved.set(entityId, resolved ?? null);
    }
    return resolved;
  }
}
