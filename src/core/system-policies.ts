// The `sys/` paths about policies: ACL policy CRUD (current and legacy routes), capability
// queries for the caller, another token or an accessor, and our explainer.
import type { Operation } from '../sdk/engine.js';
import { OPERATIONS } from '../sdk/engine.js';
import { CofferError, invalidField } from '../sdk/errors.js';
import type { JsonObject } from '../sdk/json.js';
import { definePath, type PathSpec } from '../sdk/path.js';
import type { FieldSpecs } from '../sdk/fields.js';
import type { Caller } from './caller.js';
import type { Acl } from './policy/acl.js';
import { normalisePolicyName } from './policy/parse.js';
import type { PolicyStore } from './policy/policy-store.js';
import type { TokenEntry, TokenStore } from './token-store.js';

export interface PolicyPathDeps {
  readonly policies: PolicyStore;
  readonly tokens: TokenStore;
  /**
   * A token's ACL with what its identity adds (entity and group policies, templated paths);
   * default: its own policies only.
   */
  readonly aclOfEntry?: (entry: TokenEntry) => Promise<Acl>;
}

const PATHS_FIELDS = {
  paths: { type: 'string-list', description: 'Paths to report capabilities for.' },
  path: { type: 'string-list', description: 'Deprecated alias of paths.' },
} as const satisfies FieldSpecs;

function requestedPaths(fields: {
  paths: string[] | undefined;
  path: string[] | undefined;
}): string[] {
  const paths = [...(fields.paths ?? []), ...(fields.path ?? [])].map((p) => p.replace(/^\/+/, ''));
  if (paths.length === 0) throw invalidField('paths', 'is required');
  return paths;
}

/** `{"<path>": caps, ...}` plus `capabilities` when exactly one path was asked, as Vault does. */
function capabilityReport(acl: Acl, paths: readonly string[]): JsonObject {
  const data: JsonObject = {};
  for (const path of paths) data[path] = [...acl.capabilities(path)];
  if (paths.length === 1) data.capabilities = [...acl.capabilities(paths[0]!)];
  return data;
}

function policyText(fields: { policy: string | undefined; rules: string | undefined }): string {
  const text = fields.policy ?? fields.rules;
  if (text === undefined || text.trim() === '') throw invalidField('policy', 'is required');
  return text;
}

export function policyPaths(deps: PolicyPathDeps): PathSpec<FieldSpecs, Caller>[] {
  const { policies, tokens } = deps;

  const aclFor = (entry: TokenEntry): Promise<Acl> =>
    deps.aclOfEntry?.(entry) ?? policies.acl(entry.policies);

  const writePolicy = async (rawName: string, text: string) => {
    const name = normalisePolicyName(rawName);
    await policies.put(name, text);
    return name === rawName
      ? ({ kind: 'empty' } as const)
      : ({
          kind: 'empty',
          warnings: [`policy name was normalised to "${name}"`],
        } as const);
  };

  /**
   * Whose policies `sys/policies/explain` evaluates: the caller's, or (asked for by accessor or
   * by a policy list) someone else's. SECURITY: explaining for others shows their rules, so it
   * needs what already shows them: update on sys/capabilities-accessor for an accessor, read on
   * every named policy for a policy list.
   */
  const explainSubject = async (
    caller: Caller,
    accessor: string | undefined,
    names: string[] | undefined,
  ): Promise<readonly string[]> => {
    if (accessor !== undefined && names !== undefined) {
      throw invalidField('accessor', 'give an accessor or policies, not both');
    }
    if (accessor === undefined && names === undefined) return caller.entry.policies;
    const own = caller.isRoot ? undefined : await aclFor(caller.entry);
    const denied = (path: string, capability: 'read' | 'update'): boolean =>
      own !== undefined && !own.capabilities(path).includes(capability);
    if (accessor !== undefined) {
      if (denied('sys/capabilities-accessor', 'update')) {
        throw new CofferError(
          'permission_denied',
          'permission denied: explaining for an accessor needs update on sys/capabilities-accessor',
        );
      }
      const found = await tokens.lookupByAccessor(accessor);
      if (found === undefined) throw invalidField('accessor', 'is not a valid accessor');
      return found.policies;
    }
    const list = (names ?? []).map((name) => normalisePolicyName(name));
    if (list.length === 0) throw invalidField('policies', 'must name at least one policy');
    for (const name of list) {
      if (denied(`sys/policies/acl/${name}`, 'read')) {
        throw new CofferError(
          'permission_denied',
          `permission denied: explaining for policy "${name}" needs read on sys/policies/acl/${name}`,
        );
      }
    }
    return list;
  };

  const listPolicies = definePath<FieldSpecs, Caller>({
    pattern: 'policies/acl',
    fields: {},
    help: 'Lists the ACL policies.',
    operations: {
      list: async () => ({ kind: 'data', data: { keys: await policies.list() } }),
    },
  });

  const policy = definePath<
    {
      name: { type: 'string'; description: string };
      policy: { type: 'string'; description: string };
    },
    Caller
  >({
    pattern: 'policies/acl/:name',
    fields: {
      name: { type: 'string', description: 'The policy name (lower-cased).' },
      policy: { type: 'string', description: 'The policy text, HCL or JSON, or base64 of either.' },
    },
    help: 'Reads, writes or deletes one ACL policy.',
    operations: {
      read: async (_req, _fields, params) => {
        const found = await policies.get(normalisePolicyName(params.name ?? ''));
        if (found === undefined) throw new CofferError('not_found', 'no such policy');
        return { kind: 'data', data: { name: found.name, policy: found.raw } };
      },
      update: (_req, fields, params) =>
        writePolicy(params.name ?? '', policyText({ policy: fields.policy, rules: undefined })),
      delete: async (_req, _fields, params) => {
        await policies.delete(normalisePolicyName(params.name ?? ''));
        return { kind: 'empty' };
      },
    },
  });

  const legacyList = definePath<FieldSpecs, Caller>({
    pattern: 'policy',
    fields: {},
    help: 'Lists the ACL policies (legacy route).',
    operations: {
      read: async () => {
        const keys = await policies.list();
        return { kind: 'data', data: { keys, policies: keys } };
      },
    },
  });

  const legacyPolicy = definePath<
    {
      name: { type: 'string'; description: string };
      policy: { type: 'string'; description: string };
      rules: { type: 'string'; description: string };
    },
    Caller
  >({
    pattern: 'policy/:name',
    fields: {
      name: { type: 'string', description: 'The policy name.' },
      policy: { type: 'string', description: 'The policy text.' },
      rules: { type: 'string', description: 'Deprecated alias of policy.' },
    },
    help: 'Reads, writes or deletes one ACL policy (legacy route).',
    operations: {
      read: async (_req, _fields, params) => {
        const found = await policies.get(normalisePolicyName(params.name ?? ''));
        if (found === undefined) throw new CofferError('not_found', 'no such policy');
        return { kind: 'data', data: { name: found.name, rules: found.raw } };
      },
      update: (_req, fields, params) => writePolicy(params.name ?? '', policyText(fields)),
      delete: async (_req, _fields, params) => {
        await policies.delete(normalisePolicyName(params.name ?? ''));
        return { kind: 'empty' };
      },
    },
  });

  const capabilitiesSelf = definePath<typeof PATHS_FIELDS, Caller>({
    pattern: 'capabilities-self',
    fields: PATHS_FIELDS,
    help: "The calling token's capabilities on each path.",
    operations: {
      update: async (_req, fields, _params, caller) => ({
        kind: 'data',
        data: capabilityReport(await aclFor(caller.entry), requestedPaths(fields)),
      }),
    },
  });

  const capabilitiesToken = definePath<
    typeof PATHS_FIELDS & { token: { type: 'string'; description: string } },
    Caller
  >({
    pattern: 'capabilities',
    fields: { ...PATHS_FIELDS, token: { type: 'string', description: 'The token to check.' } },
    help: "Another token's capabilities on each path.",
    operations: {
      update: async (_req, fields) => {
        if (fields.token === undefined) throw invalidField('token', 'is required');
        const entry = await tokens.lookup(fields.token);
        if (entry === undefined) throw invalidField('token', 'is not a valid token');
        return {
          kind: 'data',
          data: capabilityReport(await aclFor(entry), requestedPaths(fields)),
        };
      },
    },
  });

  const capabilitiesAccessor = definePath<
    typeof PATHS_FIELDS & { accessor: { type: 'string'; description: string } },
    Caller
  >({
    pattern: 'capabilities-accessor',
    fields: {
      ...PATHS_FIELDS,
      accessor: { type: 'string', description: "The token's accessor." },
    },
    help: 'The capabilities of the token behind an accessor on each path.',
    operations: {
      update: async (_req, fields) => {
        if (fields.accessor === undefined) throw invalidField('accessor', 'is required');
        const found = await tokens.lookupByAccessor(fields.accessor);
        if (found === undefined) throw invalidField('accessor', 'is not a valid accessor');
        return {
          kind: 'data',
          data: capabilityReport(await aclFor(found), requestedPaths(fields)),
        };
      },
    },
  });

  const explain = definePath<
    {
      path: { type: 'string'; description: string; required: true };
      operation: { type: 'string'; description: string };
      accessor: { type: 'string'; description: string };
      policies: { type: 'string-list'; description: string };
    },
    Caller
  >({
    pattern: 'policies/explain',
    fields: {
      path: { type: 'string', description: 'The path to explain.', required: true },
      operation: { type: 'string', description: 'read, list, create, update, patch or delete.' },
      accessor: {
        type: 'string',
        description:
          'Explain for the token behind this accessor instead of the caller (needs update on ' +
          'sys/capabilities-accessor).',
      },
      policies: {
        type: 'string-list',
        description:
          "Explain for this set of policies (a role's token_policies) instead of the caller " +
          '(needs read on each sys/policies/acl/<name>).',
      },
    },
    help: "Which rule of which of the caller's policies allows or denies a path.",
    operations: {
      update: async (_req, fields, _params, caller) => {
        const operation = fields.operation as Operation | undefined;
        if (operation !== undefined && !OPERATIONS.includes(operation)) {
          throw invalidField('operation', 'must be read, list, create, update, patch or delete');
        }
        const subject = await explainSubject(caller, fields.accessor, fields.policies);
        const acl = await policies.acl(subject);
        const path = (fields.path ?? '').replace(/^\/+/, '');
        const result = acl.explain(path, operation);
        return {
          kind: 'data',
          data: {
            path: result.path,
            ...(operation === undefined ? {} : { operation }),
            ...(result.allowed === undefined ? {} : { allowed: result.allowed }),
            capabilities: [...result.capabilities],
            is_root: result.isRoot,
            policies: [...subject],
            matches: result.matches.map((m) => ({
              policy: m.policy,
              pattern: m.pattern,
              line: m.line,
              capabilities: [...m.capabilities],
              kind: m.kind,
              used: m.used,
            })),
            reason: result.reason,
          },
        };
      },
    },
  });

  return [
    listPolicies,
    explain,
    policy,
    legacyList,
    legacyPolicy,
    capabilitiesSelf,
    capabilitiesToken,
    capabilitiesAccessor,
  ];
}
