// Storage keys owned by the core, in one place (never assembled inline elsewhere). All of
// them live behind the barrier; see docs/adr/0002-storage-keys.md.

export const CORE_KEYS = {
  /** The mount table (JSON). */
  mounts: 'core/mounts',
  /** Prefix of every secret engine's storage view: logical/<mount uuid>/. */
  logicalPrefix: 'logical/',
  /** Prefix of the token store's own view. */
  tokenPrefix: 'sys/token/',
  /** Prefix of the policy store's own view: sys/policy/<name>. */
  policyPrefix: 'sys/policy/',
  /** Prefix of the audit broker's own view: the device table, salts and chain state. */
  auditPrefix: 'sys/audit/',
  /** Prefix of the per-token cubbyholes: sys/cubbyhole/<token hmac>/. */
  cubbyholePrefix: 'sys/cubbyhole/',
  /** Scheduled engine jobs: sys/schedule/<mount uuid>/<encoded job name> → { dueAt, attempts }. */
  schedulePrefix: 'sys/schedule/',
  /** Write-ahead entries: sys/wal/<mount uuid>/<entry id> → { kind, data, createdAt }. */
  walPrefix: 'sys/wal/',
  /** The auth method table (JSON), like `mounts` for auth/ paths. */
  authMounts: 'core/auth',
  /** The identity store (entities, aliases, groups): see identity/records.ts IDENTITY_KEYS. */
  identityPrefix: 'sys/identity/',
  /** Door credentials: sys/door-credential/<api>/<id> → record (docs/adr/0004-cloud-doors.md). */
  doorCredentialPrefix: 'sys/door-credential/',
} as const;

/** Keys inside the token store's view (relative to CORE_KEYS.tokenPrefix). */
export const TOKEN_KEYS = {
  /** Random HMAC key for token hashes; created once at initialisation. */
  salt: 'salt',
  /** id/<hex HMAC of the token> → token entry. */
  idPrefix: 'id/',
  /** accessor/<accessor> → the token's hash. */
  accessorPrefix: 'accessor/',
  /**
   * parent/<parent hash>/<child hash> → `{}`: the children index that tree revocation walks.
   * Written in the same batch as the child's entry, so a child is never outside the index.
   */
  parentPrefix: 'parent/',
  /** role/<role name> → token role (JSON). */
  rolePrefix: 'role/',
} as const;

export function mountViewPrefix(uuid: string): string {
  return `${CORE_KEYS.logicalPrefix}${uuid}/`;
}
