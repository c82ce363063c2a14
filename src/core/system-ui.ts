// `sys/internal/ui/resultant-acl`: the rules the caller's policies add up to, in Vault's shape
// (`{root, exact_paths, glob_paths}`), so a UI can show exactly the paths a token may use,
// without asking for `list` on their parents. The default policy grants `read` on it.
import type { FieldSpecs } from '../sdk/fields.js';
import type { JsonObject } from '../sdk/json.js';
import { definePath, type PathSpec } from '../sdk/path.js';
import type { Caller } from './caller.js';
import type { Capability } from './policy/policy.js';
import type { PolicyStore } from './policy/policy-store.js';

export interface UiPathDeps {
  readonly policies: PolicyStore;
}

/** Alphabetical, as every capability list is reported. */
const ORDER: readonly Capability[] = [
  'create',
  'delete',
  'deny',
  'list',
  'patch',
  'read',
  'sudo',
  'update',
];

/** Merges the capabilities every policy gives one pattern; `deny` anywhere wins, as in the ACL. */
function merged(sets: readonly ReadonlySet<Capability>[]): string[] {
  if (sets.some((set) => set.has('deny'))) return ['deny'];
  const all = new Set<Capability>();
  for (const set of sets) for (const capability of set) all.add(capability);
  if (all.size === 0) return ['deny'];
  return ORDER.filter((capability) => all.has(capability));
}

/**
 * The caller's rules keyed by pattern. A pattern ending in `*` is a glob and is keyed without
 * the `*` (Vault's shape); a pattern holding a `+` segment is reported among the globs as
 * written, since it matches more than one path.
 */
export async function resultantAcl(
  policies: PolicyStore,
  caller: Pick<Caller, 'isRoot' | 'entry' | 'identityPolicies'>,
): Promise<JsonObject> {
  if (caller.isRoot) return { root: true, exact_paths: {}, glob_paths: {} };
  const exact = new Map<string, ReadonlySet<Capability>[]>();
  const glob = new Map<string, ReadonlySet<Capability>[]>();
  // With what the caller's entity and groups add (templated paths are shown as written).
  for (const name of new Set([...caller.entry.policies, ...(caller.identityPolicies ?? [])])) {
    const policy = await policies.get(name);
    if (policy === undefined) continue;
    for (const rule of policy.rules) {
      const isPrefix = rule.pattern.endsWith('*');
      const isSegment = rule.pattern.split('/').includes('+');
      const table = isPrefix || isSegment ? glob : exact;
      const key = isPrefix ? rule.pattern.slice(0, -1) : rule.pattern;
      table.set(key, [...(table.get(key) ?? []), rule.capabilities]);
    }
  }
  const render = (table: Map<string, ReadonlySet<Capability>[]>): JsonObject => {
    const out: JsonObject = {};
    for (const key of [...table.keys()].sort()) {
      out[key] = { capabilities: merged(table.get(key) ?? []) };
    }
    return out;
  };
  return { root: false, exact_paths: render(exact), glob_paths: render(glob) };
}

export function uiPaths(deps: UiPathDeps): PathSpec<FieldSpecs, Caller>[] {
  const acl = definePath<FieldSpecs, Caller>({
    pattern: 'internal/ui/resultant-acl',
    fields: {},
    help: "The paths the caller's policies grant, with their capabilities (for the web UI).",
    operations: {
      read: async (_req, _fields, _params, caller) => ({
        kind: 'data',
        data: await resultantAcl(deps.policies, caller),
      }),
    },
  });
  return [acl];
}
