// Root-protected paths: a request on one of them needs the `sudo` capability (or a root
// token) in addition to the operation's own capability. The list follows Vault's.

const EXACT = new Set([
  'sys/remount',
  'sys/audit',
  'sys/rotate',
  'sys/config/cors',
  'sys/seal',
  'sys/step-down',
  'sys/storage/raft/snapshot',
  'auth/token/accessors',
  'auth/token/accessors/',
  'auth/token/revoke-orphan',
]);

const PREFIXES = [
  'sys/auth/',
  'sys/audit/',
  'sys/audit-log/',
  'sys/raw/',
  'sys/rotate/',
  'sys/config/auditing/',
  'sys/plugins/catalog/',
  'sys/leases/revoke-prefix/',
  'sys/leases/revoke-force/',
  'sys/leases/lookup/',
  'sys/revoke-prefix/',
  'sys/revoke-force/',
  'auth/token/revoke-orphan/',
];

/** Whether `path` (a full logical path, e.g. "sys/rotate") needs sudo. */
export function isSudoPath(path: string): boolean {
  return EXACT.has(path) || PREFIXES.some((prefix) => path.startsWith(prefix));
}
