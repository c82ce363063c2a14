// ACL policy wire shapes (sys/policies/acl/*, sys/policies/explain) and their decoding into the
// client's types; the explainer's snake_case keys become camelCase here.
import { ClientError } from './errors.js';
import { isRecord } from './kv-path.js';
import type { ApiResponse } from './types.js';

/** `GET sys/policies/acl/:name`: the stored name (lower-cased) and the text as written. */
export interface AclPolicy {
  readonly name: string;
  readonly policy: string;
}

/** The operations `sys/policies/explain` understands. */
export type PolicyOperation = 'read' | 'list' | 'create' | 'update' | 'patch' | 'delete';

export const POLICY_OPERATIONS: readonly PolicyOperation[] = [
  'read',
  'list',
  'create',
  'update',
  'patch',
  'delete',
];

/** Whose rules `sys/policies/explain` evaluates when not the caller's own. */
export type ExplainSubject =
  { readonly accessor: string } | { readonly policies: readonly string[] };

/** One rule of one policy that matches the explained path. */
export interface PolicyMatch {
  readonly policy: string;
  readonly pattern: string;
  /** 1-based line of the `path` block in the policy text. */
  readonly line: number;
  readonly capabilities: string[];
  readonly kind: 'exact' | 'glob';
  /** This rule decided (the top-priority match); the others lost to it. */
  readonly used: boolean;
}

/** `POST sys/policies/explain` decoded. */
export interface PolicyExplanation {
  readonly path: string;
  readonly operation?: PolicyOperation;
  /** Present when an operation was asked. */
  readonly allowed?: boolean;
  readonly capabilities: string[];
  readonly isRoot: boolean;
  /** The caller's policies, when the server reports them. */
  readonly policies?: string[];
  readonly matches: PolicyMatch[];
  readonly reason: string;
  readonly response: ApiResponse;
}

/** The API path of one policy. Names hold no "/" (the server would route them elsewhere). */
export function policyPath(name: string): string {
  const clean = name.trim();
  if (clean === '') throw new ClientError('policy name must not be empty');
  if (clean.includes('/')) throw new ClientError('policy name must not contain "/"');
  return `sys/policies/acl/${clean}`;
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function isOperation(value: unknown): value is PolicyOperation {
  return typeof value === 'string' && (POLICY_OPERATIONS as readonly string[]).includes(value);
}

function matchOf(value: unknown): PolicyMatch | undefined {
  if (!isRecord(value)) return undefined;
  const { policy, pattern, line, kind, used } = value;
  if (typeof policy !== 'string' || typeof pattern !== 'string') return undefined;
  return {
    policy,
    pattern,
    line: typeof line === 'number' ? line : 0,
    capabilities: stringList(value['capabilities']),
    kind: kind === 'exact' ? 'exact' : 'glob',
    used: used === true,
  };
}

/** Decodes the explainer's answer; unknown or missing keys get neutral values. */
export function explanationOf(response: ApiResponse | undefined): PolicyExplanation {
  const data = response?.data;
  if (response === undefined || !isRecord(data)) {
    throw new ClientError('unexpected response shape from sys/policies/explain (no data)');
  }
  const matches = Array.isArray(data['matches'])
    ? data['matches'].map(matchOf).filter((m): m is PolicyMatch => m !== undefined)
    : [];
  const operation = data['operation'];
  const allowed = data['allowed'];
  const policies = data['policies'];
  return {
    path: typeof data['path'] === 'string' ? data['path'] : '',
    ...(isOperation(operation) ? { operation } : {}),
    ...(typeof allowed === 'boolean' ? { allowed } : {}),
    capabilities: stringList(data['capabilities']),
    isRoot: data['is_root'] === true,
    ...(Array.isArray(policies) ? { policies: stringList(policies) } : {}),
    matches,
    reason: typeof data['reason'] === 'string' ? data['reason'] : '',
    response,
  };
}

/** `data` of `GET sys/policies/acl/:name`; `requested` fills a missing name. */
export function aclPolicyOf(response: ApiResponse | undefined, requested: string): AclPolicy {
  const data = response?.data;
  if (!isRecord(data) || typeof data['policy'] !== 'string') {
    throw new ClientError('unexpected response shape from sys/policies/acl (no policy text)');
  }
  return {
    name: typeof data['name'] === 'string' ? data['name'] : requested,
    policy: data['policy'],
  };
}
