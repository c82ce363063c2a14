// The `identity/` backend: entities, entity aliases, groups, group aliases, lookups and
// merge, with Vault's request fields and response shapes (a new object answers its id, an
// update answers 204, an empty list and an unknown id are 404, a lookup that finds nothing
// is 204). Built into the core like `auth/token/`: always mounted, never disabled.
import type { EngineResult } from '../../sdk/engine.js';
import { CofferError, invalidField } from '../../sdk/errors.js';
import { parseStringMap, type FieldSpecs } from '../../sdk/fields.js';
import { isPlainObject, type JsonObject } from '../../sdk/json.js';
import { createContextPathEngine, definePath, type PathSpec } from '../../sdk/path.js';
import type { Caller, InternalBackend } from '../caller.js';
import {
  iso,
  renderEntityAlias,
  renderGroupAlias,
  type EntityAliasRecord,
  type EntityRecord,
  type GroupAliasRecord,
  type GroupRecord,
  type GroupType,
} from './records.js';
import type { IdentityStore } from './store.js';

type IdentityPath = PathSpec<FieldSpecs, Caller>;

/** Vault's TypeKVPairs: an object of strings, or a list of `key=value` strings. */
export function parseKvPairs(value: unknown, field: string): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (isPlainObject(value)) return parseStringMap(value, field);
  const list =
    typeof value === 'string'
      ? value === ''
        ? []
        : value.split(',')
      : Array.isArray(value)
        ? value
        : undefined;
  if (list === undefined) throw invalidField(field, 'must be an object or a list of key=value');
  const out: Record<string, string> = {};
  for (const item of list) {
    if (typeof item !== 'string') throw invalidField(field, 'must be a list of key=value strings');
    const eq = item.indexOf('=');
    if (eq <= 0) throw invalidField(field, 'must be a list of key=value strings');
    out[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
  }
  return out;
}

/** `specs` without the field that comes from the path instead. */
function without<F extends FieldSpecs, K extends keyof F & string>(specs: F, key: K): Omit<F, K> {
  return Object.fromEntries(Object.entries(specs).filter(([name]) => name !== key)) as Omit<F, K>;
}

function groupType(value: string | undefined): GroupType | undefined {
  if (value === undefined || value === '') return undefined;
  const lower = value.toLowerCase();
  if (lower !== 'internal' && lower !== 'external') {
    throw invalidField('type', 'must be "internal" or "external"');
  }
  return lower;
}

function notFound(what: string): CofferError {
  return new CofferError('not_found', `${what} not found`);
}

const ENTITY_FIELDS = {
  name: { type: 'string', description: 'Name of the entity; generated when empty.' },
  id: { type: 'string', description: 'ID of the entity to update; absent: a new entity.' },
  metadata: {
    type: 'any',
    description: 'Metadata: an object of strings, or a list of key=value strings.',
  },
  policies: { type: 'string-list', description: 'Policies the entity adds to its tokens.' },
  disabled: { type: 'bool', description: 'Tokens of a disabled entity are refused.' },
} as const satisfies FieldSpecs;

const ALIAS_FIELDS = {
  id: { type: 'string', description: 'ID of the alias to update.' },
  name: { type: 'string', description: 'Name of the alias: who the user is to the auth mount.' },
  mount_accessor: { type: 'string', description: 'Accessor of the auth mount of the alias.' },
  canonical_id: { type: 'string', description: 'Entity ID the alias belongs to.' },
  entity_id: { type: 'string', description: 'Deprecated synonym of canonical_id.' },
  custom_metadata: { type: 'any', description: 'Metadata set by the operator.' },
} as const satisfies FieldSpecs;

const GROUP_FIELDS = {
  name: { type: 'string', description: 'Name of the group; generated when empty.' },
  id: { type: 'string', description: 'ID of the group to update.' },
  type: { type: 'string', description: '"internal" (default) or "external".' },
  metadata: { type: 'any', description: 'Metadata: an object or key=value strings.' },
  policies: { type: 'string-list', description: 'Policies the group adds to its members.' },
  member_entity_ids: {
    type: 'string-list',
    description: 'Entity IDs that are members (internal groups only).',
  },
  member_group_ids: {
    type: 'string-list',
    description: 'Group IDs that are members and inherit its policies (internal groups only).',
  },
} as const satisfies FieldSpecs;

const GROUP_ALIAS_FIELDS = {
  id: { type: 'string', description: 'ID of the group alias to update.' },
  name: { type: 'string', description: 'The group name the auth mount reports.' },
  mount_accessor: { type: 'string', description: 'Accessor of the auth mount.' },
  canonical_id: { type: 'string', description: 'ID of the external group.' },
} as const satisfies FieldSpecs;

const LOOKUP_FIELDS = {
  name: { type: 'string', description: 'Name to look up.' },
  id: { type: 'string', description: 'ID to look up.' },
  alias_id: { type: 'string', description: 'ID of an alias.' },
  alias_name: { type: 'string', description: 'Name of an alias (with alias_mount_accessor).' },
  alias_mount_accessor: { type: 'string', description: 'Mount accessor of alias_name.' },
} as const satisfies FieldSpecs;

type LookupFields = { readonly [K in keyof typeof LOOKUP_FIELDS]: string | undefined };

export function createIdentityBackend(deps: {
  store: IdentityStore;
  /** Identity token paths (oidc.ts), served by the same backend. */
  extraPaths?: readonly IdentityPath[];
}): InternalBackend {
  const { store } = deps;

  const renderAliasOf = (alias: EntityAliasRecord): JsonObject =>
    renderEntityAlias(alias, store.authMount(alias.mountAccessor));

  const renderEntity = async (entity: EntityRecord): Promise<JsonObject> => {
    const resolved = await store.resolve(entity.id);
    const direct = resolved?.directGroupIds ?? [];
    const inherited = resolved?.inheritedGroupIds ?? [];
    return {
      id: entity.id,
      name: entity.name,
      metadata: { ...entity.metadata },
      policies: [...entity.policies],
      disabled: entity.disabled,
      namespace_id: 'root',
      bucket_key_hash: '',
      merged_entity_ids: entity.mergedEntityIds.length > 0 ? [...entity.mergedEntityIds] : null,
      creation_time: iso(entity.createdAt),
      last_update_time: iso(entity.updatedAt),
      direct_group_ids: [...direct],
      inherited_group_ids: [...inherited],
      group_ids: [...direct, ...inherited],
      aliases: (resolved?.aliases ?? []).map(renderAliasOf),
      mfa_secrets: {},
    };
  };

  const renderGroup = async (group: GroupRecord): Promise<JsonObject> => {
    const alias = await store.groupAliasOf(group.id);
    return {
      id: group.id,
      name: group.name,
      type: group.type,
      policies: [...group.policies],
      metadata: { ...group.metadata },
      member_entity_ids: [...group.memberEntityIds],
      member_group_ids: [...group.memberGroupIds],
      parent_group_ids: await store.parentGroupIds(group.id),
      creation_time: iso(group.createdAt),
      last_update_time: iso(group.updatedAt),
      modify_index: group.modifyIndex,
      namespace_id: 'root',
      alias:
        alias === undefined ? {} : renderGroupAlias(alias, store.authMount(alias.mountAccessor)),
    };
  };

  const renderGroupAliasOf = (alias: GroupAliasRecord): JsonObject =>
    renderGroupAlias(alias, store.authMount(alias.mountAccessor));

  const entityInput = (f: {
    name: string | undefined;
    metadata: unknown;
    policies: string[] | undefined;
    disabled: boolean | undefined;
  }) => ({
    name: f.name === '' ? undefined : f.name,
    metadata: parseKvPairs(f.metadata, 'metadata'),
    policies: f.policies,
    disabled: f.disabled,
  });

  const entityWritten = (entity: EntityRecord, created: boolean): EngineResult =>
    created
      ? { kind: 'data', data: { id: entity.id, name: entity.name, aliases: null } }
      : { kind: 'empty' };

  const entityById = async (id: string): Promise<EntityRecord> => {
    const entity = await store.getEntity(id);
    if (entity === undefined) throw notFound('entity');
    return entity;
  };

  const listEntities = async (by: 'id' | 'name'): Promise<EngineResult> => {
    const entities = await store.listEntities();
    if (entities.length === 0) throw notFound('entities');
    const aliases = await store.listAliases();
    const keyInfo: JsonObject = {};
    for (const entity of entities) {
      keyInfo[by === 'id' ? entity.id : entity.name] = {
        ...(by === 'id' ? { name: entity.name } : { id: entity.id }),
        aliases: aliases
          .filter((a) => a.canonicalId === entity.id)
          .map((a) => {
            const mount = store.authMount(a.mountAccessor);
            return {
              id: a.id,
              name: a.name,
              mount_accessor: a.mountAccessor,
              mount_type: mount?.type ?? '',
              mount_path: mount?.path ?? '',
            };
          }),
      };
    }
    return {
      kind: 'data',
      data: { keys: Object.keys(keyInfo).sort(), key_info: keyInfo },
    };
  };

  const entity = definePath<typeof ENTITY_FIELDS, Caller>({
    pattern: 'entity',
    fields: ENTITY_FIELDS,
    help: 'Creates an entity, or updates the one named by id.',
    operations: {
      update: async (_req, f) => {
        const { entity: written, created } = await store.writeEntity({
          ...entityInput(f),
          id: f.id,
        });
        return entityWritten(written, created);
      },
    },
  });

  const entityByName = definePath<Omit<typeof ENTITY_FIELDS, 'name'>, Caller>({
    pattern: 'entity/name/:name',
    fields: {
      id: ENTITY_FIELDS.id,
      metadata: ENTITY_FIELDS.metadata,
      policies: ENTITY_FIELDS.policies,
      disabled: ENTITY_FIELDS.disabled,
    },
    help: 'Reads, creates or updates, and deletes an entity by name.',
    operations: {
      read: async (_req, _f, params) => {
        const found = await store.entityByName(params.name ?? '');
        if (found === undefined) throw notFound('entity');
        return { kind: 'data', data: await renderEntity(found) };
      },
      update: async (_req, f, params) => {
        const { entity: written, created } = await store.writeEntity(
          { ...entityInput({ ...f, name: params.name }) },
          { byName: true },
        );
        return entityWritten(written, created);
      },
      delete: async (_req, _f, params) => {
        const found = await store.entityByName(params.name ?? '');
        if (found !== undefined) await store.deleteEntity(found.id);
        return { kind: 'empty' };
      },
    },
  });

  const entityById_ = definePath<Omit<typeof ENTITY_FIELDS, 'id'>, Caller>({
    pattern: 'entity/id/:id',
    fields: {
      name: ENTITY_FIELDS.name,
      metadata: ENTITY_FIELDS.metadata,
      policies: ENTITY_FIELDS.policies,
      disabled: ENTITY_FIELDS.disabled,
    },
    help: 'Reads, updates and deletes an entity by id.',
    operations: {
      read: async (_req, _f, params) => ({
        kind: 'data',
        data: await renderEntity(await entityById(params.id ?? '')),
      }),
      update: async (_req, f, params) => {
        const { entity: written, created } = await store.writeEntity({
          ...entityInput(f),
          id: params.id,
        });
        return entityWritten(written, created);
      },
      delete: async (_req, _f, params) => {
        await store.deleteEntity(params.id ?? '');
        return { kind: 'empty' };
      },
    },
  });

  const entityIdList = definePath<FieldSpecs, Caller>({
    pattern: 'entity/id',
    fields: {},
    help: 'Lists entities by id.',
    operations: { list: () => listEntities('id') },
  });

  const entityNameList = definePath<FieldSpecs, Caller>({
    pattern: 'entity/name',
    fields: {},
    help: 'Lists entities by name.',
    operations: { list: () => listEntities('name') },
  });

  const batchDelete = definePath<
    { entity_ids: { type: 'string-list'; description: string; required: true } },
    Caller
  >({
    pattern: 'entity/batch-delete',
    fields: {
      entity_ids: { type: 'string-list', description: 'Entity IDs to delete.', required: true },
    },
    help: 'Deletes several entities.',
    operations: {
      update: async (_req, f) => {
        for (const id of f.entity_ids ?? []) await store.deleteEntity(id);
        return { kind: 'empty' };
      },
    },
  });

  const merge = definePath<
    {
      from_entity_ids: { type: 'string-list'; description: string; required: true };
      to_entity_id: { type: 'string'; description: string; required: true };
      force: { type: 'bool'; description: string };
      conflicting_alias_ids_to_keep: { type: 'string-list'; description: string };
    },
    Caller
  >({
    pattern: 'entity/merge',
    fields: {
      from_entity_ids: {
        type: 'string-list',
        description: 'Entities to merge into to_entity_id (deleted afterwards).',
        required: true,
      },
      to_entity_id: { type: 'string', description: 'The entity that remains.', required: true },
      force: { type: 'bool', description: 'Accepted for compatibility (no MFA secrets here).' },
      conflicting_alias_ids_to_keep: {
        type: 'string-list',
        description: 'Where two aliases share a mount, the ids of the ones to keep.',
      },
    },
    help: 'Merges entities into one.',
    operations: {
      update: async (_req, f) => {
        await store.merge(
          f.from_entity_ids ?? [],
          f.to_entity_id ?? '',
          f.conflicting_alias_ids_to_keep ?? [],
        );
        return { kind: 'empty' };
      },
    },
  });

  // ---- entity aliases ----

  const aliasWritten = (alias: EntityAliasRecord): EngineResult => ({
    kind: 'data',
    data: { id: alias.id, canonical_id: alias.canonicalId },
  });

  const aliasInput = (f: {
    name: string | undefined;
    mount_accessor: string | undefined;
    canonical_id: string | undefined;
    entity_id: string | undefined;
    custom_metadata: unknown;
  }) => ({
    name: f.name,
    mountAccessor: f.mount_accessor,
    canonicalId: f.canonical_id ?? f.entity_id,
    customMetadata: parseKvPairs(f.custom_metadata, 'custom_metadata'),
  });

  const entityAlias = definePath<typeof ALIAS_FIELDS, Caller>({
    pattern: 'entity-alias',
    fields: ALIAS_FIELDS,
    help: 'Creates an entity alias, or updates the one named by id.',
    operations: {
      update: async (_req, f) => {
        if ((f.id === undefined || f.id === '') && (f.name === undefined || f.name === '')) {
          throw invalidField('name', 'is required');
        }
        const { alias } = await store.writeAlias({ ...aliasInput(f), id: f.id });
        return aliasWritten(alias);
      },
    },
  });

  const entityAliasById = definePath<Omit<typeof ALIAS_FIELDS, 'id'>, Caller>({
    pattern: 'entity-alias/id/:id',
    fields: {
      name: ALIAS_FIELDS.name,
      mount_accessor: ALIAS_FIELDS.mount_accessor,
      canonical_id: ALIAS_FIELDS.canonical_id,
      entity_id: ALIAS_FIELDS.entity_id,
      custom_metadata: ALIAS_FIELDS.custom_metadata,
    },
    help: 'Reads, updates and deletes an entity alias.',
    operations: {
      read: async (_req, _f, params) => {
        const alias = await store.getAlias(params.id ?? '');
        if (alias === undefined) throw notFound('entity alias');
        return { kind: 'data', data: renderAliasOf(alias) };
      },
      update: async (_req, f, params) => {
        const { alias } = await store.writeAlias({ ...aliasInput(f), id: params.id });
        return aliasWritten(alias);
      },
      delete: async (_req, _f, params) => {
        await store.deleteAlias(params.id ?? '');
        return { kind: 'empty' };
      },
    },
  });

  const entityAliasList = definePath<FieldSpecs, Caller>({
    pattern: 'entity-alias/id',
    fields: {},
    help: 'Lists entity aliases by id.',
    operations: {
      list: async () => {
        const aliases = await store.listAliases();
        if (aliases.length === 0) throw notFound('entity aliases');
        const keyInfo: JsonObject = {};
        for (const alias of aliases) {
          const mount = store.authMount(alias.mountAccessor);
          keyInfo[alias.id] = {
            name: alias.name,
            canonical_id: alias.canonicalId,
            mount_accessor: alias.mountAccessor,
            custom_metadata: { ...alias.customMetadata },
            local: mount?.local ?? false,
            mount_type: mount?.type ?? '',
            mount_path: mount?.path ?? '',
          };
        }
        return { kind: 'data', data: { keys: Object.keys(keyInfo).sort(), key_info: keyInfo } };
      },
    },
  });

  // ---- groups ----

  const groupInput = (f: {
    name: string | undefined;
    type: string | undefined;
    metadata: unknown;
    policies: string[] | undefined;
    member_entity_ids: string[] | undefined;
    member_group_ids: string[] | undefined;
  }) => ({
    name: f.name,
    type: groupType(f.type),
    metadata: parseKvPairs(f.metadata, 'metadata'),
    policies: f.policies,
    memberEntityIds: f.member_entity_ids,
    memberGroupIds: f.member_group_ids,
  });

  const groupWritten = (group: GroupRecord, created: boolean): EngineResult =>
    created ? { kind: 'data', data: { id: group.id, name: group.name } } : { kind: 'empty' };

  const listGroups = async (by: 'id' | 'name'): Promise<EngineResult> => {
    const groups = await store.listGroups();
    if (groups.length === 0) throw notFound('groups');
    const keyInfo: JsonObject = {};
    for (const group of groups) {
      const alias = await store.groupAliasOf(group.id);
      keyInfo[by === 'id' ? group.id : group.name] = {
        ...(by === 'id' ? { name: group.name } : { id: group.id }),
        num_member_entities: group.memberEntityIds.length,
        num_parent_groups: (await store.parentGroupIds(group.id)).length,
        alias:
          alias === undefined
            ? {}
            : { id: alias.id, name: alias.name, mount_accessor: alias.mountAccessor },
      };
    }
    return { kind: 'data', data: { keys: Object.keys(keyInfo).sort(), key_info: keyInfo } };
  };

  const group = definePath<typeof GROUP_FIELDS, Caller>({
    pattern: 'group',
    fields: GROUP_FIELDS,
    help: 'Creates a group, or updates the one named by id.',
    operations: {
      update: async (_req, f) => {
        const { group: written, created } = await store.writeGroup({
          ...groupInput(f),
          id: f.id,
        });
        return groupWritten(written, created);
      },
    },
  });

  const groupFieldsNoName = without(GROUP_FIELDS, 'name');
  const groupFieldsNoId = without(GROUP_FIELDS, 'id');

  const groupByName = definePath<typeof groupFieldsNoName, Caller>({
    pattern: 'group/name/:name',
    fields: groupFieldsNoName,
    help: 'Reads, creates or updates, and deletes a group by name.',
    operations: {
      read: async (_req, _f, params) => {
        const found = await store.groupByName(params.name ?? '');
        if (found === undefined) throw notFound('group');
        return { kind: 'data', data: await renderGroup(found) };
      },
      update: async (_req, f, params) => {
        const { group: written, created } = await store.writeGroup(
          { ...groupInput({ ...f, name: params.name }) },
          { byName: true },
        );
        return groupWritten(written, created);
      },
      delete: async (_req, _f, params) => {
        const found = await store.groupByName(params.name ?? '');
        if (found !== undefined) await store.deleteGroup(found.id);
        return { kind: 'empty' };
      },
    },
  });

  const groupById = definePath<typeof groupFieldsNoId, Caller>({
    pattern: 'group/id/:id',
    fields: groupFieldsNoId,
    help: 'Reads, updates and deletes a group by id.',
    operations: {
      read: async (_req, _f, params) => {
        const found = await store.getGroup(params.id ?? '');
        if (found === undefined) throw notFound('group');
        return { kind: 'data', data: await renderGroup(found) };
      },
      update: async (_req, f, params) => {
        const { group: written, created } = await store.writeGroup({
          ...groupInput(f),
          id: params.id,
        });
        return groupWritten(written, created);
      },
      delete: async (_req, _f, params) => {
        await store.deleteGroup(params.id ?? '');
        return { kind: 'empty' };
      },
    },
  });

  const groupIdList = definePath<FieldSpecs, Caller>({
    pattern: 'group/id',
    fields: {},
    help: 'Lists groups by id.',
    operations: { list: () => listGroups('id') },
  });

  const groupNameList = definePath<FieldSpecs, Caller>({
    pattern: 'group/name',
    fields: {},
    help: 'Lists groups by name.',
    operations: { list: () => listGroups('name') },
  });

  // ---- group aliases ----

  const groupAliasWritten = (alias: GroupAliasRecord): EngineResult => ({
    kind: 'data',
    data: { id: alias.id, canonical_id: alias.canonicalId },
  });

  const groupAlias = definePath<typeof GROUP_ALIAS_FIELDS, Caller>({
    pattern: 'group-alias',
    fields: GROUP_ALIAS_FIELDS,
    help: 'Creates a group alias (binding an external group to a group name an auth mount reports).',
    operations: {
      update: async (_req, f) => {
        const { alias } = await store.writeGroupAlias({
          id: f.id,
          name: f.name,
          mountAccessor: f.mount_accessor,
          canonicalId: f.canonical_id,
        });
        return groupAliasWritten(alias);
      },
    },
  });

  const groupAliasFieldsNoId = without(GROUP_ALIAS_FIELDS, 'id');

  const groupAliasById = definePath<typeof groupAliasFieldsNoId, Caller>({
    pattern: 'group-alias/id/:id',
    fields: groupAliasFieldsNoId,
    help: 'Reads, updates and deletes a group alias.',
    operations: {
      read: async (_req, _f, params) => {
        const alias = await store.getGroupAlias(params.id ?? '');
        if (alias === undefined) throw notFound('group alias');
        return { kind: 'data', data: renderGroupAliasOf(alias) };
      },
      update: async (_req, f, params) => {
        const { alias } = await store.writeGroupAlias({
          id: params.id,
          name: f.name,
          mountAccessor: f.mount_accessor,
          canonicalId: f.canonical_id,
        });
        return groupAliasWritten(alias);
      },
      delete: async (_req, _f, params) => {
        await store.deleteGroupAlias(params.id ?? '');
        return { kind: 'empty' };
      },
    },
  });

  const groupAliasList = definePath<FieldSpecs, Caller>({
    pattern: 'group-alias/id',
    fields: {},
    help: 'Lists group aliases by id.',
    operations: {
      list: async () => {
        const aliases = await store.listGroupAliases();
        if (aliases.length === 0) throw notFound('group aliases');
        const keyInfo: JsonObject = {};
        for (const alias of aliases) {
          const mount = store.authMount(alias.mountAccessor);
          keyInfo[alias.id] = {
            name: alias.name,
            canonical_id: alias.canonicalId,
            mount_accessor: alias.mountAccessor,
            mount_type: mount?.type ?? '',
            mount_path: mount?.path ?? '',
          };
        }
        return { kind: 'data', data: { keys: Object.keys(keyInfo).sort(), key_info: keyInfo } };
      },
    },
  });

  // ---- lookups ----

  /** Exactly one criterion: name, id, alias_id, or alias_name with alias_mount_accessor. */
  const criterion = (f: LookupFields): 'name' | 'id' | 'alias_id' | 'alias' => {
    const given = (v: string | undefined) => v !== undefined && v !== '';
    const set: ('name' | 'id' | 'alias_id' | 'alias')[] = [];
    if (given(f.name)) set.push('name');
    if (given(f.id)) set.push('id');
    if (given(f.alias_id)) set.push('alias_id');
    if (given(f.alias_name) || given(f.alias_mount_accessor)) {
      if (!given(f.alias_name))
        throw invalidField('alias_name', 'is required with alias_mount_accessor');
      if (!given(f.alias_mount_accessor)) {
        throw invalidField('alias_mount_accessor', 'is required with alias_name');
      }
      set.push('alias');
    }
    if (set.length === 0) {
      throw invalidField(
        'name',
        'one of name, id, alias_id or alias_name with alias_mount_accessor is required',
      );
    }
    if (set.length > 1)
      throw invalidField(
        set[1] === 'alias' ? 'alias_name' : set[1]!,
        'give only one lookup criterion',
      );
    return set[0]!;
  };

  /** The record the one criterion names: directly, or through its alias's canonical id. */
  const lookUp = async <R, A extends { readonly canonicalId: string }>(
    f: LookupFields,
    by: {
      readonly name: (name: string) => Promise<R | undefined>;
      readonly id: (id: string) => Promise<R | undefined>;
      readonly alias: (id: string) => Promise<A | undefined>;
      readonly aliasByFactors: (accessor: string, name: string) => Promise<A | undefined>;
    },
  ): Promise<R | undefined> => {
    switch (criterion(f)) {
      case 'name':
        return by.name(f.name!);
      case 'id':
        return by.id(f.id!);
      case 'alias_id': {
        const alias = await by.alias(f.alias_id!);
        return alias === undefined ? undefined : by.id(alias.canonicalId);
      }
      case 'alias': {
        const alias = await by.aliasByFactors(f.alias_mount_accessor!, f.alias_name!);
        return alias === undefined ? undefined : by.id(alias.canonicalId);
      }
    }
  };

  const lookupEntity = definePath<typeof LOOKUP_FIELDS, Caller>({
    pattern: 'lookup/entity',
    fields: LOOKUP_FIELDS,
    help: 'Finds an entity by name, id, alias id, or alias name and mount accessor.',
    operations: {
      update: async (_req, f) => {
        const found = await lookUp(f, {
          name: (name) => store.entityByName(name),
          id: (id) => store.getEntity(id),
          alias: (id) => store.getAlias(id),
          aliasByFactors: (accessor, name) => store.aliasByFactors(accessor, name),
        });
        return found === undefined
          ? { kind: 'empty' }
          : { kind: 'data', data: await renderEntity(found) };
      },
    },
  });

  const lookupGroup = definePath<typeof LOOKUP_FIELDS, Caller>({
    pattern: 'lookup/group',
    fields: LOOKUP_FIELDS,
    help: 'Finds a group by name, id, alias id, or alias name and mount accessor.',
    operations: {
      update: async (_req, f) => {
        const found = await lookUp(f, {
          name: (name) => store.groupByName(name),
          id: (id) => store.getGroup(id),
          alias: (id) => store.getGroupAlias(id),
          aliasByFactors: (accessor, name) => store.groupAliasByFactors(accessor, name),
        });
        return found === undefined
          ? { kind: 'empty' }
          : { kind: 'data', data: await renderGroup(found) };
      },
    },
  });

  return createContextPathEngine<Caller>([
    merge,
    batchDelete,
    entityIdList,
    entityNameList,
    entityByName,
    entityById_,
    entity,
    entityAliasList,
    entityAliasById,
    entityAlias,
    groupIdList,
    groupNameList,
    groupByName,
    groupById,
    group,
    groupAliasList,
    groupAliasById,
    groupAlias,
    lookupEntity,
    lookupGroup,
    ...(deps.extraPaths ?? []),
  ] as IdentityPath[]);
}
