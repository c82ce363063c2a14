// The Google Secret Manager engine (type "gcp-sm"): Secret Manager v1's methods over the shared
// versioned model, on logical paths shaped like Google's resource names
// (`projects/p[/locations/l]/secrets/s/versions/v/access`). The wire formats (REST, gRPC) live
// in src/http/gcp/; requests reach this engine through Core.handleRequest like any other, with
// `req.door.method` naming the Google method. Through the Vault API the same paths work, the
// method inferred from the operation and the path (docs/engines/gcp-sm.md).
import { CofferError } from '../../sdk/errors.js';
import type {
  EngineContext,
  EngineFactory,
  EngineRequest,
  EngineResult,
  MountInfo,
  SecretEngine,
} from '../../sdk/engine.js';
import { KeyLocks, VersionedStore, type SecretMeta } from '../../sdk/versioned-store.js';
import {
  gcpAttrs,
  gcpError,
  parseTarget,
  refFromKey,
  secretName,
  storeKey,
  type Input,
  type Out,
  type SecretRef,
  type Target,
} from './common.js';
import type { GcpEvent, MethodEnv } from './env.js';
import { enforceIam, iamKey } from './iam.js';
import { getIamPolicy, setIamPolicy, testIamPermissions } from './method-iam.js';
import {
  createSecret,
  deleteSecret,
  getSecret,
  listSecrets,
  renderSecret,
  updateSecret,
} from './method-secrets.js';
import {
  accessSecretVersion,
  addSecretVersion,
  changeVersionState,
  destroyJob,
  getSecretVersion,
  listSecretVersions,
  renderVersion,
  runScheduledDestroy,
  type VersionRef,
} from './method-versions.js';
import { GCP_METHODS, isGcpMethod, methodOf, type GcpMethod } from './methods.js';
import { deliver, handleNotifyPath, isNotifyPath, type Delivery } from './notify.js';

export const GCP_ENGINE_TYPE = 'gcp-sm';

const DEFAULT_LOCATIONS = 'us-central1,us-east1,us-west1,europe-west1,europe-west3,asia-east1';
const OPTION_KEYS = ['locations'];

export function normaliseGcpOptions(
  options: Readonly<Record<string, string>>,
): Record<string, string> {
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.includes(key)) {
      throw new CofferError('invalid_request', `options.${key}: unknown option for gcp-sm`, {
        field: `options.${key}`,
      });
    }
  }
  const locations = options['locations'] ?? DEFAULT_LOCATIONS;
  if (!locations.split(',').every((l) => /^[a-z][a-z0-9-]{0,62}$/.test(l))) {
    throw new CofferError(
      'invalid_request',
      'options.locations: must be a comma-separated list of locations such as us-east1',
      { field: 'options.locations' },
    );
  }
  return { locations };
}

/** Delivers Secret Manager notifications (SECRET_ROTATE, ...) for a secret's topics. */
export type Notifier = (
  ctx: EngineContext,
  topics: readonly string[],
  event: GcpEvent,
  resource: Out,
) => Promise<void>;

export interface GcpEngineDeps {
  /** Unit tests: sees every event published to a secret's topics. */
  readonly notify?: Notifier;
  /** Topic webhooks and rotation functions (the server passes the outbound chokepoint). */
  readonly delivery?: Delivery;
}

/** Which method a Vault-API request (no door) denotes, from its operation and path. */
function inferMethod(operation: string, target: Target): GcpMethod | undefined {
  const op = operation === 'create' ? 'update' : operation;
  const kind =
    target.locationResource !== undefined
      ? 'location'
      : target.version !== undefined
        ? 'version'
        : target.secret !== undefined
          ? 'secret'
          : target.tail === 'secrets/'
            ? 'parent'
            : 'project';
  for (const name of Object.keys(GCP_METHODS)) {
    if (!isGcpMethod(name)) continue;
    const route = GCP_METHODS[name];
    if (route.operation === op && route.tail === target.tail && route.target === kind) return name;
  }
  return undefined;
}

function locationOut(project: string, location: string): Out {
  return {
    name: `projects/${project}/locations/${location}`,
    locationId: location,
    displayName: location,
  };
}

export function createGcpEngine(mount: MountInfo, deps: GcpEngineDeps = {}): SecretEngine {
  const locations = normaliseGcpOptions(mount.options)['locations']!.split(',');
  const locks = new KeyLocks();

  const envFor = (ctx: EngineContext, input: Input, principal?: string): MethodEnv => {
    const store = new VersionedStore(ctx.storage, { locks, now: ctx.now, trim: 'unlabelled' });
    return {
      ctx,
      storage: ctx.storage,
      store,
      input,
      now: ctx.now(),
      ...(principal === undefined ? {} : { principal }),
      locations,
      afterChange: async (key, events, before) => {
        const meta = await store.readMeta(key);
        const rotateAt = meta === undefined ? undefined : gcpAttrs(meta).rotation?.nextRotationTime;
        if (meta?.expiresAt === undefined) await ctx.schedule.cancel(`expire/${key}`);
        else await ctx.schedule.set(`expire/${key}`, meta.expiresAt);
        if (rotateAt === undefined) await ctx.schedule.cancel(`rotate/${key}`);
        else await ctx.schedule.set(`rotate/${key}`, rotateAt);
        await notify(ctx, key, events, meta ?? before);
      },
    };
  };

  /**
   * Publishes events to the change-event stream, the secret's topic webhooks and (rotation)
   * its rotation function, each with the resource it is about. Resolves when the webhooks
   * are read; the returned promise settles when every delivery has.
   */
  async function notify(
    ctx: EngineContext,
    key: string,
    events: readonly GcpEvent[],
    meta: SecretMeta | undefined,
  ): Promise<{ readonly done: Promise<void> }> {
    if (meta === undefined || events.length === 0) return { done: Promise.resolve() };
    const topics = gcpAttrs(meta).topics;
    const ref = refFromKey(key);
    const pending: Promise<void>[] = [];
    for (const event of events) {
      const n = event.versionId?.slice(event.versionId.lastIndexOf('/') + 1);
      const version = n === undefined ? undefined : meta.versions[n];
      const resource =
        version === undefined ? renderSecret(ref, meta) : renderVersion(ref, meta, version);
      const { done } = await deliver(
        ctx,
        deps.delivery,
        event,
        resource,
        topics,
        meta.customMetadata,
      );
      pending.push(done);
      if (deps.notify !== undefined && topics.length > 0) {
        await deps.notify(ctx, topics, event, resource);
      }
    }
    return { done: Promise.all(pending).then(() => undefined) };
  }

  async function dispatch(method: GcpMethod, env: MethodEnv, target: Target): Promise<Out> {
    const parent =
      target.location === undefined
        ? { project: target.project }
        : { project: target.project, location: target.location };
    const ref = { ...parent, secret: target.secret ?? '' } as SecretRef;
    const vref = { ...ref, version: target.version ?? '' } as VersionRef;
    switch (method) {
      case 'ListSecrets':
        return listSecrets(env, parent);
      case 'CreateSecret':
        return createSecret(env, ref);
      case 'GetSecret':
        return getSecret(env, ref);
      case 'UpdateSecret':
        return updateSecret(env, ref);
      case 'DeleteSecret':
        return deleteSecret(env, ref);
      case 'AddSecretVersion':
        return addSecretVersion(env, ref);
      case 'ListSecretVersions':
        return listSecretVersions(env, ref);
      case 'GetSecretVersion':
        return getSecretVersion(env, vref);
      case 'AccessSecretVersion':
        return accessSecretVersion(env, vref);
      case 'EnableSecretVersion':
        return changeVersionState(env, vref, 'enable');
      case 'DisableSecretVersion':
        return changeVersionState(env, vref, 'disable');
      case 'DestroySecretVersion':
        return changeVersionState(env, vref, 'destroy');
      case 'GetIamPolicy':
        return getIamPolicy(env, ref);
      case 'SetIamPolicy':
        return setIamPolicy(env, ref);
      case 'TestIamPermissions':
        return testIamPermissions(env, ref);
      case 'GetProjectIamPolicy':
        return getIamPolicy(env, { project: target.project });
      case 'SetProjectIamPolicy':
        return setIamPolicy(env, { project: target.project });
      case 'TestProjectIamPermissions':
        return testIamPermissions(env, { project: target.project });
      case 'ListLocations':
        return {
          locations: locations.map((l) => locationOut(target.project, l)),
        };
      case 'GetLocation': {
        const l = target.locationResource!;
        if (!locations.includes(l)) {
          throw gcpError(
            'NOT_FOUND',
            `Location [projects/${target.project}/locations/${l}] not found.`,
          );
        }
        return locationOut(target.project, l);
      }
    }
  }

  async function handle(req: EngineRequest): Promise<EngineResult> {
    if (req.door === undefined && isNotifyPath(req.path)) return handleNotifyPath(req);
    const target = parseTarget(req.path);
    if (target === undefined) throw new CofferError('unsupported_path', 'unsupported path');
    const method =
      req.door === undefined
        ? inferMethod(req.operation, target)
        : req.door.api === 'gcp'
          ? methodOf(req.door.method)
          : undefined;
    // SECURITY: a method exists only on the path shape and operation the table gives it, so
    // the ACL decision the core made on this path is about this method.
    if (method === undefined) throw new CofferError('unsupported_path', 'unsupported path');
    const route = GCP_METHODS[method];
    const operation = req.operation === 'create' ? 'update' : req.operation;
    if (
      route.operation !== operation ||
      route.tail !== target.tail ||
      inferMethod(req.operation, target) !== method
    ) {
      throw new CofferError('unsupported_path', 'unsupported path');
    }
    const principal = req.door?.principal;
    const env = envFor(req, req.data, principal);
    const iamTarget =
      target.secret === undefined
        ? { project: target.project }
        : ({
            project: target.project,
            ...(target.location === undefined ? {} : { location: target.location }),
            secret: target.secret,
          } as SecretRef);
    await enforceIam(req.storage, principal, iamTarget, route.permission);
    const data = await dispatch(method, env, target);
    return { kind: 'data', data };
  }

  return {
    handle,
    async exists(req) {
      const target = parseTarget(req.path);
      if (target?.secret === undefined || target.tail !== '' || target.version !== undefined) {
        return undefined;
      }
      const store = new VersionedStore(req.storage, { locks, now: req.now });
      const meta = await store.readMeta(storeKey(target as SecretRef));
      return meta !== undefined && (meta.expiresAt === undefined || meta.expiresAt > req.now());
    },
    async runScheduled(ctx, name) {
      const env = envFor(ctx, {});
      const slash = name.indexOf('/');
      const kind = name.slice(0, slash);
      const rest = name.slice(slash + 1);
      if (kind === 'destroy') {
        const cut = rest.lastIndexOf('/');
        const key = rest.slice(0, cut);
        const events = await runScheduledDestroy(env, key, Number(rest.slice(cut + 1)));
        // A scheduled job blocks no client: it waits for its deliveries.
        await (
          await notify(ctx, key, events, await env.store.readMeta(key))
        ).done;
        return;
      }
      if (kind === 'expire') {
        const meta = await env.store.readMeta(rest);
        if (meta?.expiresAt === undefined) return;
        if (meta.expiresAt > ctx.now()) {
          await ctx.schedule.set(name, meta.expiresAt);
          return;
        }
        const ref = refFromKey(rest);
        for (const n of Object.keys(gcpAttrs(meta).versions)) {
          await ctx.schedule.cancel(destroyJob(rest, Number(n)));
        }
        await ctx.schedule.cancel(`rotate/${rest}`);
        await env.store.deleteAll(rest);
        await ctx.storage.delete(iamKey(ref));
        const deleted = { type: 'SECRET_DELETE', secretId: secretName(ref) } as const;
        await (
          await notify(ctx, rest, [deleted], meta)
        ).done;
        return;
      }
      if (kind === 'rotate') {
        await rotationDue(env, rest);
      }
    },
  };

  /** At nextRotationTime: SECRET_ROTATE to the topics, then the time advances by the period. */
  async function rotationDue(env: MethodEnv, key: string): Promise<void> {
    const ctx = env.ctx;
    const meta = await env.store.readMeta(key);
    const rotation = meta === undefined ? undefined : gcpAttrs(meta).rotation;
    if (meta === undefined || rotation === undefined) return;
    const now = ctx.now();
    if (rotation.nextRotationTime > now) {
      await ctx.schedule.set(`rotate/${key}`, rotation.nextRotationTime);
      return;
    }
    const ref = refFromKey(key);
    const period = rotation.rotationPeriodSeconds;
    const updated = await env.store.updateMeta(
      key,
      (current) => {
        const attrs = gcpAttrs(current);
        const r = attrs.rotation;
        if (r === undefined) return {};
        let next = r.nextRotationTime;
        if (period !== undefined) while (next <= now) next += period * 1000;
        const nextAttrs =
          period === undefined
            ? { ...attrs, rotation: undefined }
            : { ...attrs, rotation: { ...r, nextRotationTime: next } };
        if (nextAttrs.rotation === undefined) delete (nextAttrs as { rotation?: unknown }).rotation;
        return { attributes: { gcp: nextAttrs as unknown as Out } };
      },
      { createIfMissing: false },
    );
    const nextAt = updated === undefined ? undefined : gcpAttrs(updated).rotation?.nextRotationTime;
    if (nextAt !== undefined) await ctx.schedule.set(`rotate/${key}`, nextAt);
    const { done } = await notify(
      ctx,
      key,
      [{ type: 'SECRET_ROTATE', secretId: secretName(ref) }],
      updated ?? meta,
    );
    // A scheduled job blocks no client: it waits for its webhooks (bounded by their timeouts).
    await done;
  }
}

export function gcpEngineFactory(deps: GcpEngineDeps = {}): EngineFactory {
  return {
    type: GCP_ENGINE_TYPE,
    description:
      'Google Secret Manager: secrets with numbered versions, aliases, labels, IAM and ' +
      'rotation notifications, served to Google clients through the Google door (REST and ' +
      'gRPC) and readable through the Vault API.',
    normaliseOptions: normaliseGcpOptions,
    create: (mount) => createGcpEngine(mount, deps),
  };
}
