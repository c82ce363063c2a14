// IAM of the Google door over memory storage: what each role grants, how project and secret
// bindings combine for a principal, what a setIamPolicy body may hold, and the etag check.
import { describe, expect, it } from 'vitest';
import { isCofferError } from '../../sdk/errors.js';
import { encodeJson } from '../../sdk/storage.js';
import { memoryStorage } from '../../sdk/testing.js';
import {
  ALL_PERMISSIONS,
  enforceIam,
  grantedPermissions,
  iamKey,
  parsePolicy,
  readPolicy,
  renderPolicy,
  ROLES,
  writePolicy,
  type IamPolicy,
} from './iam.js';

const PROJECT = { project: 'proj' };
const SECRET = { project: 'proj', secret: 's' };
const ALICE = 'user:alice@example.com';
const BOB = 'serviceAccount:bob@proj.iam.gserviceaccount.com';

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
const ADMIN_ONLY = [
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
const sorted = (list: readonly string[]) => [...new Set(list)].sort();

/** The error a call throws: its Google status, field and message. */
async function refusal(p: Promise<unknown> | (() => unknown)) {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    if (!isCofferError(err)) throw err;
    return { status: err.doorCode, field: err.field, message: err.message };
  }
  throw new Error('expected a refusal');
}

const invalid = (field: string, why: string) => ({
  status: 'INVALID_ARGUMENT',
  field,
  message: `${field}: ${why}`,
});

function storageWith(policies: Record<string, IamPolicy>) {
  const storage = memoryStorage();
  for (const [key, policy] of Object.entries(policies)) {
    storage.entries.set(key, encodeJson(policy));
  }
  return storage;
}

const binding = (role: string, members: string[], condition?: object) => ({
  role,
  members,
  ...(condition === undefined ? {} : { condition }),
});
const policyOf = (...bindings: ReturnType<typeof binding>[]): IamPolicy => ({
  version: 3,
  etag: 'E1',
  bindings: bindings as IamPolicy['bindings'],
});

describe('roles', () => {
  it.each([
    ['roles/secretmanager.admin', [...VIEW, ...VERSION_MANAGE, ...ADMIN_ONLY]],
    ['roles/secretmanager.secretAccessor', ['secretmanager.versions.access']],
    ['roles/secretmanager.secretVersionAdder', ['secretmanager.versions.add']],
    ['roles/secretmanager.secretVersionManager', VERSION_MANAGE],
    ['roles/secretmanager.viewer', VIEW],
    ['roles/owner', [...VIEW, ...VERSION_MANAGE, ...ADMIN_ONLY, ...PROJECT_IAM]],
    [
      'roles/editor',
      [...VIEW, ...VERSION_MANAGE, ...ADMIN_ONLY].filter(
        (p) => p !== 'secretmanager.secrets.setIamPolicy',
      ),
    ],
    ['roles/viewer', [...VIEW, 'resourcemanager.projects.getIamPolicy']],
  ])('%s grants exactly what Google documents', async (role, expected) => {
    expect(sorted(ROLES[role]!)).toEqual(sorted(expected));
    const storage = storageWith({ 'iam/proj': policyOf(binding(role, [ALICE])) });
    const granted = await grantedPermissions(storage, ALICE, SECRET, [...ALL_PERMISSIONS]);
    expect(sorted(granted)).toEqual(sorted(expected));
  });

  it("there are no other roles, and every permission is some role's", () => {
    expect(Object.keys(ROLES).sort()).toEqual([
      'roles/editor',
      'roles/owner',
      'roles/secretmanager.admin',
      'roles/secretmanager.secretAccessor',
      'roles/secretmanager.secretVersionAdder',
      'roles/secretmanager.secretVersionManager',
      'roles/secretmanager.viewer',
      'roles/viewer',
    ]);
    expect(sorted([...ALL_PERMISSIONS])).toEqual(
      sorted([...VIEW, ...VERSION_MANAGE, ...ADMIN_ONLY, ...PROJECT_IAM]),
    );
  });
});

describe('stored policies', () => {
  it('are kept under iam/<project> and iam/<secret store key>', () => {
    expect(iamKey(PROJECT)).toBe('iam/proj');
    expect(iamKey({ project: 'proj', location: 'us-east1' })).toBe('iam/proj');
    expect(iamKey(SECRET)).toBe('iam/proj/-/s');
    expect(iamKey({ ...SECRET, location: 'us-east1' })).toBe('iam/proj/us-east1/s');
  });

  it('a resource that never had a policy has version 1, etag ACAB and no bindings', async () => {
    expect(await readPolicy(memoryStorage(), 'iam/proj')).toEqual({
      version: 1,
      etag: 'ACAB',
      bindings: [],
    });
    expect(renderPolicy(await readPolicy(memoryStorage(), 'iam/proj'), 1)).toEqual({
      version: 1,
      etag: 'ACAB',
    });
  });

  it('renders bindings when there are some', () => {
    const policy = policyOf(binding('roles/viewer', [ALICE]));
    expect(renderPolicy(policy, 1)).toEqual({
      version: 3,
      etag: 'E1',
      bindings: [{ role: 'roles/viewer', members: [ALICE] }],
    });
  });

  it('a policy with conditions is rendered only when version 3 is asked for', async () => {
    const policy = policyOf(
      binding('roles/owner', [BOB]),
      binding('roles/viewer', [ALICE], { expression: 'true' }),
    );
    expect(renderPolicy(policy, 3)['bindings']).toHaveLength(2);
    for (const version of [0, 1, 2]) {
      expect(await refusal(() => renderPolicy(policy, version))).toEqual(
        invalid('options.requestedPolicyVersion', 'the policy has conditions; request version 3'),
      );
    }
  });
});

describe('parsePolicy', () => {
  it('reads version, bindings and etag; version 0 is 1; empty bindings are dropped', () => {
    expect(parsePolicy({})).toEqual({ version: 1, bindings: [] });
    expect(parsePolicy({ version: 0, etag: 'E1' })).toEqual({
      version: 1,
      bindings: [],
      etag: 'E1',
    });
    expect(
      parsePolicy({
        version: 3,
        bindings: [
          { role: 'roles/viewer', members: [ALICE, BOB, ALICE] },
          { role: 'roles/owner', members: [] },
          { role: 'roles/editor' },
          { role: 'roles/secretmanager.admin', members: [BOB], condition: { title: 't' } },
          { role: 'roles/secretmanager.viewer', members: [BOB], condition: null },
        ],
      }),
    ).toEqual({
      version: 3,
      bindings: [
        { role: 'roles/viewer', members: [ALICE, BOB] },
        { role: 'roles/secretmanager.admin', members: [BOB], condition: { title: 't' } },
        { role: 'roles/secretmanager.viewer', members: [BOB] },
      ],
    });
  });

  it('an empty or non-string etag is no etag', () => {
    expect(parsePolicy({ etag: '' })).toEqual({ version: 1, bindings: [] });
    expect(parsePolicy({ etag: 7 })).toEqual({ version: 1, bindings: [] });
  });

  it.each([
    ['not an object', 'x', invalid('policy', 'must be an object')],
    ['a list', [], invalid('policy', 'must be an object')],
    ['version 2', { version: 2 }, invalid('policy.version', 'must be 1 or 3')],
    ['version "1"', { version: '1' }, invalid('policy.version', 'must be 1 or 3')],
    [
      'bindings not a list',
      { bindings: {} },
      invalid('policy.bindings', 'must be a list of at most 1500 bindings'),
    ],
    [
      '1501 bindings',
      { bindings: Array.from({ length: 1501 }, () => ({ role: 'roles/viewer', members: [] })) },
      invalid('policy.bindings', 'must be a list of at most 1500 bindings'),
    ],
    [
      'a binding that is not an object',
      { bindings: ['x'] },
      invalid('policy.bindings[0]', 'must be an object'),
    ],
    [
      'an unknown role',
      { bindings: [{ role: 'roles/secretmanager.god', members: [ALICE] }] },
      invalid(
        'policy.bindings[0].role',
        'must be one of the roles/secretmanager.* roles or roles/owner, roles/editor, roles/viewer',
      ),
    ],
    [
      'a role inherited from Object',
      { bindings: [{ role: 'toString', members: [ALICE] }] },
      invalid(
        'policy.bindings[0].role',
        'must be one of the roles/secretmanager.* roles or roles/owner, roles/editor, roles/viewer',
      ),
    ],
    [
      'no role, in the second binding',
      { bindings: [{ role: 'roles/viewer', members: [ALICE] }, { members: [ALICE] }] },
      invalid(
        'policy.bindings[1].role',
        'must be one of the roles/secretmanager.* roles or roles/owner, roles/editor, roles/viewer',
      ),
    ],
    [
      'a role given as a list',
      { bindings: [{ role: ['roles/viewer'], members: [ALICE] }] },
      invalid(
        'policy.bindings[0].role',
        'must be one of the roles/secretmanager.* roles or roles/owner, roles/editor, roles/viewer',
      ),
    ],
    [
      'a member given as a list',
      { bindings: [{ role: 'roles/viewer', members: [[ALICE]] }] },
      invalid('policy.bindings[0].members', 'must be a list such as ["user:alice@example.com"]'),
    ],
    [
      'members not a list',
      { bindings: [{ role: 'roles/viewer', members: ALICE }] },
      invalid('policy.bindings[0].members', 'must be a list such as ["user:alice@example.com"]'),
    ],
    [
      'a member that is not a string',
      { bindings: [{ role: 'roles/viewer', members: [ALICE, 7] }] },
      invalid('policy.bindings[0].members', 'must be a list such as ["user:alice@example.com"]'),
    ],
    [
      'a condition that is not an object',
      { version: 3, bindings: [{ role: 'roles/viewer', members: [ALICE], condition: 'true' }] },
      invalid('policy.bindings[0].condition', 'must be an object'),
    ],
    [
      'a condition in a version 1 policy',
      { bindings: [{ role: 'roles/viewer', members: [ALICE], condition: {} }] },
      invalid('policy.version', 'must be 3 for bindings with a condition'),
    ],
  ])('refuses %s', async (_, input, expected) => {
    expect(await refusal(() => parsePolicy(input))).toEqual(expected);
  });

  it('accepts 1500 bindings', () => {
    const bindings = Array.from({ length: 1500 }, () => ({
      role: 'roles/viewer',
      members: [ALICE],
    }));
    expect(parsePolicy({ bindings }).bindings).toHaveLength(1500);
  });

  it.each([
    'user:alice@example.com',
    'serviceAccount:bob@proj.iam.gserviceaccount.com',
    'group:admins@example.com',
    'domain:example.com',
    'principal://iam.googleapis.com/projects/1/x',
    'principalSet://iam.googleapis.com/projects/1/x',
    'allUsers',
    'allAuthenticatedUsers',
    `user:${'a'.repeat(320)}`,
  ])('accepts the member %s', (member) => {
    expect(
      parsePolicy({ bindings: [{ role: 'roles/viewer', members: [member] }] }).bindings,
    ).toEqual([{ role: 'roles/viewer', members: [member] }]);
  });

  it.each([
    'alice@example.com',
    'user:',
    'user:alice example.com',
    'user: alice@example.com',
    `user:${'a'.repeat(321)}`,
    'xuser:alice@example.com',
    'robot:alice',
    'allUsersx',
    'xallUsers',
    'allAuthenticatedUsers ',
    'User:alice@example.com',
  ])('refuses the member %j', async (member) => {
    expect(
      await refusal(() => parsePolicy({ bindings: [{ role: 'roles/viewer', members: [member] }] })),
    ).toEqual(
      invalid('policy.bindings[0].members', 'must be a list such as ["user:alice@example.com"]'),
    );
  });
});

describe('writePolicy', () => {
  it('stores the bindings under a new etag; a stale etag is ABORTED, the current one accepted', async () => {
    const storage = memoryStorage();
    const first = await writePolicy(storage, 'iam/proj', {
      bindings: [{ role: 'roles/viewer', members: [ALICE] }],
    });
    expect(first.version).toBe(1);
    expect(first.etag).toMatch(/^[A-Za-z0-9+/]{11}=$/);
    expect(first.etag).not.toBe('ACAB');
    expect(await readPolicy(storage, 'iam/proj')).toEqual(first);
    expect(await refusal(writePolicy(storage, 'iam/proj', { etag: 'ACAB', bindings: [] }))).toEqual(
      {
        status: 'ABORTED',
        field: 'policy.etag',
        message: 'policy.etag does not match the current etag',
      },
    );
    const second = await writePolicy(storage, 'iam/proj', { etag: first.etag, version: 3 });
    expect(second.etag).not.toBe(first.etag);
    expect(second).toEqual({ version: 3, etag: second.etag, bindings: [] });
  });

  it('a policy with a condition is stored as version 3', async () => {
    const storage = memoryStorage();
    const written = await writePolicy(storage, 'iam/proj/-/s', {
      version: 3,
      bindings: [
        { role: 'roles/viewer', members: [ALICE] },
        { role: 'roles/owner', members: [BOB], condition: { expression: 'true' } },
      ],
    });
    expect(written.version).toBe(3);
  });

  it('a malformed body writes nothing', async () => {
    const storage = memoryStorage();
    await refusal(writePolicy(storage, 'iam/proj', { version: 2 }));
    expect(storage.entries.size).toBe(0);
  });
});

describe('grantedPermissions and enforceIam', () => {
  const ACCESS = 'secretmanager.versions.access';
  const GET = 'secretmanager.secrets.get';

  it('a caller without a principal is not limited by IAM', async () => {
    const storage = storageWith({ 'iam/proj': policyOf(binding('roles/viewer', [ALICE])) });
    expect(await grantedPermissions(storage, undefined, SECRET, [ACCESS, GET])).toEqual([
      ACCESS,
      GET,
    ]);
    await expect(enforceIam(storage, undefined, SECRET, ACCESS)).resolves.toBeUndefined();
  });

  it('a principal is not limited while neither the project nor the secret has a binding', async () => {
    const storage = storageWith({ 'iam/proj': policyOf(), 'iam/proj/-/s': policyOf() });
    expect(await grantedPermissions(storage, ALICE, SECRET, [ACCESS, GET])).toEqual([ACCESS, GET]);
  });

  it('once either has bindings, a permission needs a binding on one of them', async () => {
    const projectOnly = storageWith({ 'iam/proj': policyOf(binding('roles/viewer', [ALICE])) });
    expect(await grantedPermissions(projectOnly, ALICE, SECRET, [ACCESS, GET])).toEqual([GET]);
    expect(await grantedPermissions(projectOnly, BOB, SECRET, [ACCESS, GET])).toEqual([]);
    const secretOnly = storageWith({
      'iam/proj/-/s': policyOf(binding('roles/secretmanager.secretAccessor', [ALICE])),
    });
    expect(await grantedPermissions(secretOnly, ALICE, SECRET, [ACCESS, GET])).toEqual([ACCESS]);
    const both = storageWith({
      'iam/proj': policyOf(binding('roles/viewer', [ALICE])),
      'iam/proj/-/s': policyOf(binding('roles/secretmanager.secretAccessor', [ALICE])),
    });
    expect(await grantedPermissions(both, ALICE, SECRET, [ACCESS, GET])).toEqual([ACCESS, GET]);
  });

  it("a secret's bindings count for that secret only, not for its project", async () => {
    const storage = storageWith({
      'iam/proj/-/s': policyOf(binding('roles/secretmanager.admin', [ALICE])),
    });
    expect(await grantedPermissions(storage, ALICE, PROJECT, [GET])).toEqual([GET]);
    expect(await grantedPermissions(storage, ALICE, { ...SECRET, secret: 't' }, [GET])).toEqual([
      GET,
    ]);
    const withProject = storageWith({
      'iam/proj': policyOf(binding('roles/secretmanager.secretVersionAdder', [ALICE])),
      'iam/proj/-/s': policyOf(binding('roles/secretmanager.admin', [ALICE])),
    });
    expect(await grantedPermissions(withProject, ALICE, PROJECT, [GET])).toEqual([]);
  });

  it('a binding with several members binds each of them', async () => {
    const storage = storageWith({ 'iam/proj': policyOf(binding('roles/viewer', [ALICE, BOB])) });
    expect(await grantedPermissions(storage, ALICE, SECRET, [GET])).toEqual([GET]);
    expect(await grantedPermissions(storage, BOB, SECRET, [GET])).toEqual([GET]);
  });

  it('allUsers and allAuthenticatedUsers bind every principal', async () => {
    for (const member of ['allUsers', 'allAuthenticatedUsers']) {
      const storage = storageWith({ 'iam/proj': policyOf(binding('roles/viewer', [member])) });
      expect(await grantedPermissions(storage, BOB, SECRET, [GET, ACCESS])).toEqual([GET]);
    }
  });

  it('a binding with a condition never grants (conditions are not evaluated)', async () => {
    const storage = storageWith({
      'iam/proj': policyOf(
        binding('roles/owner', [ALICE], { expression: 'true' }),
        binding('roles/viewer', [BOB]),
      ),
    });
    expect(await grantedPermissions(storage, ALICE, SECRET, [GET])).toEqual([]);
    expect(await grantedPermissions(storage, BOB, SECRET, [GET])).toEqual([GET]);
  });

  it('a stored binding with a role that no longer exists grants nothing', async () => {
    const storage = storageWith({
      'iam/proj': policyOf(
        binding('roles/retired', [ALICE]),
        binding('constructor', [ALICE]),
        binding('toString', [ALICE]),
        binding('roles/viewer', [BOB]),
      ),
    });
    expect(await grantedPermissions(storage, ALICE, SECRET, [GET])).toEqual([]);
  });

  it('enforceIam refuses with PERMISSION_DENIED naming the permission', async () => {
    const storage = storageWith({ 'iam/proj': policyOf(binding('roles/viewer', [ALICE])) });
    await expect(enforceIam(storage, ALICE, SECRET, GET)).resolves.toBeUndefined();
    expect(await refusal(enforceIam(storage, ALICE, SECRET, ACCESS))).toEqual({
      status: 'PERMISSION_DENIED',
      field: undefined,
      message:
        "Permission 'secretmanager.versions.access' denied for resource (or it may not exist).",
    });
  });

  it('a method without a permission is not checked', async () => {
    const storage = storageWith({ 'iam/proj': policyOf(binding('roles/viewer', [ALICE])) });
    await expect(enforceIam(storage, BOB, SECRET, '')).resolves.toBeUndefined();
  });
});
