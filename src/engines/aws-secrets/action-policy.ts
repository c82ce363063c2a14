// Resource policies: Put/Get/Delete/ValidateResourcePolicy, and their enforcement beside
// Coffer's policies. Coffer's ACL decides first (in the core); a resource policy can then only
// take away: an explicit Deny statement that matches the caller, the action and the secret
// refuses the request. Allow statements are validated and stored but grant nothing beyond the
// caller's Coffer policies (docs/api/aws.md).
import type { JsonObject, JsonValue } from '../../sdk/json.js';
import type { Storage } from '../../sdk/storage.js';
import { encodeJson, getJson } from '../../sdk/storage.js';
import {
  ATTRS,
  attrsOf,
  awsError,
  optBool,
  optString,
  parseSecretId,
  reqString,
  requireLive,
  requireSecret,
  toJson,
  without,
  type ActionEnv,
  type AwsValue,
  type Found,
  type SecretRef,
} from './common.js';

/** Engine-owned key of a secret's resource policy: `policy/<store key>`. */
export function policyKey(key: string): string {
  return `policy/${key}`;
}

interface Statement {
  readonly effect: 'Allow' | 'Deny';
  readonly principals: readonly string[] | '*';
  readonly actions: readonly string[];
  readonly notActions?: readonly string[];
  readonly resources: readonly string[];
}

function list(value: unknown): string[] | undefined {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value;
  return undefined;
}

/** Parses an IAM-style policy document; undefined messages list what is malformed. */
export function parsePolicy(text: string): { statements: Statement[]; errors: string[] } {
  const errors: string[] = [];
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { statements: [], errors: ['The policy document is not valid JSON.'] };
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    return { statements: [], errors: ['The policy document must be a JSON object.'] };
  }
  const raw = (doc as Record<string, unknown>)['Statement'];
  const items = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  if (items.length === 0) errors.push('The policy document must have at least one Statement.');
  const statements: Statement[] = [];
  items.forEach((item, i) => {
    const where = `Statement ${i + 1}`;
    if (item === null || typeof item !== 'object') {
      errors.push(`${where} must be an object.`);
      return;
    }
    const s = item as Record<string, unknown>;
    const effect = s['Effect'];
    if (effect !== 'Allow' && effect !== 'Deny') {
      errors.push(`${where}: Effect must be "Allow" or "Deny".`);
      return;
    }
    let principals: string[] | '*' | undefined;
    const p = s['Principal'];
    if (p === '*') principals = '*';
    else if (p !== null && typeof p === 'object' && !Array.isArray(p)) {
      const aws = list((p as Record<string, unknown>)['AWS']);
      principals = aws?.includes('*') === true ? '*' : aws;
    }
    if (principals === undefined) {
      errors.push(`${where}: Principal must be "*" or {"AWS": ARN or list of ARNs}.`);
      return;
    }
    const actions = list(s['Action']);
    const notActions = list(s['NotAction']);
    if (actions === undefined && notActions === undefined) {
      errors.push(`${where}: Action must be a string or a list of strings.`);
      return;
    }
    for (const a of [...(actions ?? []), ...(notActions ?? [])]) {
      if (a !== '*' && !/^secretsmanager:[A-Za-z*?]+$/.test(a)) {
        errors.push(`${where}: unsupported action "${a.slice(0, 64)}".`);
      }
    }
    const resources = list(s['Resource']) ?? ['*'];
    statements.push({
      effect,
      principals,
      actions: actions ?? [],
      ...(notActions === undefined ? {} : { notActions }),
      resources,
    });
  });
  return { statements, errors };
}

function glob(pattern: string, value: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    'i',
  );
  return re.test(value);
}

function principalMatches(
  principals: readonly string[] | '*',
  caller: string | undefined,
): boolean {
  if (principals === '*') return true;
  if (caller === undefined) return false;
  const account = /^arn:aws:iam::(\d{12}):/.exec(caller)?.[1];
  return principals.some(
    (p) =>
      p === caller ||
      (account !== undefined && (p === account || p === `arn:aws:iam::${account}:root`)),
  );
}

/** Whether `statements` explicitly deny `action` on `arn` for `principal`. */
export function explicitlyDenied(
  statements: readonly Statement[],
  action: string,
  arn: string,
  principal: string | undefined,
): boolean {
  return statements.some((s) => {
    if (s.effect !== 'Deny' || !principalMatches(s.principals, principal)) return false;
    const actionHit =
      s.notActions !== undefined
        ? !s.notActions.some((a) => glob(a, action))
        : s.actions.some((a) => glob(a, action));
    return actionHit && s.resources.some((r) => glob(r, arn));
  });
}

function isPublic(statements: readonly Statement[]): boolean {
  return statements.some((s) => s.effect === 'Allow' && s.principals === '*');
}

/**
 * SECURITY: runs for every action on an existing secret, after Coffer's ACL allowed it. A
 * secret without a policy costs nothing (a flag in its attributes).
 */
export async function enforcePolicy(
  storage: Storage,
  found: Found,
  action: string,
  principal: string | undefined,
): Promise<void> {
  if (found.attrs.hasPolicy !== true) return;
  const stored = await getJson<{ text: string }>(storage, policyKey(found.key));
  if (stored === undefined) return;
  const { statements } = parsePolicy(stored.text);
  if (explicitlyDenied(statements, `secretsmanager:${action}`, found.arn, principal)) {
    throw awsError(
      'AccessDeniedException',
      `User is not authorized to perform: secretsmanager:${action} on resource because of an explicit deny in a resource-based policy`,
    );
  }
}

/**
 * SECURITY: a SecretString holding `masterarn` lends the admin secret it names to the
 * alternating-users rotators, which log in with it and clone the user the value names. As an
 * AWS rotation function's role must be allowed to read the admin secret, the caller writing
 * such a value must be allowed to read it: GetSecretValue by Coffer's policies, then by the
 * admin secret's resource policy. The rotators' own copies run as scheduled jobs, without a
 * caller. A value that is not a JSON object, or a `masterarn` that names no secret, lends
 * nothing (the rotators refuse it), so it is left alone.
 */
export async function requireMayLendAdmin(env: ActionEnv, value: AwsValue): Promise<void> {
  if (env.scheduled || !('SecretString' in value)) return;
  let masterarn: unknown;
  try {
    masterarn = (JSON.parse(value.SecretString) as Record<string, unknown> | null)?.['masterarn'];
  } catch {
    return;
  }
  if (typeof masterarn !== 'string') return;
  let ref: SecretRef;
  try {
    ref = parseSecretId(masterarn, env.region);
  } catch {
    return;
  }
  if (env.req.mayRead?.(`${ref.region}/secrets/${ref.name}`) !== true) {
    throw awsError(
      'AccessDeniedException',
      'User is not authorized to perform: secretsmanager:GetSecretValue on the secret masterarn names, which a value holding it lends to the rotation',
    );
  }
  const admin = await env.findOrUndefined(ref);
  if (admin !== undefined) {
    await enforcePolicy(env.storage, admin, 'GetSecretValue', env.req.door?.principal);
  }
}

const POLICY_LIMITS = { min: 1, max: 20480 };

export async function putResourcePolicy(env: ActionEnv, ref: SecretRef): Promise<JsonObject> {
  const text = reqString(env.input, 'ResourcePolicy', POLICY_LIMITS);
  const block = optBool(env.input, 'BlockPublicPolicy') ?? false;
  const { statements, errors } = parsePolicy(text);
  if (errors.length > 0) {
    throw awsError('MalformedPolicyDocumentException', errors.join(' '), 'ResourcePolicy');
  }
  if (block && isPublic(statements)) {
    throw awsError(
      'PublicPolicyException',
      'BlockPublicPolicy is set and the resource policy grants public access (Principal "*").',
      'ResourcePolicy',
    );
  }
  const found0 = await requireSecret(env, ref);
  return env.locked(found0.key, async () => {
    const found = await requireSecret(env, ref);
    requireLive(found);
    await env.storage.put(policyKey(found.key), encodeJson({ text }));
    if (found.attrs.hasPolicy !== true) {
      await env.store.updateMeta(
        found.key,
        (meta) => ({ attributes: { [ATTRS]: toJson({ ...attrsOf(meta)!, hasPolicy: true }) } }),
        { createIfMissing: false },
      );
    }
    return { ARN: found.arn, Name: ref.name };
  });
}

export async function getResourcePolicy(env: ActionEnv, ref: SecretRef): Promise<JsonObject> {
  const found = await requireSecret(env, ref);
  requireLive(found);
  const stored =
    found.attrs.hasPolicy === true
      ? await getJson<{ text: string }>(env.storage, policyKey(found.key))
      : undefined;
  return {
    ARN: found.arn,
    Name: ref.name,
    ...(stored === undefined ? {} : { ResourcePolicy: stored.text }),
  };
}

export async function deleteResourcePolicy(env: ActionEnv, ref: SecretRef): Promise<JsonObject> {
  const found0 = await requireSecret(env, ref);
  return env.locked(found0.key, async () => {
    const found = await requireSecret(env, ref);
    requireLive(found);
    await env.storage.delete(policyKey(found.key));
    await env.store.updateMeta(
      found.key,
      (meta) => {
        const rest = without(attrsOf(meta)!, 'hasPolicy');
        return { attributes: { [ATTRS]: toJson(rest) } };
      },
      { createIfMissing: false },
    );
    return { ARN: found.arn, Name: ref.name };
  });
}

export function validateResourcePolicy(env: ActionEnv): Promise<JsonObject> {
  const text = reqString(env.input, 'ResourcePolicy', POLICY_LIMITS);
  optString(env.input, 'SecretId', { min: 1, max: 2048 });
  const { errors } = parsePolicy(text);
  if (errors.length === 1 && errors[0]!.includes('not valid JSON')) {
    throw awsError('MalformedPolicyDocumentException', errors[0]!, 'ResourcePolicy');
  }
  const ValidationErrors: JsonValue[] = errors.map((message) => ({
    CheckName: 'SYNTAX_CHECK',
    ErrorMessage: message,
  }));
  return Promise.resolve({ PolicyValidationPassed: errors.length === 0, ValidationErrors });
}
