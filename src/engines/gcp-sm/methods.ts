// The Google Secret Manager v1 methods this door serves, with the (operation, logical path) each
// is on the engine's mount and the IAM permission it needs, so Coffer policies grant Google
// methods by path. Both adapters (REST, gRPC) build their one core request per call from this
// table; the engine checks the pair it receives against it. This table is the documented
// mapping (docs/api/gcp.md).
import type { Operation } from '../../sdk/engine.js';

/** The gRPC service every secret method belongs to, and the audited method's prefix. */
export const SERVICE = 'google.cloud.secretmanager.v1.SecretManagerService';
export const LOCATIONS_SERVICE = 'google.cloud.location.Locations';
/** Project-level IAM as Resource Manager v1 serves it (gcloud projects get-iam-policy). */
export const PROJECTS_SERVICE = 'google.cloudresourcemanager.v1.Projects';

export interface MethodRoute {
  readonly service: string;
  readonly operation: Operation;
  /** The path's tail after the resource (see Target.tail in common.ts). */
  readonly tail: string;
  /** What the path names: a parent, a secret, a version, or a project (IAM, locations). */
  readonly target: 'parent' | 'secret' | 'version' | 'project' | 'location';
  /** The IAM permission; '' = none (TestIamPermissions answers with what is granted). */
  readonly permission: string;
}

export const GCP_METHODS = {
  ListSecrets: {
    service: SERVICE,
    operation: 'list',
    tail: 'secrets/',
    target: 'parent',
    permission: 'secretmanager.secrets.list',
  },
  // POST/PUT: the core's existence check makes this `create` for a new secret; an existing
  // one stays `update` and is refused with ALREADY_EXISTS.
  CreateSecret: {
    service: SERVICE,
    operation: 'update',
    tail: '',
    target: 'secret',
    permission: 'secretmanager.secrets.create',
  },
  GetSecret: {
    service: SERVICE,
    operation: 'read',
    tail: '',
    target: 'secret',
    permission: 'secretmanager.secrets.get',
  },
  UpdateSecret: {
    service: SERVICE,
    operation: 'patch',
    tail: '',
    target: 'secret',
    permission: 'secretmanager.secrets.update',
  },
  DeleteSecret: {
    service: SERVICE,
    operation: 'delete',
    tail: '',
    target: 'secret',
    permission: 'secretmanager.secrets.delete',
  },
  AddSecretVersion: {
    service: SERVICE,
    operation: 'update',
    tail: 'add-version',
    target: 'secret',
    permission: 'secretmanager.versions.add',
  },
  ListSecretVersions: {
    service: SERVICE,
    operation: 'list',
    tail: 'versions/',
    target: 'secret',
    permission: 'secretmanager.versions.list',
  },
  GetSecretVersion: {
    service: SERVICE,
    operation: 'read',
    tail: '',
    target: 'version',
    permission: 'secretmanager.versions.get',
  },
  AccessSecretVersion: {
    service: SERVICE,
    operation: 'read',
    tail: 'access',
    target: 'version',
    permission: 'secretmanager.versions.access',
  },
  EnableSecretVersion: {
    service: SERVICE,
    operation: 'update',
    tail: 'enable',
    target: 'version',
    permission: 'secretmanager.versions.enable',
  },
  DisableSecretVersion: {
    service: SERVICE,
    operation: 'update',
    tail: 'disable',
    target: 'version',
    permission: 'secretmanager.versions.disable',
  },
  DestroySecretVersion: {
    service: SERVICE,
    operation: 'update',
    tail: 'destroy',
    target: 'version',
    permission: 'secretmanager.versions.destroy',
  },
  GetIamPolicy: {
    service: SERVICE,
    operation: 'read',
    tail: 'iam-policy',
    target: 'secret',
    permission: 'secretmanager.secrets.getIamPolicy',
  },
  SetIamPolicy: {
    service: SERVICE,
    operation: 'update',
    tail: 'iam-policy',
    target: 'secret',
    permission: 'secretmanager.secrets.setIamPolicy',
  },
  TestIamPermissions: {
    service: SERVICE,
    operation: 'read',
    tail: 'test-iam-permissions',
    target: 'secret',
    permission: '',
  },
  ListLocations: {
    service: LOCATIONS_SERVICE,
    operation: 'list',
    tail: 'locations/',
    target: 'project',
    permission: 'secretmanager.locations.list',
  },
  GetLocation: {
    service: LOCATIONS_SERVICE,
    operation: 'read',
    tail: '',
    target: 'location',
    permission: 'secretmanager.locations.get',
  },
  GetProjectIamPolicy: {
    service: PROJECTS_SERVICE,
    operation: 'read',
    tail: 'iam-policy',
    target: 'project',
    permission: 'resourcemanager.projects.getIamPolicy',
  },
  SetProjectIamPolicy: {
    service: PROJECTS_SERVICE,
    operation: 'update',
    tail: 'iam-policy',
    target: 'project',
    permission: 'resourcemanager.projects.setIamPolicy',
  },
  TestProjectIamPermissions: {
    service: PROJECTS_SERVICE,
    operation: 'read',
    tail: 'test-iam-permissions',
    target: 'project',
    permission: '',
  },
} as const satisfies Record<string, MethodRoute>;

export type GcpMethod = keyof typeof GCP_METHODS;

export function isGcpMethod(name: string): name is GcpMethod {
  return Object.hasOwn(GCP_METHODS, name);
}

/** The audited method name: `google.cloud.secretmanager.v1.SecretManagerService.GetSecret`. */
export function fullMethodName(method: GcpMethod): string {
  const rpc = method.replace(/^(Get|Set|Test)Project/, '$1');
  return `${GCP_METHODS[method].service}.${rpc}`;
}

/** The method a full name denotes (the engine's view of `req.door.method`). */
export function methodOf(fullName: string): GcpMethod | undefined {
  const dot = fullName.lastIndexOf('.');
  const service = fullName.slice(0, dot);
  const rpc = fullName.slice(dot + 1);
  if (service === PROJECTS_SERVICE) {
    const name = rpc.replace(/^(Get|Set|Test)/, '$1Project');
    return isGcpMethod(name) && GCP_METHODS[name].service === service ? name : undefined;
  }
  if (!isGcpMethod(rpc) || GCP_METHODS[rpc].service !== service) return undefined;
  return rpc;
}
