// The 23 actions of AWS Secrets Manager (2017-10-17) and the (operation, path) each one is on
// the engine's mount, so Coffer policies grant AWS actions by path. The HTTP adapter builds
// its one core request per action from this table; the engine checks the pair it receives
// against it. The table is the documented mapping (docs/api/aws.md).
import type { Operation } from '../../sdk/engine.js';

/** The path segment after `<region>/`; secret actions add `/<name>`. */
export type ActionResource =
  | 'secrets'
  | 'metadata'
  | 'versions'
  | 'stages'
  | 'tags'
  | 'restore'
  | 'policy'
  | 'rotation'
  | 'replication'
  | 'promote'
  | 'random-password'
  | 'validate-policy';

export interface ActionRoute {
  readonly operation: Operation;
  readonly resource: ActionResource;
  /** 'secret': the path names a secret (from SecretId or Name); 'region': it does not. */
  readonly target: 'secret' | 'region' | 'list';
}

export const AWS_ACTIONS = {
  CreateSecret: { operation: 'update', resource: 'secrets', target: 'secret' },
  PutSecretValue: { operation: 'update', resource: 'secrets', target: 'secret' },
  UpdateSecret: { operation: 'update', resource: 'secrets', target: 'secret' },
  GetSecretValue: { operation: 'read', resource: 'secrets', target: 'secret' },
  DeleteSecret: { operation: 'delete', resource: 'secrets', target: 'secret' },
  ListSecrets: { operation: 'list', resource: 'secrets', target: 'list' },
  // One core request per secret (a GetSecretValue each), plus a ListSecrets for Filters.
  BatchGetSecretValue: { operation: 'read', resource: 'secrets', target: 'secret' },
  DescribeSecret: { operation: 'read', resource: 'metadata', target: 'secret' },
  ListSecretVersionIds: { operation: 'read', resource: 'versions', target: 'secret' },
  UpdateSecretVersionStage: { operation: 'update', resource: 'stages', target: 'secret' },
  TagResource: { operation: 'update', resource: 'tags', target: 'secret' },
  UntagResource: { operation: 'delete', resource: 'tags', target: 'secret' },
  RestoreSecret: { operation: 'update', resource: 'restore', target: 'secret' },
  GetResourcePolicy: { operation: 'read', resource: 'policy', target: 'secret' },
  PutResourcePolicy: { operation: 'update', resource: 'policy', target: 'secret' },
  DeleteResourcePolicy: { operation: 'delete', resource: 'policy', target: 'secret' },
  ValidateResourcePolicy: { operation: 'update', resource: 'validate-policy', target: 'region' },
  RotateSecret: { operation: 'update', resource: 'rotation', target: 'secret' },
  CancelRotateSecret: { operation: 'delete', resource: 'rotation', target: 'secret' },
  ReplicateSecretToRegions: { operation: 'update', resource: 'replication', target: 'secret' },
  RemoveRegionsFromReplication: { operation: 'delete', resource: 'replication', target: 'secret' },
  StopReplicationToReplica: { operation: 'update', resource: 'promote', target: 'secret' },
  GetRandomPassword: { operation: 'read', resource: 'random-password', target: 'region' },
} as const satisfies Record<string, ActionRoute>;

export type AwsAction = keyof typeof AWS_ACTIONS;

export function isAwsAction(name: string): name is AwsAction {
  return Object.hasOwn(AWS_ACTIONS, name);
}

/** The prefix of X-Amz-Target and of the audited method name. */
export const TARGET_PREFIX = 'secretsmanager.';

/** The logical path (relative to the mount) an action works on. */
export function actionPath(action: AwsAction, region: string, name?: string): string {
  const route: ActionRoute = AWS_ACTIONS[action];
  if (route.target === 'list') return `${region}/${route.resource}/`;
  if (route.target === 'region') return `${region}/${route.resource}`;
  return `${region}/${route.resource}/${name ?? ''}`;
}
