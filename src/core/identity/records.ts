// The identity store's records (entities, entity aliases, groups, group aliases), the storage
// keys they live under inside the store's view (CORE_KEYS.identityPrefix), and their Vault
// wire shapes.
import { createHash } from 'node:crypto';
import type { JsonObject } from '../../sdk/json.js';

export interface EntityRecord {
  readonly id: string;
  readonly name: string;
  readonly metadata: Readonly<Record<string, string>>;
  /** Normalised (trimmed, lower-case, unique, sorted); never `root`. */
  readonly policies: readonly string[];
  readonly disabled: boolean;
  /** Entities merged into this one; their tokens resolve here. */
  readonly mergedEntityIds: readonly string[];
  /** Epoch ms. */
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** Who an entity is to one auth mount: at most one per (mount accessor, entity). */
export interface EntityAliasRecord {
  readonly id: string;
  /** The entity's id. */
  readonly canonicalId: string;
  readonly mountAccessor: string;
  readonly name: string;
  /** Set by logins (the auth method's alias metadata). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Set through the API only. */
  readonly customMetadata: Readonly<Record<string, string>>;
  readonly mergedFromCanonicalIds: readonly string[];
  readonly createdAt: number;
  readonly updatedAt: number;
}

export type GroupType = 'internal' | 'external';

export interface GroupRecord {
  readonly id: string;
  readonly name: string;
  readonly type: GroupType;
  readonly metadata: Readonly<Record<string, string>>;
  readonly policies: readonly string[];
  /** Internal groups: set through the API. External groups: kept by logins. */
  readonly memberEntityIds: readonly string[];
  /** Groups that are members of this one (internal groups only); they inherit its policies. */
  readonly memberGroupIds: readonly string[];
  readonly createdAt: number;
  readonly updatedAt: number;
  /** +1 on each change (Vault's `modify_index`). */
  readonly modifyIndex: number;
}

/** Binds an external group to a group name an auth mount reports (a `groups` claim value). */
export interface GroupAliasRecord {
  readonly id: string;
  /** The group's id. */
  readonly canonicalId: string;
  readonly mountAccessor: string;
  readonly name: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** How a mount accessor appears on aliases (type and path), when the mount still exists. */
export interface AuthMountRef {
  readonly accessor: string;
  readonly type: string;
  /** e.g. "auth/userpass/". */
  readonly path: string;
  readonly local: boolean;
}

/**
 * Keys inside the identity view. Name indexes are case-insensitive (Vault lower-cases names
 * for lookups) and keyed by a SHA-256 of the name, so no entity, group or alias name (a
 * username, an email) is written in clear in a storage key.
 */
export const IDENTITY_KEYS = {
  entityPrefix: 'entity/',
  entityNamePrefix: 'entity-name/',
  /** merged/<from entity id> → { id: <entity it was merged into> }. */
  mergedPrefix: 'merged/',
  aliasPrefix: 'alias/',
  /** alias-key/<sha256(accessor, name)> → { id }. */
  aliasKeyPrefix: 'alias-key/',
  /** entity-aliases/<entity id>/<alias id> → {}. */
  entityAliasesPrefix: 'entity-aliases/',
  groupPrefix: 'group/',
  groupNamePrefix: 'group-name/',
  groupAliasPrefix: 'group-alias/',
  groupAliasKeyPrefix: 'group-alias-key/',
  /** The OIDC identity token issuer (oidc.ts). */
  oidcPrefix: 'oidc/',
} as const;

/** The index key of a name (and, for aliases, the mount accessor it belongs to). */
export function nameKey(name: string, accessor?: string): string {
  const text =
    accessor === undefined ? name.toLowerCase() : `${accessor}\u0000${name.toLowerCase()}`;
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export const keys = {
  entity: (id: string) => IDENTITY_KEYS.entityPrefix + id,
  entityName: (name: string) => IDENTITY_KEYS.entityNamePrefix + nameKey(name),
  merged: (id: string) => IDENTITY_KEYS.mergedPrefix + id,
  alias: (id: string) => IDENTITY_KEYS.aliasPrefix + id,
  aliasKey: (accessor: string, name: string) =>
    IDENTITY_KEYS.aliasKeyPrefix + nameKey(name, accessor),
  entityAlias: (entityId: string, aliasId: string) =>
    `${IDENTITY_KEYS.entityAliasesPrefix}${entityId}/${aliasId}`,
  entityAliases: (entityId: string) => `${IDENTITY_KEYS.entityAliasesPrefix}${entityId}/`,
  group: (id: string) => IDENTITY_KEYS.groupPrefix + id,
  groupName: (name: string) => IDENTITY_KEYS.groupNamePrefix + nameKey(name),
  groupAlias: (id: string) => IDENTITY_KEYS.groupAliasPrefix + id,
  groupAliasKey: (accessor: string, name: string) =>
    IDENTITY_KEYS.groupAliasKeyPrefix + nameKey(name, accessor),
};

/** Vault's timestamps: RFC 3339 with fractional seconds. */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function mountFields(mount: AuthMountRef | undefined): JsonObject {
  return { mount_type: mount?.type ?? '', mount_path: mount?.path ?? '' };
}

export function renderEntityAlias(
  alias: EntityAliasRecord,
  mount: AuthMountRef | undefined,
): JsonObject {
  return {
    id: alias.id,
    canonical_id: alias.canonicalId,
    mount_accessor: alias.mountAccessor,
    ...mountFields(mount),
    name: alias.name,
    metadata: { ...alias.metadata },
    custom_metadata: { ...alias.customMetadata },
    merged_from_canonical_ids: alias.mergedFromCanonicalIds.length
      ? [...alias.mergedFromCanonicalIds]
      : null,
    creation_time: iso(alias.createdAt),
    last_update_time: iso(alias.updatedAt),
    local: mount?.local ?? false,
    namespace_id: 'root',
  };
}

export function renderGroupAlias(
  alias: GroupAliasRecord,
  mount: AuthMountRef | undefined,
): JsonObject {
  return {
    id: alias.id,
    canonical_id: alias.canonicalId,
    mount_accessor: alias.mountAccessor,
    ...mountFields(mount),
    name: alias.name,
    metadata: null,
    merged_from_canonical_ids: null,
    creation_time: iso(alias.createdAt),
    last_update_time: iso(alias.updatedAt),
    namespace_id: 'root',
  };
}
