// The CofferSecret custom resource (coffer.dev/v1alpha1): its names, its spec as the operator
// reads it (checked again here, whatever the CRD schema let through), and its status.
//
//   spec:
//     sources:                       # read in order; a key given twice is an error
//       - path: secret/app           # a whole secret: every key (KV v1/v2, any readable path)
//       - path: secret/db
//         version: 3                 # KV v2 only
//         keys: { DB_PASSWORD: password }   # target key: source key (only these)
//       - path: database/creds/app   # dynamic: leased, renewed, replaced before expiry
//         keys: { PGUSER: username, PGPASSWORD: password }
//     target:
//       name: app-secrets            # default: the resource's name
//       type: Opaque
//       labels: {...}
//       annotations: {...}
//       templates: { DATABASE_URL: "postgres://{{PGUSER}}:{{PGPASSWORD}}@db/app" }
//     rolloutRestartTargets: [{ kind: Deployment, name: app }]
//     revokeOnDelete: true           # revoke the resource's leases when it is deleted
import { isRecord } from '../client/index.js';
import type { KubeObject } from './list-watch.js';

export const GROUP = 'coffer.dev';
export const VERSION = 'v1alpha1';
export const PLURAL = 'coffersecrets';
export const KIND = 'CofferSecret';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const FINALIZER = 'coffer.dev/cleanup';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'coffer-operator';
/** HMAC of the Secret's data and type, on the Secret; lets a restarted operator skip rewriting it. */
export const MAC_ANNOTATION = 'coffer.dev/data-mac';
/** "namespace/name" of the CofferSecret on the Secret it manages. */
export const OWNER_ANNOTATION = 'coffer.dev/owner';

export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet';
export const WORKLOAD_KINDS: readonly WorkloadKind[] = ['Deployment', 'StatefulSet', 'DaemonSet'];

export interface SourceSpec {
  readonly path: string;
  readonly version?: number;
  /** Target key → source key; absent means every key of the secret. */
  readonly keys?: Readonly<Record<string, string>>;
}

export interface TargetSpec {
  readonly name: string;
  readonly type: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly templates: Readonly<Record<string, string>>;
}

export interface CofferSecretSpec {
  readonly sources: readonly SourceSpec[];
  readonly target: TargetSpec;
  readonly rolloutRestartTargets: readonly { readonly kind: WorkloadKind; readonly name: string }[];
  readonly revokeOnDelete: boolean;
}

export interface Condition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly observedGeneration?: number;
  readonly lastTransitionTime: string;
  readonly reason: string;
  readonly message: string;
}

export interface LeaseStatus {
  readonly path: string;
  readonly leaseId: string;
  /** RFC 3339. */
  readonly expireTime: string;
  readonly renewable: boolean;
}

export interface CofferSecretStatus {
  readonly observedGeneration?: number;
  readonly secretName?: string;
  readonly dataMac?: string;
  readonly lastChangeTime?: string;
  readonly leases?: readonly LeaseStatus[];
  readonly conditions?: readonly Condition[];
}

export interface CofferSecret extends KubeObject {
  readonly spec?: unknown;
  readonly status?: CofferSecretStatus;
}

/** A spec the operator cannot act on; the message names the field. */
export class SpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpecError';
  }
}

const SECRET_KEY = /^[-._a-zA-Z0-9]{1,253}$/;
const DNS_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

function stringMap(value: unknown, field: string, keyRule?: RegExp): Record<string, string> {
  if (value === undefined) return {};
  if (!isRecord(value)) throw new SpecError(`${field} must be a map of strings`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new SpecError(`${field}.${k} must be a string`);
    if (keyRule !== undefined && !keyRule.test(k)) {
      throw new SpecError(`${field}: "${k}" is not a valid Secret key`);
    }
    out[k] = v;
  }
  return out;
}

/**
 * Reads and checks a resource's spec. `scopes` (already expanded for its namespace) limit the
 * paths it may read; empty means no limit.
 */
export function parseSpec(resource: CofferSecret, scopes: readonly string[]): CofferSecretSpec {
  const spec = resource.spec;
  if (!isRecord(spec)) throw new SpecError('spec is required');
  const rawSources = spec['sources'];
  if (!Array.isArray(rawSources) || rawSources.length === 0) {
    throw new SpecError('spec.sources must list at least one source');
  }
  const sources = rawSources.map((raw, i): SourceSpec => {
    const field = `spec.sources[${i}]`;
    if (!isRecord(raw)) throw new SpecError(`${field} must be an object`);
    const path =
      typeof raw['path'] === 'string' ? raw['path'].trim().replace(/^\/+|\/+$/g, '') : '';
    if (path === '' || path.split('/').some((s) => s === '' || s === '..' || s === '.')) {
      throw new SpecError(`${field}.path must be a secret path such as secret/app`);
    }
    if (scopes.length > 0 && !scopes.some((scope) => `${path}/`.startsWith(scope))) {
      throw new SpecError(`${field}.path is outside the paths this namespace may read`);
    }
    const version = raw['version'];
    if (version !== undefined && (!Number.isSafeInteger(version) || (version as number) < 1)) {
      throw new SpecError(`${field}.version must be a whole number of at least 1`);
    }
    const keys =
      raw['keys'] === undefined ? undefined : stringMap(raw['keys'], `${field}.keys`, SECRET_KEY);
    return {
      path,
      ...(version === undefined ? {} : { version: version as number }),
      ...(keys === undefined ? {} : { keys }),
    };
  });
  const target = isRecord(spec['target']) ? spec['target'] : {};
  const name =
    typeof target['name'] === 'string' && target['name'] !== ''
      ? target['name']
      : (resource.metadata?.name ?? '');
  if (!DNS_NAME.test(name)) throw new SpecError('spec.target.name must be a DNS subdomain name');
  const type =
    typeof target['type'] === 'string' && target['type'] !== '' ? target['type'] : 'Opaque';
  const rawTargets = spec['rolloutRestartTargets'] ?? [];
  if (!Array.isArray(rawTargets)) throw new SpecError('spec.rolloutRestartTargets must be a list');
  const rolloutRestartTargets = rawTargets.map((raw, i) => {
    const field = `spec.rolloutRestartTargets[${i}]`;
    const kind = isRecord(raw) ? raw['kind'] : undefined;
    const targetName = isRecord(raw) ? raw['name'] : undefined;
    if (!WORKLOAD_KINDS.includes(kind as WorkloadKind)) {
      throw new SpecError(`${field}.kind must be one of ${WORKLOAD_KINDS.join(', ')}`);
    }
    if (typeof targetName !== 'string' || !DNS_NAME.test(targetName)) {
      throw new SpecError(`${field}.name must be a workload name`);
    }
    return { kind: kind as WorkloadKind, name: targetName };
  });
  const revoke = spec['revokeOnDelete'];
  if (revoke !== undefined && typeof revoke !== 'boolean') {
    throw new SpecError('spec.revokeOnDelete must be true or false');
  }
  return {
    sources,
    target: {
      name,
      type,
      labels: stringMap(target['labels'], 'spec.target.labels'),
      annotations: stringMap(target['annotations'], 'spec.target.annotations'),
      templates: stringMap(target['templates'], 'spec.target.templates', SECRET_KEY),
    },
    rolloutRestartTargets,
    revokeOnDelete: revoke !== false,
  };
}

/**
 * Expands "{namespace}" in each scope prefix. A source path is in scope when "<path>/" starts
 * with the prefix: "{namespace}/" allows "shop/app", "database/creds/{namespace}-" allows
 * "database/creds/shop-app".
 */
export function scopesFor(patterns: readonly string[], namespace: string): string[] {
  return patterns.map((p) => p.replaceAll('{namespace}', namespace).replace(/^\/+/, ''));
}
