// IAM for the Google door: the roles/secretmanager.* roles (and the basic roles) with their
// permissions, policies on projects and secrets (etag, version 3), and the check the engine
// runs after the core's ACL allowed a request. The mapping (docs/api/gcp.md "IAM"):
//   - The Coffer ACL is checked first, by the core, for every call: a Coffer deny always wins.
//   - A caller with a Google principal (a service account Coffer minted, or a token whose
//     metadata names `principal`) is further limited by IAM as soon as its project or the
//     secret has any binding: then some binding on either must grant the method's permission.
//   - Callers without a principal (the root token, plain Coffer tokens) are governed by Coffer
//     policies alone.
//   - Bindings with a condition never grant (conditions are stored, not evaluated: fail closed).
import type { JsonObject, JsonValue } from '../../sdk/json.js';
import { encodeJson, getJson, type Storage } from '../../sdk/storage.js';
import { randomBytes } from 'node:crypto';
import {
  checkEtag,
  gcpError,
  invalidArgument,
  isJsonObject,
  storeKey,
  type Parent,
  type SecretRef,
} from './common.js';

const VIEW = [
  'secretmanager.locations.get',
  'secretmanager.locations.list',
  'secretmanager.secrets.get',
  'secretmanager.secrets.getIamPolicy',
  'secretmanager.secrets.list',
  'secretmanager.versions.get',
  'secretmanager.versions.list',
];
const VERSION_MANAGE = [
  'secretmanager.versions.add',
  'secretmanager.versions.destroy',
  'secretmanager.versions.disable',
  'secretmanager.versions.enable',
  'secretmanager.versions.get',
  'secretmanager.versions.list',
];
const ADMIN = [
  ...VIEW,
  ...VERSION_MANAGE,
  'secretmanager.secrets.create',
  'secretmanager.secrets.delete',
  'secretmanager.secrets.setIamPolicy',
  'secretmanager.secrets.update',
  'secretmanager.versions.access',
];
const PROJECT_IAM = [
  'resourcemanager.projects.getIamPolicy',
  'resourcemanager.projects.setIamPolicy',
];

/** Every permission a role grants. Unknown roles are refused by setIamPolicy. */
export const ROLES: Readonly<Record<string, readonly string[]>> = {
  'roles/secretmanager.admin': ADMIN,
  'roles/secretmanager.secretAccessor': ['secretmanager.versions.access'],
  'roles/secretmanager.secretVersionAdder': ['secretmanager.versions.add'],
  'roles/secretmanager.secretVersionManager': VERSION_MANAGE,
  'roles/secretmanager.viewer': VIEW,
  'roles/owner': [...ADMIN, ...PROJECT_IAM],
  'roles/editor': ADMIN.filter((p) => p !== 'secretmanager.secrets.setIamPolicy'),
  'roles/viewer': [...VIEW, 'resourcemanager.projects.getIamPolicy'],
};

export const ALL_PERMISSIONS: ReadonlySet<string> = new Set(Object.values(ROLES).flat());

export interface Binding {
  readonly role: string;
  readonly members: readonly string[];
  readonly condition?: JsonObject;
}

export interface IamPolicy {
  readonly version: number;
  readonly etag: string;
  readonly bindings: readonly Binding[];
}

/** The etag Google gives a resource that never had a policy. */
const EMPTY_ETAG = 'ACAB';

/** Storage keys owned by this module (the mount's view): `iam/<project>`, `iam/<secret key>`. */
export function iamKey(target: Parent | SecretRef): string {
  return 'secret' in target ? `iam/${storeKey(target)}` : `iam/${target.project}`;
}

export async function readPolicy(storage: Storage, key: string): Promise<IamPolicy> {
  return (await getJson<IamPolicy>(storage, key)) ?? { version: 1, etag: EMPTY_ETAG, bindings: [] };
}

/** The policy as Google renders it: no `bindings` when empty. */
export function renderPolicy(policy: IamPolicy, requestedVersion: number): JsonObject {
  const hasConditions = policy.bindings.some((b) => b.condition !== undefined);
  // Asking for version 1 of a policy with conditions is refused, as Google does.
  if (hasConditions && requestedVersion < 3) {
    throw invalidArgument(
      'options.requestedPolicyVersion',
      'the policy has conditions; request version 3',
    );
  }
  return {
    version: policy.version,
    etag: policy.etag,
    ...(policy.bindings.length === 0
      ? {}
      : { bindings: policy.bindings as unknown as JsonValue[] }),
  };
}

const MEMBER =
  /^(user|serviceAccount|group|domain|principal|principalSet):[^\s]{1,320}$|^(allUsers|allAuthenticatedUsers)$/;

/** Validates a Policy from setIamPolicy's body. */
export function parsePolicy(value: unknown): {
  version: number;
  etag?: string;
  bindings: Binding[];
} {
  if (!isJsonObject(value)) throw invalidArgument('policy', 'must be an object');
  const version = value['version'] ?? 1;
  if (version !== 0 && version !== 1 && version !== 3) {
    throw invalidArgument('policy.version', 'must be 1 or 3');
  }
  const raw = value['bindings'] ?? [];
  if (!Array.isArray(raw) || raw.length > 1500) {
    throw invalidArgument('policy.bindings', 'must be a list of at most 1500 bindings');
  }
  const bindings: Binding[] = [];
  raw.forEach((b, i) => {
    const f = `policy.bindings[${i}]`;
    if (!isJsonObject(b)) throw invalidArgument(f, 'must be an object');
    const role = b['role'];
    // SECURITY: own keys only; "toString" or "constructor" would otherwise pass as roles and
    // then break every IAM check of the resource.
    if (typeof role !== 'string' || !Object.hasOwn(ROLES, role)) {
      throw invalidArgument(
        `${f}.role`,
        'must be one of the roles/secretmanager.* roles or roles/owner, roles/editor, roles/viewer',
      );
    }
    const members = b['members'] ?? [];
    if (!Array.isArray(members) || !members.every((m) => typeof m === 'string' && MEMBER.test(m))) {
      throw invalidArgument(`${f}.members`, 'must be a list such as ["user:alice@example.com"]');
    }
    const condition = b['condition'];
    if (condition !== undefined && condition !== null && !isJsonObject(condition)) {
      throw invalidArgument(`${f}.condition`, 'must be an object');
    }
    if (isJsonObject(condition) && version !== 3) {
      throw invalidArgument('policy.version', 'must be 3 for bindings with a condition');
    }
    if (members.length === 0) return;
    bindings.push({
      role,
      members: [...new Set(members as string[])],
      ...(isJsonObject(condition) ? { condition } : {}),
    });
  });
  const etag = value['etag'];
  return {
    version: version === 0 ? 1 : version,
    bindings,
    ...(typeof etag === 'string' && etag !== '' ? { etag } : {}),
  };
}

/** setIamPolicy: the etag, if given, must be the stored one (ABORTED otherwise). */
export async function writePolicy(
  storage: Storage,
  key: string,
  input: unknown,
): Promise<IamPolicy> {
  const parsed = parsePolicy(input);
  const current = await readPolicy(storage, key);
  checkEtag(parsed.etag, current.etag, 'policy.etag');
  const next: IamPolicy = {
    // parsePolicy admits a condition only in a version 3 policy.
    version: parsed.version,
    etag: randomBytes(8).toString('base64'),
    bindings: parsed.bindings,
  };
  await storage.put(key, encodeJson(next));
  return next;
}

function grants(policy: IamPolicy, principal: string, permission: string): boolean {
  return policy.bindings.some(
    (b) =>
      b.condition === undefined &&
      Object.hasOwn(ROLES, b.role) &&
      ROLES[b.role]!.includes(permission) &&
      b.members.some((m) => m === principal || m === 'allUsers' || m === 'allAuthenticatedUsers'),
  );
}

/**
 * Which of `permissions` IAM lets `principal` use on the resource (project, or secret in its
 * project). SECURITY: see the header: without a principal, IAM adds no limit.
 */
export async function grantedPermissions(
  storage: Storage,
  principal: string | undefined,
  target: Parent | SecretRef,
  permissions: readonly string[],
): Promise<string[]> {
  if (principal === undefined) return [...permissions];
  const policies = [await readPolicy(storage, iamKey({ project: target.project }))];
  if ('secret' in target) policies.push(await readPolicy(storage, iamKey(target)));
  if (policies.every((p) => p.bindings.length === 0)) return [...permissions];
  return permissions.filter((perm) => policies.some((p) => grants(p, principal, perm)));
}

/** Refuses with PERMISSION_DENIED unless IAM lets the caller use `permission` here. */
export async function enforceIam(
  storage: Storage,
  principal: string | undefined,
  target: Parent | SecretRef,
  permission: string,
): Promise<void> {
  if (permission === '') return;
  const granted = await grantedPermissions(storage, principal, target, [permission]);
  if (granted.length === 0) {
    throw gcpError(
      'PERMISSION_DENIED',
      `Permission '${permission}' denied for resource (or it may not exist).`,
    );
  }
}
