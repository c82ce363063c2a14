// Secret Manager notifications, delivered by Coffer: every event (SECRET_CREATE ... SECRET_ROTATE)
// goes to the change-event stream, to the webhook registered for each of the secret's topics
// (`topics/<project>/<topic>` on the mount) as a Pub/Sub push message, and SECRET_ROTATE also
// runs the rotation function the secret names in its `coffer.rotation-function` annotation
// (`rotation-functions/<name>` on the mount). Every message carries the secret's metadata,
// never a payload. Webhooks are signed, timed out and retried like the AWS door's rotation
// functions (src/shared/rotation-function.ts), through the outbound chokepoint.
import { randomUUID } from 'node:crypto';
import { CofferError, invalidField } from '../../sdk/errors.js';
import type { EngineContext, EngineRequest, EngineResult } from '../../sdk/engine.js';
import type { JsonObject } from '../../sdk/json.js';
import { encodeJson, getJson } from '../../sdk/storage.js';
import type { Outbound } from '../../shared/outbound.js';
import {
  invokeRotationFunction,
  parseRotationFunction,
  renderRotationFunction,
  type RotationFunction,
} from '../../shared/rotation-function.js';
import type { Out } from './common.js';
import type { GcpEvent } from './env.js';

/** The annotation that attaches a rotation function to a secret. */
export const ROTATION_ANNOTATION = 'coffer.rotation-function';

const TOPIC_PREFIX = 'topics/';
const FUNCTION_PREFIX = 'rotation-functions/';
const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const TOPIC_PART = /^[A-Za-z0-9._~%+-]{1,255}$/;

/** A topic's push target: a signed webhook and the subscription name it is told. */
interface TopicTarget {
  readonly fn: RotationFunction & { readonly type: 'webhook' };
  readonly subscription: string;
}

/** `projects/p/topics/t` → its storage key, or undefined when it is not such a name. */
function topicKey(topic: string): string | undefined {
  const m = /^projects\/([^/]+)\/topics\/([^/]+)$/.exec(topic);
  if (m === null || !TOPIC_PART.test(m[1]!) || !TOPIC_PART.test(m[2]!)) return undefined;
  return `${TOPIC_PREFIX}${m[1]!}/${m[2]!}`;
}

export function isNotifyPath(path: string): boolean {
  return path.startsWith(TOPIC_PREFIX) || path.startsWith(FUNCTION_PREFIX);
}

/** The Vault-API registries: `topics/<project>/<topic>` and `rotation-functions/<name>`. */
export async function handleNotifyPath(req: EngineRequest): Promise<EngineResult> {
  const isTopic = req.path.startsWith(TOPIC_PREFIX);
  const prefix = isTopic ? TOPIC_PREFIX : FUNCTION_PREFIX;
  const rest = req.path.slice(prefix.length);
  if (req.operation === 'list') {
    const keys = await req.storage.list(`${prefix}${rest}`);
    if (keys.length === 0) throw new CofferError('not_found', 'nothing registered');
    return { kind: 'data', data: { keys } };
  }
  const parts = rest.split('/');
  const valid = isTopic
    ? parts.length === 2 && parts.every((p) => TOPIC_PART.test(p))
    : parts.length === 1 && NAME.test(rest);
  if (!valid) {
    throw isTopic
      ? invalidField('path', 'must be topics/<project>/<topic>')
      : invalidField('name', 'must be 1 to 64 letters, digits, _ or -');
  }
  const key = `${prefix}${rest}`;
  switch (req.operation) {
    case 'read': {
      if (isTopic) {
        const t = await getJson<TopicTarget>(req.storage, key);
        if (t === undefined) throw new CofferError('not_found', 'topic not registered');
        return {
          kind: 'data',
          data: {
            topic: `projects/${parts[0]!}/topics/${parts[1]!}`,
            ...renderRotationFunction(t.fn),
            subscription: t.subscription,
          },
        };
      }
      const fn = await getJson<RotationFunction>(req.storage, key);
      if (fn === undefined) throw new CofferError('not_found', 'rotation function not found');
      return { kind: 'data', data: { name: rest, ...renderRotationFunction(fn) } };
    }
    case 'create':
    case 'update': {
      if (isTopic) {
        const fn = parseRotationFunction({ ...req.data, type: 'webhook' });
        if (fn.type !== 'webhook') throw invalidField('type', 'must be "webhook"');
        const subscription =
          req.data['subscription'] ?? `projects/${parts[0]!}/subscriptions/coffer-${parts[1]!}`;
        if (
          typeof subscription !== 'string' ||
          !/^projects\/[^/]+\/subscriptions\/[^/]+$/.test(subscription)
        ) {
          throw invalidField('subscription', 'must be projects/*/subscriptions/*');
        }
        await req.storage.put(key, encodeJson({ fn, subscription }));
        return { kind: 'empty' };
      }
      const fn = parseRotationFunction(req.data);
      if (fn.type === 'builtin') {
        throw invalidField(
          'type',
          'must be "webhook" or "command" (built-in rotators are AWS-only)',
        );
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

/** Pub/Sub's push body for one event: attributes as Google sets them, data = the metadata. */
export function pushMessage(
  event: GcpEvent,
  resource: Out,
  subscription: string,
  now: number,
): JsonObject {
  const base = { messageId: randomUUID(), publishTime: new Date(now).toISOString() };
  // Google's test message when topics are set: no body, no attribute but the type.
  if (event.type === 'TOPIC_CONFIGURED') {
    return { message: { attributes: { eventType: event.type }, ...base }, subscription };
  }
  const attributes: Record<string, string> = {
    eventType: event.type,
    secretId: event.secretId,
    dataFormat: 'JSON_API_V1',
  };
  if (event.versionId !== undefined) attributes['versionId'] = event.versionId;
  if (event.type === 'SECRET_DELETE' || event.type === 'SECRET_UPDATE') {
    attributes['timestamp'] = new Date(now).toISOString();
  }
  return {
    message: {
      attributes,
      data: Buffer.from(JSON.stringify(resource)).toString('base64'),
      ...base,
    },
    subscription,
  };
}

export interface DeliveryFailure {
  readonly eventType: string;
  readonly secretId: string;
  /** The topic name, or "rotation-function/<name>". */
  readonly target: string;
}

export interface Delivery {
  readonly outbound: Outbound;
  /**
   * Receives delivery failures (a webhook down); they never fail the change itself. The error
   * names the target kind and status only, never the URL or the message.
   */
  readonly onError?: (err: unknown, about: DeliveryFailure) => void;
}

/**
 * Publishes one event: synchronously to the change-event stream, then (in the background) to
 * each registered topic webhook and, for SECRET_ROTATE, the attached rotation function.
 * Resolves once the targets are read; `done` settles when every delivery has (it never rejects).
 */
export async function deliver(
  ctx: EngineContext,
  delivery: Delivery | undefined,
  event: GcpEvent,
  resource: Out,
  topics: readonly string[],
  annotations: Readonly<Record<string, string>>,
): Promise<{ readonly done: Promise<void> }> {
  // SECURITY: the stream event's readPath is the secret itself, so a subscriber sees it only
  // if it may read the secret (GetSecret through the Vault API).
  if (event.type !== 'TOPIC_CONFIGURED') {
    ctx.publishEvent?.({
      path: event.secretId,
      readPath: event.secretId,
      operation: event.type === 'SECRET_DELETE' ? 'delete' : 'update',
      eventType: event.type,
      secretId: event.secretId,
    });
  }
  if (delivery === undefined) return { done: Promise.resolve() };
  const jobs: { fn: RotationFunction; subscription: string; target: string }[] = [];
  for (const topic of topics) {
    const key = topicKey(topic);
    const target = key === undefined ? undefined : await getJson<TopicTarget>(ctx.storage, key);
    if (target !== undefined) {
      jobs.push({ fn: target.fn, subscription: target.subscription, target: topic });
    }
  }
  const about = (target: string): DeliveryFailure => ({
    eventType: event.type,
    secretId: event.secretId,
    target,
  });
  const fnName = annotations[ROTATION_ANNOTATION];
  if (event.type === 'SECRET_ROTATE' && fnName !== undefined) {
    const fn = NAME.test(fnName)
      ? await getJson<RotationFunction>(ctx.storage, `${FUNCTION_PREFIX}${fnName}`)
      : undefined;
    if (fn === undefined) {
      delivery.onError?.(
        new CofferError('not_found', 'the rotation function the secret names is not registered'),
        about(`rotation-function/${fnName}`),
      );
    } else {
      jobs.push({
        fn,
        subscription: topics[0]?.replace('/topics/', '/subscriptions/') ?? '',
        target: `rotation-function/${fnName}`,
      });
    }
  }
  const now = ctx.now();
  const done = Promise.all(
    jobs.map(({ fn, subscription, target }) =>
      invokeRotationFunction(fn, pushMessage(event, resource, subscription, now), {
        outbound: delivery.outbound,
        now: ctx.now,
      }).catch((err: unknown) => delivery.onError?.(err, about(target))),
    ),
  ).then(() => undefined);
  return { done };
}
