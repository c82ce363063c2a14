// The AWS Secrets Manager engine (type "aws-sm"): AWS's actions over the shared versioned
// model, one region per path segment, plus KV-v2-shaped reads so the Vault API can read the
// same secrets. The wire format (JSON 1.1, SigV4) lives in src/http/aws/; requests reach this
// engine through Core.handleRequest like any other, with `req.door.method` naming the action.
import { CofferError } from '../../sdk/errors.js';
import type {
  EngineContext,
  EngineFactory,
  EngineRequest,
  EngineResult,
  MountInfo,
  SecretEngine,
} from '../../sdk/engine.js';
import type { JsonObject } from '../../sdk/json.js';
import { KeyLocks, VersionedStore } from '../../sdk/versioned-store.js';
import {
  awsError,
  checkRegion,
  findSecret,
  parseSecretId,
  REGION_PATTERN,
  storeKey,
  type ActionEnv,
  type Input,
  type SecretRef,
} from './common.js';
import {
  deleteSecret,
  describeSecret,
  getRandomPassword,
  listSecrets,
  listSecretVersionIds,
  purgeJob,
  restoreSecret,
  tagResource,
  untagResource,
  updateSecretVersionStage,
} from './action-metadata.js';
import {
  deleteResourcePolicy,
  enforcePolicy,
  getResourcePolicy,
  policyKey,
  putResourcePolicy,
  validateResourcePolicy,
} from './action-policy.js';
import {
  removeRegionsFromReplication,
  replicateSecretToRegions,
  stopReplicationToReplica,
  syncReplicas,
} from './action-replication.js';
import {
  cancelRotateSecret,
  handleFunctionPath,
  rotateSecret,
  rotationJobRun,
  scheduleAfterWrite,
  type RotationRunner,
} from './action-rotation.js';
import { createSecret, getSecretValue, putSecretValue, updateSecret } from './action-values.js';
import { AWS_ACTIONS, isAwsAction, TARGET_PREFIX, type AwsAction } from './actions.js';
import { kvRead } from './path-kv.js';

export const AWS_ENGINE_TYPE = 'aws-sm';

const OPTION_KEYS = ['account_id'];

export function normaliseAwsOptions(
  options: Readonly<Record<string, string>>,
): Record<string, string> {
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.includes(key)) {
      throw new CofferError('invalid_request', `options.${key}: unknown option for aws-sm`, {
        field: `options.${key}`,
      });
    }
  }
  const account = options['account_id'] ?? '000000000000';
  if (!/^\d{12}$/.test(account)) {
    throw new CofferError('invalid_request', 'options.account_id: must be 12 digits', {
      field: 'options.account_id',
    });
  }
  return { account_id: account };
}

type Handler = (env: ActionEnv, ref: SecretRef) => Promise<JsonObject>;

const HANDLERS: Record<AwsAction, Handler> = {
  CreateSecret: (env) => createSecret(env),
  PutSecretValue: putSecretValue,
  UpdateSecret: updateSecret,
  GetSecretValue: getSecretValue,
  BatchGetSecretValue: getSecretValue,
  DeleteSecret: deleteSecret,
  ListSecrets: (env) => listSecrets(env),
  DescribeSecret: describeSecret,
  ListSecretVersionIds: listSecretVersionIds,
  UpdateSecretVersionStage: updateSecretVersionStage,
  TagResource: tagResource,
  UntagResource: untagResource,
  RestoreSecret: restoreSecret,
  GetResourcePolicy: getResourcePolicy,
  PutResourcePolicy: putResourcePolicy,
  DeleteResourcePolicy: deleteResourcePolicy,
  ValidateResourcePolicy: (env) => validateResourcePolicy(env),
  RotateSecret: rotateSecret,
  CancelRotateSecret: cancelRotateSecret,
  ReplicateSecretToRegions: replicateSecretToRegions,
  RemoveRegionsFromReplication: removeRegionsFromReplication,
  StopReplicationToReplica: stopReplicationToReplica,
  GetRandomPassword: (env) => getRandomPassword(env),
};

/** Actions that work on a secret scheduled for deletion, or create one: no policy check first. */
const NO_POLICY_CHECK: ReadonlySet<AwsAction> = new Set(['CreateSecret']);

const ACTION_PATH = /^([a-z0-9-]+)\/([a-z-]+)(?:\/(.*))?$/;

export interface AwsEngineDeps {
  /** Runs rotation functions (webhooks, commands, built-in rotators); see rotation-runner.ts. */
  readonly rotation?: RotationRunner;
  /** Crash tests only: runs after each step of a built-in rotator (see ActionEnv). */
  readonly afterBuiltinStep?: (step: string) => Promise<void>;
}

export function createAwsEngine(mount: MountInfo, deps: AwsEngineDeps = {}): SecretEngine {
  const account = normaliseAwsOptions(mount.options)['account_id']!;
  const storeLocks = new KeyLocks();
  const actionLocks = new KeyLocks();

  const envFor = (ctx: EngineContext, input: Input, region: string, req?: EngineRequest) => {
    const store = new VersionedStore(ctx.storage, {
      locks: storeLocks,
      now: ctx.now,
      trim: 'unlabelled',
    });
    const env: ActionEnv = {
      req: req ?? { ...ctx, operation: 'read', path: '', data: {}, requestId: 'internal' },
      scheduled: req === undefined,
      ctx,
      input,
      region,
      account,
      store,
      storage: ctx.storage,
      locked: (key, task) => actionLocks.run(key, task),
      afterWrite: async (key) => {
        await syncReplicas(env, key);
        await scheduleAfterWrite(env, key);
      },
      findOrUndefined: (ref) => findSecret(env, ref),
      purge: async (key) => {
        await ctx.storage.delete(policyKey(key));
        await store.deleteAll(key);
        await ctx.schedule.cancel(purgeJob(key));
      },
      ...(deps.rotation === undefined ? {} : { rotation: deps.rotation }),
      ...(deps.afterBuiltinStep === undefined ? {} : { afterBuiltinStep: deps.afterBuiltinStep }),
    };
    return env;
  };

  async function handleAction(req: EngineRequest): Promise<EngineResult> {
    const method = req.door?.api === 'aws' ? req.door.method : undefined;
    const action = method?.startsWith(TARGET_PREFIX) ? method.slice(TARGET_PREFIX.length) : '';
    const m = ACTION_PATH.exec(req.path);
    // SECURITY: the AWS actions exist only through the AWS door, and only on the path and
    // operation the table gives them, so the ACL decision the core made is about this action.
    if (!isAwsAction(action) || m === null) {
      throw new CofferError('unsupported_path', 'unsupported path');
    }
    const route = AWS_ACTIONS[action];
    const operation = req.operation === 'create' ? 'update' : req.operation;
    if (route.resource !== m[2] || route.operation !== operation) {
      throw new CofferError('unsupported_path', 'unsupported path');
    }
    const region = m[1]!;
    checkRegion(region);
    const input = req.data;
    const env = envFor(req, input, region, req);
    let ref: SecretRef = { region, name: m[3] ?? '' };
    if (route.target === 'secret' && action !== 'CreateSecret') {
      const secretId = input['SecretId'];
      if (typeof secretId === 'string') {
        const parsed = parseSecretId(secretId, region);
        if (parsed.name === ref.name && parsed.region === region) ref = parsed;
      }
      if (!NO_POLICY_CHECK.has(action)) {
        const found = await findSecret(env, ref);
        if (found !== undefined) {
          await enforcePolicy(
            req.storage,
            found,
            action === 'BatchGetSecretValue' ? 'GetSecretValue' : action,
            req.door?.principal,
          );
        }
      }
    }
    const data = await HANDLERS[action](env, ref);
    return { kind: 'data', data };
  }

  return {
    async handle(req) {
      if (req.path.startsWith('rotation-functions/') || req.path === 'rotation-functions') {
        return handleFunctionPath(req, envFor(req, {}, '', req));
      }
      if (req.path.startsWith('data/') || req.path.startsWith('metadata/')) {
        return kvRead(req, envFor(req, {}, '', req), (found) =>
          enforcePolicy(req.storage, found, 'GetSecretValue', req.door?.principal),
        );
      }
      return handleAction(req);
    },
    async exists(req) {
      const m = ACTION_PATH.exec(req.path);
      if (m === null || m[2] !== 'secrets' || m[3] === undefined || m[3] === '') return undefined;
      if (!REGION_PATTERN.test(m[1]!)) return undefined;
      try {
        const store = new VersionedStore(req.storage, { locks: storeLocks, now: req.now });
        return await store.exists(storeKey(m[1]!, m[3]));
      } catch {
        return undefined;
      }
    },
    async runScheduled(ctx, name) {
      const env = envFor(ctx, {}, '');
      if (name.startsWith('purge/')) {
        const key = name.slice('purge/'.length);
        await actionLocks.run(key, async () => {
          const meta = await env.store.readMeta(key);
          if (meta?.deletionScheduledAt === undefined) return;
          if (meta.deletionScheduledAt > ctx.now()) {
            await ctx.schedule.set(name, meta.deletionScheduledAt);
            return;
          }
          await env.purge(key);
        });
        return;
      }
      await rotationJobRun(env, name);
    },
    async close() {
      await deps.rotation?.close?.();
    },
  };
}

export function awsEngineFactory(deps: AwsEngineDeps = {}): EngineFactory {
  return {
    type: AWS_ENGINE_TYPE,
    description:
      'AWS Secrets Manager: secrets with staging labels, rotation and resource policies, ' +
      'served to AWS clients through the AWS door and readable through the Vault API.',
    normaliseOptions: normaliseAwsOptions,
    create: (mount) => createAwsEngine(mount, deps),
  };
}

export { awsError };
