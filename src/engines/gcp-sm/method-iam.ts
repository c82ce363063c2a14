// IAM methods: GetIamPolicy, SetIamPolicy and TestIamPermissions on secrets (Secret Manager)
// and on projects (Resource Manager v1's shape), over the policies of iam.ts.
import type { JsonValue } from '../../sdk/json.js';
import {
  field,
  invalidArgument,
  isJsonObject,
  parseInt64,
  type Out,
  type Parent,
  type SecretRef,
} from './common.js';
import type { MethodEnv } from './env.js';
import {
  ALL_PERMISSIONS,
  grantedPermissions,
  iamKey,
  readPolicy,
  renderPolicy,
  writePolicy,
} from './iam.js';
import { readSecret } from './method-secrets.js';

type Resource = Parent | SecretRef;

async function checkResource(env: MethodEnv, target: Resource): Promise<void> {
  if ('secret' in target) await readSecret(env, target);
}

export async function getIamPolicy(env: MethodEnv, target: Resource): Promise<Out> {
  await checkResource(env, target);
  const options = env.input['options'];
  const requested =
    parseInt64(
      env.input['options.requestedPolicyVersion'] ??
        (isJsonObject(options) ? field(options, 'requestedPolicyVersion') : undefined),
      'options.requestedPolicyVersion',
    ) ?? 1;
  if (![0, 1, 3].includes(requested)) {
    throw invalidArgument('options.requestedPolicyVersion', 'must be 0, 1 or 3');
  }
  return renderPolicy(await readPolicy(env.storage, iamKey(target)), requested);
}

export async function setIamPolicy(env: MethodEnv, target: Resource): Promise<Out> {
  await checkResource(env, target);
  const policy = await writePolicy(env.storage, iamKey(target), env.input['policy']);
  return renderPolicy(policy, 3);
}

/** The subset of the asked permissions IAM grants the caller (empty for a missing secret). */
export async function testIamPermissions(env: MethodEnv, target: Resource): Promise<Out> {
  const asked = env.input['permissions'];
  if (!Array.isArray(asked) || asked.length > 100 || !asked.every((p) => typeof p === 'string')) {
    throw invalidArgument('permissions', 'must be a list of at most 100 permission names');
  }
  if ('secret' in target) {
    try {
      await readSecret(env, target);
    } catch {
      return {};
    }
  }
  const known = asked.filter((p) => ALL_PERMISSIONS.has(p));
  const granted = await grantedPermissions(env.storage, env.principal, target, known);
  return granted.length === 0 ? {} : { permissions: granted as JsonValue[] };
}
