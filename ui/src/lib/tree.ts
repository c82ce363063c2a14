// What the secrets tree shows: which mounts a token can use and which entries lie under a
// folder, from LIST where allowed and otherwise from the token's own rules (the resultant ACL),
// so a token granted `secret/data/app/db` sees that path without `list` on its parents.
import type { ResultantAcl } from '../api.js';

/** How the UI browses a mount. */
export type MountShape = 'kv2' | 'kv1' | 'database' | 'other';

/**
 * KV v2 (and any engine with KV v2's data/metadata paths, such as the other doors' stores) is
 * browsed through `<mount>metadata/`; KV v1 and cubbyhole by their plain paths.
 */
export function shapeOf(
  type: string,
  options: Readonly<Record<string, unknown>> | null | undefined,
): MountShape {
  if (type === 'kv' || type === 'generic') return options?.['version'] === '2' ? 'kv2' : 'kv1';
  if (type === 'cubbyhole') return 'kv1';
  if (type === 'database') return 'database';
  return 'other';
}

function usable(capabilities: readonly string[]): boolean {
  return capabilities.length > 0 && !capabilities.includes('deny');
}

/** Every rule path of the ACL with its kind, usable ones only. */
function rulePaths(acl: ResultantAcl): { path: string; glob: boolean }[] {
  const out: { path: string; glob: boolean }[] = [];
  for (const [path, rule] of Object.entries(acl.exactPaths)) {
    if (usable(rule.capabilities)) out.push({ path, glob: false });
  }
  for (const [path, rule] of Object.entries(acl.globPaths)) {
    if (usable(rule.capabilities)) out.push({ path, glob: true });
  }
  return out;
}

/**
 * Paths to probe with `sys/internal/ui/mounts/<path>` to find the mounts the ACL grants
 * something in (outside sys/ and auth/), one per first segment and mount depth, each cut
 * before any `+` segment. At most `limit` of them.
 */
export function mountCandidates(acl: ResultantAcl, limit = 50): string[] {
  const out = new Set<string>();
  for (const { path } of rulePaths(acl)) {
    const segments = path.split('/');
    const first = segments[0] ?? '';
    if (first === '' || first === 'sys' || first === 'auth' || first === '+') continue;
    const plus = segments.indexOf('+');
    const usableSegments = plus === -1 ? segments : segments.slice(0, plus);
    const probe = usableSegments.join('/');
    out.add(probe.endsWith('/') || plus !== -1 ? probe.replace(/\/?$/, '/') : probe);
  }
  return [...out].sort().slice(0, limit);
}

/**
 * Entries directly under `folder` (relative to the mount, "" or ending in "/") that the ACL
 * grants on `base` (e.g. "secret/data/" or "secret/metadata/"): "name" for a secret,
 * "name/" for a folder. A glob ending inside a segment ("app/db-*") offers nothing to click.
 */
export function grantedChildren(
  acl: ResultantAcl,
  bases: readonly string[],
  folder: string,
): string[] {
  const out = new Set<string>();
  for (const { path, glob } of rulePaths(acl)) {
    for (const base of bases) {
      const prefix = base + folder;
      if (!path.startsWith(prefix)) continue;
      const rest = path.slice(prefix.length);
      if (rest === '') continue;
      const slash = rest.indexOf('/');
      const segment = slash === -1 ? rest : rest.slice(0, slash);
      if (segment === '' || segment === '+') continue;
      if (slash !== -1) out.add(`${segment}/`);
      else if (!glob) out.add(segment);
    }
  }
  return [...out].sort();
}

/** LIST answers and ACL grants together, folders first, each once. */
export function mergeEntries(listed: readonly string[], granted: readonly string[]): string[] {
  const all = [...new Set([...listed, ...granted])];
  return all.sort((a, b) => {
    const fa = a.endsWith('/');
    const fb = b.endsWith('/');
    if (fa !== fb) return fa ? -1 : 1;
    return a.localeCompare(b);
  });
}
