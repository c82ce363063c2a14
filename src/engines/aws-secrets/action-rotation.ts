// RotateSecret and CancelRotateSecret, the rotation-function registry (`rotation-functions/
// <name>` on the mount, named by RotationLambdaARN), and the four-step run itself:
// createSecret → setSecret → testSecret → finishSecret, each an invocation of the function with
// AWS's Lambda event. The run's progress lives in the secret's rotation settings and a
// scheduler job re-armed BEFORE each step, so a crash in any step resumes that step after the
// restart (the functions' steps are idempotent, as AWS requires of Lambdas).
import { randomUUID } from 'node:crypto';
import { CronExpressionParser } from 'cron-parser';
import { CofferError, invalidField } from '../../sdk/errors.js';
import type { EngineRequest, EngineResult } from '../../sdk/engine.js';
import type { JsonObject } from '../../sdk/json.js';
import { encodeJson, getJson } from '../../sdk/storage.js';
import { versionByLabel, versionById, type SecretMeta } from '../../sdk/versioned-store.js';
import type { Outbound } from '../../shared/outbound.js';
import {
  invokeRotationFunction,
  parseRotationFunction,
  renderRotationFunction,
  type RotationFunction,
} from '../../shared/rotation-function.js';
import { BUILTIN_PREFIX, BUILTIN_ROTATORS } from './builtin-rotators.js';
import {
  ATTRS,
  AWSCURRENT,
  AWSPENDING,
  attrsOf,
  awsError,
  clientToken,
  nameOfKey,
  optBool,
  optInt,
  optList,
  optString,
  requireLive,
  requirePrimary,
  requireSecret,
  requireToken,
  secretArn,
  toJson,
  without,
  type ActionEnv,
  type Input,
  type SecretRef,
} from './common.js';

/** What the engine needs to run rotation functions. */
export interface RotationRunner {
  readonly outbound: Outbound;
  close?(): Promise<void>;
}

export const STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;
export type Step = (typeof STEPS)[number];

/** A run that survives restarts: where it is and for which version. */
interface Run {
  readonly token: string;
  readonly step: Step;
  /** RotateImmediately=false: only testSecret, then the pending version goes again. */
  readonly testOnly?: boolean;
}

/** Stored as SecretMeta.rotation. */
interface RotationSettings {
  readonly enabled: boolean;
  readonly lambdaArn: string;
  readonly rules?: JsonObject;
  /** Epoch ms of the next scheduled rotation. */
  readonly nextAt?: number;
  readonly run?: Run;
}

export function rotationJob(key: string): string {
  return `rotate/${key}`;
}

/**
 * How long a step may run before the job that guards it resumes it (after a crash): longer
 * than every attempt the function gets, so a live step is never run twice at once.
 */
function stepGuardMs(fn: RotationFunction): number {
  switch (fn.type) {
    case 'webhook':
      return fn.timeoutMs * (fn.retries + 1) + 5_000 * fn.retries + 10_000;
    case 'command':
      return fn.timeoutMs + 10_000;
    case 'builtin':
      return builtinTimeoutMs(fn) + 10_000;
  }
}

function builtinTimeoutMs(fn: { readonly timeoutMs?: number }): number {
  return fn.timeoutMs ?? 30_000;
}

function settingsOf(meta: SecretMeta): RotationSettings | undefined {
  return meta.rotation as RotationSettings | undefined;
}

/** `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]` or a bare name. */
export function functionName(lambdaArn: string): string {
  const m =
    /^arn:aws[a-z-]*:lambda:[a-z0-9-]*:\d*:function:([A-Za-z0-9_-]{1,64})(?::[A-Za-z0-9$_-]+)?$/.exec(
      lambdaArn,
    );
  if (m !== null) return m[1]!;
  if (/^[A-Za-z0-9_-]{1,64}$/.test(lambdaArn)) return lambdaArn;
  throw awsError(
    'InvalidParameterException',
    'RotationLambdaARN is not a valid Lambda function ARN.',
    'RotationLambdaARN',
  );
}

const FUNCTION_PREFIX = 'functions/';

async function loadFunction(env: ActionEnv, name: string): Promise<RotationFunction | undefined> {
  // The built-in rotators answer to their own names without registration.
  const builtin = name.startsWith(BUILTIN_PREFIX) ? name.slice(BUILTIN_PREFIX.length) : undefined;
  if (builtin !== undefined && Object.hasOwn(BUILTIN_ROTATORS, builtin)) {
    return { type: 'builtin', rotator: builtin };
  }
  return getJson<RotationFunction>(env.storage, `${FUNCTION_PREFIX}${name}`);
}

// ---- Schedules ----

const RATE = /^rate\((\d+) (hour|hours|day|days)\)$/;

function checkRules(rules: Input): JsonObject {
  const days = optInt(rules, 'AutomaticallyAfterDays', 1, 1000);
  const expression = optString(rules, 'ScheduleExpression', { min: 1, max: 256 });
  const duration = optString(rules, 'Duration', { min: 2, max: 3, pattern: /^[0-9]+h$/ });
  if (days !== undefined && expression !== undefined) {
    throw awsError(
      'InvalidParameterException',
      "You can't specify both AutomaticallyAfterDays and ScheduleExpression.",
      'RotationRules',
    );
  }
  if (expression !== undefined) {
    const rate = RATE.exec(expression);
    if (rate !== null) {
      const hours = Number(rate[1]) * (rate[2]!.startsWith('day') ? 24 : 1);
      if (hours < 4 || hours > 24_000) {
        throw awsError(
          'InvalidParameterException',
          'A rate() schedule must be between 4 hours and 1000 days.',
          'ScheduleExpression',
        );
      }
    } else {
      cronNext(expression, 0);
    }
  }
  if (duration !== undefined) {
    const hours = Number(duration.slice(0, -1));
    if (hours < 1 || hours > 24) {
      throw awsError(
        'InvalidParameterException',
        'Duration must be between 1h and 24h.',
        'Duration',
      );
    }
  }
  return {
    ...(days === undefined ? {} : { AutomaticallyAfterDays: days }),
    ...(expression === undefined ? {} : { ScheduleExpression: expression }),
    ...(duration === undefined ? {} : { Duration: duration }),
  };
}

/** EventBridge cron(min hour dom month dow year) → the next time after `from` (UTC). */
function cronNext(expression: string, from: number): number {
  const m = /^cron\((.+)\)$/.exec(expression);
  const fields = m?.[1]?.trim().split(/\s+/);
  if (fields?.length !== 6) {
    throw awsError(
      'InvalidParameterException',
      'ScheduleExpression must be rate(N hours|days) or cron(minutes hours day-of-month month day-of-week year).',
      'ScheduleExpression',
    );
  }
  const [minute, hour, dom, month, dow] = fields.map((f) => f.replace(/\?/g, '*'));
  try {
    const parsed = CronExpressionParser.parse(`${minute} ${hour} ${dom} ${month} ${dow}`, {
      currentDate: new Date(from),
      tz: 'UTC',
    });
    return parsed.next().getTime();
  } catch {
    throw awsError(
      'InvalidParameterException',
      'ScheduleExpression is not a valid cron expression.',
      'ScheduleExpression',
    );
  }
}

/** The next rotation after one at `last` (epoch ms), or undefined without a schedule. */
export function nextRotation(rules: JsonObject | undefined, last: number): number | undefined {
  if (rules === undefined) return undefined;
  const days = rules['AutomaticallyAfterDays'];
  if (typeof days === 'number') return last + days * 86_400_000;
  const expression = rules['ScheduleExpression'];
  if (typeof expression !== 'string') return undefined;
  const rate = RATE.exec(expression);
  if (rate !== null)
    return last + Number(rate[1]) * (rate[2]!.startsWith('day') ? 86_400_000 : 3_600_000);
  return cronNext(expression, last);
}

// ---- Actions ----

export async function rotateSecret(env: ActionEnv, ref: SecretRef): Promise<JsonObject> {
  const { input } = env;
  const token = requireToken(clientToken(input));
  const lambdaArn = optString(input, 'RotationLambdaARN', { max: 2048 });
  const rulesInput = input['RotationRules'];
  const rules =
    rulesInput === undefined || rulesInput === null ? undefined : checkRules(rulesInput as Input);
  const immediately = optBool(input, 'RotateImmediately') ?? true;
  const external = optList(input, 'ExternalSecretRotationMetadata', 0, 10);
  const externalRole = optString(input, 'ExternalSecretRotationRoleArn', { max: 2048 });
  const found0 = await requireSecret(env, ref);
  const started = await env.locked(found0.key, async () => {
    const found = await requireSecret(env, ref);
    requireLive(found);
    requirePrimary(found);
    const current = settingsOf(found.meta);
    const arn = lambdaArn ?? current?.lambdaArn;
    if (arn === undefined) {
      throw awsError(
        'InvalidRequestException',
        'No Lambda rotation function ARN is associated with this secret.',
      );
    }
    const name = functionName(arn);
    if ((await loadFunction(env, name)) === undefined) {
      throw awsError(
        'InvalidRequestException',
        `No rotation function named ${name} is registered in Coffer (write it to rotation-functions/${name} on this mount).`,
        'RotationLambdaARN',
      );
    }
    if (current?.run !== undefined && current.run.token !== token) {
      throw awsError(
        'InvalidRequestException',
        "A previous rotation isn't complete. That rotation will be reattempted.",
      );
    }
    const pendingVersion = versionByLabel(found.meta, AWSPENDING);
    const currentVersion = versionByLabel(found.meta, AWSCURRENT);
    if (
      current?.run === undefined &&
      pendingVersion !== undefined &&
      pendingVersion.number !== currentVersion?.number
    ) {
      throw awsError(
        'InvalidRequestException',
        "A previous rotation isn't complete. That rotation will be reattempted.",
      );
    }
    const now = env.req.now();
    const effectiveRules = rules ?? current?.rules;
    const nextAt = nextRotation(effectiveRules, found.attrs.lastRotatedAt ?? now);
    const run: Run | undefined = current?.run ?? {
      token,
      step: immediately ? 'createSecret' : 'testSecret',
      ...(immediately ? {} : { testOnly: true }),
    };
    const settings: RotationSettings = {
      enabled: true,
      lambdaArn: arn,
      ...(effectiveRules === undefined ? {} : { rules: effectiveRules }),
      ...(nextAt === undefined ? {} : { nextAt }),
      run,
    };
    const attrs = {
      ...found.attrs,
      ...(found.attrs.pending !== undefined || versionById(found.meta, run.token) !== undefined
        ? {}
        : { pending: { versionId: run.token, createdAt: now } }),
      ...(external === undefined && externalRole === undefined
        ? {}
        : {
            external: {
              ...(external === undefined
                ? {}
                : { ExternalSecretRotationMetadata: external as JsonObject[] }),
              ...(externalRole === undefined
                ? {}
                : { ExternalSecretRotationRoleArn: externalRole }),
            },
          }),
    };
    await env.store.updateMeta(
      found.key,
      { rotation: settings as unknown as JsonObject, attributes: { [ATTRS]: toJson(attrs) } },
      { createIfMissing: false },
    );
    // Asynchronous, as in AWS: the job runs the steps; a crash resumes them.
    await env.ctx.schedule.set(rotationJob(found.key), now);
    return { ARN: found.arn, Name: ref.name, VersionId: run.token };
  });
  return started;
}

export async function cancelRotateSecret(env: ActionEnv, ref: SecretRef): Promise<JsonObject> {
  const found0 = await requireSecret(env, ref);
  return env.locked(found0.key, async () => {
    const found = await requireSecret(env, ref);
    requireLive(found);
    const current = settingsOf(found.meta);
    if (current === undefined) {
      throw awsError('InvalidRequestException', 'The secret is not configured for rotation.');
    }
    const run = current.run;
    const rest = without(current, 'run', 'nextAt');
    await env.store.updateMeta(
      found.key,
      { rotation: { ...rest, enabled: false } as unknown as JsonObject },
      { createIfMissing: false },
    );
    await env.ctx.schedule.cancel(rotationJob(found.key));
    const versionId =
      run?.token ?? found.attrs.pending?.versionId ?? versionByLabel(found.meta, AWSPENDING)?.id;
    return {
      ARN: found.arn,
      Name: ref.name,
      ...(versionId === undefined ? {} : { VersionId: versionId }),
    };
  });
}

/** A new value written by hand counts as a rotation for the schedule (AWS). */
export async function scheduleAfterWrite(env: ActionEnv, key: string): Promise<void> {
  const meta = await env.store.readMeta(key);
  const settings = meta === undefined ? undefined : settingsOf(meta);
  if (settings?.enabled !== true || settings.run !== undefined) return;
  const nextAt = nextRotation(settings.rules, env.ctx.now());
  if (nextAt === undefined) return;
  await env.store.updateMeta(
    key,
    { rotation: { ...settings, nextAt } as unknown as JsonObject },
    { createIfMissing: false },
  );
  await env.ctx.schedule.set(rotationJob(key), nextAt);
}

async function saveSettings(
  env: ActionEnv,
  key: string,
  change: (s: RotationSettings, meta: SecretMeta) => RotationSettings,
  attrsChange?: (meta: SecretMeta) => JsonObject,
): Promise<void> {
  await env.store.updateMeta(
    key,
    (meta) => ({
      rotation: change(settingsOf(meta)!, meta) as unknown as JsonObject,
      ...(attrsChange === undefined ? {} : { attributes: { [ATTRS]: attrsChange(meta) } }),
    }),
    { createIfMissing: false },
  );
}

/**
 * The scheduler job `rotate/<key>`: starts a due scheduled rotation, then runs the remaining
 * steps. Each step is guarded by re-arming this job first; a throw leaves AWSCURRENT as it is
 * and the scheduler retries the same step with backoff.
 */
export async function rotationJobRun(env: ActionEnv, name: string): Promise<void> {
  if (!name.startsWith('rotate/')) return;
  const key = name.slice('rotate/'.length);
  const meta = await env.store.readMeta(key);
  const attrs = meta === undefined ? undefined : attrsOf(meta);
  let settings = meta === undefined ? undefined : settingsOf(meta);
  if (meta === undefined || attrs === undefined || settings?.enabled !== true) return;
  if (meta.deletionScheduledAt !== undefined) return;
  const now = env.ctx.now();
  if (settings.run === undefined) {
    if (settings.nextAt === undefined) return;
    if (settings.nextAt > now) {
      await env.ctx.schedule.set(name, settings.nextAt);
      return;
    }
    // A scheduled rotation is due: start it like RotateSecret does.
    const token = randomUUID();
    await env.locked(key, () =>
      saveSettings(
        env,
        key,
        (s) => ({ ...s, run: { token, step: 'createSecret' } }),
        (m) => toJson({ ...attrsOf(m)!, pending: { versionId: token, createdAt: now } }),
      ),
    );
    settings = { ...settings, run: { token, step: 'createSecret' } };
  }
  const region = key.slice(0, key.indexOf('/'));
  const secretName = nameOfKey(key.slice(region.length + 1));
  const arn = secretArn(region, env.account, secretName, attrs.arnSuffix);
  const fn = await loadFunction(env, functionName(settings.lambdaArn));
  if (fn === undefined)
    throw new CofferError('upstream_failure', 'rotation function is not registered');
  let run = settings.run!;
  for (;;) {
    // SECURITY (convergence): the guard is stored before the step runs.
    await env.ctx.schedule.set(name, env.ctx.now() + stepGuardMs(fn));
    await invoke(env, fn, { SecretId: arn, ClientRequestToken: run.token, Step: run.step });
    const index = STEPS.indexOf(run.step);
    const done = run.testOnly === true || index === STEPS.length - 1;
    if (done) break;
    const nextStep = STEPS[index + 1]!;
    run = { ...run, step: nextStep };
    const saved = run;
    await env.locked(key, () => saveSettings(env, key, (s) => ({ ...s, run: saved })));
  }
  const finishedAt = env.ctx.now();
  const finished = run;
  await env.locked(key, async () => {
    const latest = await env.store.readMeta(key);
    if (latest === undefined) return;
    // AWS removes AWSPENDING once finishSecret made the new version current.
    const tokenVersion = versionById(latest, finished.token);
    if (tokenVersion !== undefined && tokenVersion.labels.includes(AWSCURRENT)) {
      await env.store.changeLabels(key, (m) => {
        const v = versionById(m, finished.token);
        if (v === undefined || !v.labels.includes(AWSPENDING)) return undefined;
        return { labels: { [String(v.number)]: v.labels.filter((l) => l !== AWSPENDING) } };
      });
    }
    const rotated =
      finished.testOnly !== true && tokenVersion?.labels.includes(AWSCURRENT) === true;
    const nextAt = nextRotation(settingsOf(latest)?.rules, finishedAt);
    await saveSettings(
      env,
      key,
      (s) => {
        const rest = without(s, 'run');
        return { ...rest, ...(nextAt === undefined ? {} : { nextAt }) };
      },
      (m) => {
        const rest = without(attrsOf(m)!, 'pending');
        return toJson({ ...rest, ...(rotated ? { lastRotatedAt: finishedAt } : {}) });
      },
    );
    if (nextAt === undefined) await env.ctx.schedule.cancel(name);
    else await env.ctx.schedule.set(name, nextAt);
  });
}

async function invoke(
  env: ActionEnv,
  fn: RotationFunction,
  event: { readonly SecretId: string; readonly ClientRequestToken: string; readonly Step: Step },
): Promise<void> {
  if (fn.type === 'builtin') {
    const rotator = Object.hasOwn(BUILTIN_ROTATORS, fn.rotator)
      ? BUILTIN_ROTATORS[fn.rotator]
      : undefined;
    if (rotator === undefined) {
      throw new CofferError('upstream_failure', 'unknown built-in rotator');
    }
    const timeoutMs = builtinTimeoutMs(fn);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        rotator(env, event, {
          driver: { connectTimeoutMs: Math.min(10_000, timeoutMs), queryTimeoutMs: timeoutMs },
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            reject(
              new CofferError('upstream_failure', `${event.Step}: built-in rotator timed out`),
            );
          }, timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
    await env.afterBuiltinStep?.(event.Step);
    return;
  }
  if (env.rotation === undefined) {
    throw new CofferError(
      'upstream_failure',
      'rotation functions are not available on this server',
    );
  }
  await invokeRotationFunction(fn, event, { outbound: env.rotation.outbound, now: env.ctx.now });
}

// ---- The registry: rotation-functions/<name> on the mount (Vault API) ----

export async function handleFunctionPath(
  req: EngineRequest,
  env: ActionEnv,
): Promise<EngineResult> {
  const name = req.path.slice('rotation-functions/'.length).replace(/\/$/, '');
  if (req.operation === 'list') {
    const keys = await req.storage.list(FUNCTION_PREFIX);
    if (keys.length === 0) throw new CofferError('not_found', 'no rotation functions');
    return { kind: 'data', data: { keys } };
  }
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name))
    throw invalidField('name', 'must be 1 to 64 letters, digits, _ or -');
  const key = `${FUNCTION_PREFIX}${name}`;
  switch (req.operation) {
    case 'read': {
      const fn = await loadFunction(env, name);
      if (fn === undefined) throw new CofferError('not_found', 'rotation function not found');
      return { kind: 'data', data: { name, ...renderRotationFunction(fn) } };
    }
    case 'create':
    case 'update': {
      const fn = parseRotationFunction(req.data);
      if (fn.type === 'builtin' && !Object.hasOwn(BUILTIN_ROTATORS, fn.rotator)) {
        throw invalidField('rotator', `must be one of ${Object.keys(BUILTIN_ROTATORS).join(', ')}`);
      }
      await req.storage.put(key, encodeJson(fn));
      return { kind: 'empty' };
    }
    case 'delete':
      await req.storage.delete(key);
      return { kind: 'empty' };
    case 'patch':
      throw new CofferError('unsupported_operation', 'unsupported operation');
  }
}
