// A loopback stand-in for the Kubernetes API server, implementing exactly the calls Coffer's
// operator makes (and the TokenReview call Coffer's Kubernetes auth method makes), with the
// API server's semantics for them: resourceVersions, list, watch (NDJSON, from a resourceVersion,
// bookmarks, 410 when the history is compacted, server-side timeouts), create, replace (409 on
// a stale resourceVersion), JSON merge patch (with a resourceVersion precondition), the status
// subresource (generation counts spec changes only), delete with preconditions and finalizers,
// and garbage collection of dependents by owner reference. Every other call is refused with
// 404/405/415 naming the verb and path, and recorded in `refused` for the tests to assert on.
// Test setup acts "as kubectl" through seed()/remove(), which bypass the HTTP verb allow-list.
import { Buffer } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createTokenReviewStandIn,
  type TokenReviewStandIn,
} from '../../src/engines/auth/kubernetes/testing.js';
import type { JsonObject } from '../../src/sdk/json.js';

export type Verb =
  | 'list'
  | 'watch'
  | 'get'
  | 'create'
  | 'update'
  | 'patch'
  | 'delete'
  | 'update-status'
  | 'patch-status';

export interface ResourceType {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  /** The verbs the code under test uses; anything else is refused. */
  readonly verbs: readonly Verb[];
  /** Has the status subresource (main writes ignore .status; generation counts spec changes). */
  readonly status?: boolean;
}

/** The resources and verbs Coffer's operator uses (see src/k8s/operator.ts, state-store.ts). */
export const OPERATOR_RESOURCES: readonly ResourceType[] = [
  {
    group: 'coffer.dev',
    version: 'v1alpha1',
    plural: 'coffersecrets',
    kind: 'CofferSecret',
    verbs: ['list', 'watch', 'patch', 'patch-status'],
    status: true,
  },
  {
    group: '',
    version: 'v1',
    plural: 'secrets',
    kind: 'Secret',
    verbs: ['list', 'watch', 'get', 'create', 'update', 'delete'],
  },
  ...['deployments', 'statefulsets', 'daemonsets'].map((plural): ResourceType => ({
    group: 'apps',
    version: 'v1',
    plural,
    kind: { deployments: 'Deployment', statefulsets: 'StatefulSet', daemonsets: 'DaemonSet' }[
      plural
    ]!,
    verbs: ['get', 'patch'],
  })),
];

export interface RequestRecord {
  readonly method: string;
  readonly path: string;
  readonly verb: string;
  readonly plural: string;
  readonly status: number;
}

type Obj = JsonObject & { metadata: JsonObject & { name: string; namespace?: string } };

interface HistoryEvent {
  readonly rv: number;
  readonly plural: string;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: Obj;
}

interface Watcher {
  readonly plural: string;
  readonly namespace: string | undefined;
  readonly selector: Selector;
  send(event: HistoryEvent): void;
  end(): void;
}

type Selector = (labels: Readonly<Record<string, string>>) => boolean;

class HttpError extends Error {
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) Reflect.deleteProperty(out, key);
    else out[key] = mergePatch(out[key], value) as JsonObject[string];
  }
  return out;
}

function parseSelector(text: string | null): Selector {
  if (text === null || text === '') return () => true;
  const terms = text.split(',').map((term) => {
    const m = /^([A-Za-z0-9./_-]+)\s*(==|=|!=)\s*([A-Za-z0-9._-]*)$/.exec(term.trim());
    if (m === null) {
      throw new HttpError(400, 'BadRequest', `stand-in: unsupported labelSelector term "${term}"`);
    }
    return { key: m[1]!, negate: m[2] === '!=', value: m[3]! };
  });
  return (labels) => terms.every((t) => (labels[t.key] === t.value) !== t.negate);
}

function labelsOf(object: Obj): Record<string, string> {
  return (object.metadata['labels'] ?? {}) as Record<string, string>;
}

export class KubeApiStandIn {
  readonly url: string;
  readonly requests: RequestRecord[] = [];
  /** Calls the stand-in does not implement; a test asserts this stays empty. */
  readonly refused: RequestRecord[] = [];
  readonly tokenReview: TokenReviewStandIn;
  /** How often a watch with allowWatchBookmarks gets a BOOKMARK. */
  bookmarkMs = 1_000;
  /** While true, no BOOKMARK is sent (so a client's resourceVersion can fall behind). */
  bookmarksPaused = false;
  readonly #server: http.Server;
  readonly #types: readonly ResourceType[];
  readonly #store = new Map<string, Map<string, Obj>>();
  readonly #history: HistoryEvent[] = [];
  readonly #watchers = new Set<Watcher>();
  readonly #conflicts = new Set<string>();
  #rv = 100;
  /** Events at or below this resourceVersion are gone: older watches get 410. */
  #compactedTo = 0;

  private constructor(server: http.Server, url: string, types: readonly ResourceType[]) {
    this.#server = server;
    this.url = url;
    this.#types = types;
    this.tokenReview = createTokenReviewStandIn();
    for (const type of types) this.#store.set(type.plural, new Map());
  }

  static async start(types: readonly ResourceType[] = OPERATOR_RESOURCES): Promise<KubeApiStandIn> {
    const holder: { standIn?: KubeApiStandIn } = {};
    const server = http.createServer((req, res) => {
      void holder.standIn!.#handle(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    holder.standIn = new KubeApiStandIn(server, url, types);
    return holder.standIn;
  }

  /**
   * A kubeconfig (YAML is a superset of JSON) that points a real client at this stand-in. It
   * serves plain HTTP on loopback, which client-node accepts with a bearer token only when TLS
   * verification is declared off.
   */
  kubeconfig(): string {
    return JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'stand-in', cluster: { server: this.url, 'insecure-skip-tls-verify': true } },
      ],
      users: [{ name: 'operator', user: { token: 'operator-api-token' } }],
      contexts: [{ name: 'stand-in', context: { cluster: 'stand-in', user: 'operator' } }],
      'current-context': 'stand-in',
    });
  }

  async close(): Promise<void> {
    for (const w of this.#watchers) w.end();
    await new Promise<void>((resolve) => {
      this.#server.close(() => {
        resolve();
      });
      this.#server.closeAllConnections();
    });
  }

  // ---- test-side access ("kubectl") ---------------------------------------------------------

  /** Creates or replaces an object as an administrator would (no verb check). */
  seed(plural: string, object: JsonObject): Obj {
    const obj = clone(object) as Obj;
    const key = `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
    const existing = this.#objects(plural).get(key);
    if (existing === undefined) return this.#create(plural, obj);
    obj.metadata['resourceVersion'] = existing.metadata['resourceVersion'] ?? null;
    return this.#update(plural, key, obj, false);
  }

  /** Deletes as an administrator would (finalizers are honoured). */
  remove(plural: string, namespace: string, name: string): void {
    this.#delete(plural, `${namespace}/${name}`, undefined);
  }

  get(plural: string, namespace: string, name: string): Obj | undefined {
    const found = this.#objects(plural).get(`${namespace}/${name}`);
    return found === undefined ? undefined : clone(found);
  }

  /** The next update of this object fails with 409: another writer changes it first. */
  conflictOnNextUpdate(plural: string, namespace: string, name: string): void {
    this.#conflicts.add(`${plural}/${namespace}/${name}`);
  }

  /** Drops the watch history: watches from an older resourceVersion get 410 Gone. */
  compact(): void {
    this.#compactedTo = this.#rv;
    this.#history.length = 0;
  }

  /** Ends every open watch (as an API server restart or a load balancer would). */
  dropWatches(): void {
    for (const w of [...this.#watchers]) w.end();
  }

  /** How many calls matched (for "no duplicate work" assertions). */
  count(verb: string, plural: string): number {
    return this.requests.filter((r) => r.verb === verb && r.plural === plural && r.status < 300)
      .length;
  }

  // ---- store -------------------------------------------------------------------------------

  #objects(plural: string): Map<string, Obj> {
    const map = this.#store.get(plural);
    if (map === undefined) throw new Error(`stand-in: no resource type ${plural}`);
    return map;
  }

  #type(plural: string): ResourceType {
    return this.#types.find((t) => t.plural === plural)!;
  }

  #emit(plural: string, type: HistoryEvent['type'], object: Obj): void {
    const event: HistoryEvent = { rv: this.#rv, plural, type, object: clone(object) };
    this.#history.push(event);
    for (const w of this.#watchers) {
      if (w.plural !== plural) continue;
      if (w.namespace !== undefined && w.namespace !== object.metadata.namespace) continue;
      if (!w.selector(labelsOf(object))) continue;
      w.send(event);
    }
  }

  #create(plural: string, obj: Obj): Obj {
    const key = `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
    const objects = this.#objects(plural);
    if (objects.has(key)) {
      throw new HttpError(409, 'AlreadyExists', `${plural} "${obj.metadata.name}" already exists`);
    }
    const type = this.#type(plural);
    this.#rv += 1;
    obj.apiVersion = type.group === '' ? type.version : `${type.group}/${type.version}`;
    obj.kind = type.kind;
    obj.metadata = {
      ...obj.metadata,
      uid: randomUUID(),
      resourceVersion: String(this.#rv),
      creationTimestamp: new Date().toISOString(),
      generation: 1,
    };
    delete obj.metadata['deletionTimestamp'];
    objects.set(key, obj);
    this.#emit(plural, 'ADDED', obj);
    return clone(obj);
  }

  #update(plural: string, key: string, body: Obj, statusOnly: boolean): Obj {
    const objects = this.#objects(plural);
    const current = objects.get(key);
    if (current === undefined) throw new HttpError(404, 'NotFound', `${plural} "${key}" not found`);
    const conflictKey = `${plural}/${key}`;
    if (this.#conflicts.delete(conflictKey)) {
      // Another writer gets there first: the caller's resourceVersion is now stale.
      this.#rv += 1;
      current.metadata['annotations'] = {
        ...((current.metadata['annotations'] ?? {}) as JsonObject),
        'stand-in/other-writer': String(this.#rv),
      };
      current.metadata['resourceVersion'] = String(this.#rv);
      this.#emit(plural, 'MODIFIED', current);
    }
    const wanted = body.metadata['resourceVersion'];
    if (
      wanted !== undefined &&
      wanted !== null &&
      wanted !== '' &&
      wanted !== current.metadata['resourceVersion']
    ) {
      throw new HttpError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${plural} "${current.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    const type = this.#type(plural);
    let next: Obj;
    if (statusOnly) {
      next = { ...clone(current), status: clone(body['status'] ?? {}) };
    } else {
      next = clone(body);
      next.apiVersion = current.apiVersion ?? null;
      next.kind = current.kind ?? null;
      // Fields the server owns.
      for (const field of ['uid', 'creationTimestamp', 'generation', 'deletionTimestamp']) {
        const value = current.metadata[field];
        if (value === undefined) Reflect.deleteProperty(next.metadata, field);
        else next.metadata[field] = value;
      }
      if (type.status === true) {
        if (current['status'] === undefined) delete next['status'];
        else next['status'] = clone(current['status']);
      }
      if (JSON.stringify(next['spec']) !== JSON.stringify(current['spec'])) {
        next.metadata['generation'] = Number(current.metadata['generation'] ?? 1) + 1;
      }
    }
    if (JSON.stringify(next) === JSON.stringify(current)) return clone(current);
    this.#rv += 1;
    next.metadata['resourceVersion'] = String(this.#rv);
    const finalizers = (next.metadata['finalizers'] ?? []) as string[];
    if (next.metadata['deletionTimestamp'] !== undefined && finalizers.length === 0) {
      objects.delete(key);
      this.#emit(plural, 'DELETED', next);
      this.#collectGarbage(next.metadata['uid'] as string);
      return clone(next);
    }
    objects.set(key, next);
    this.#emit(plural, 'MODIFIED', next);
    return clone(next);
  }

  #delete(plural: string, key: string, preconditions: JsonObject | undefined): Obj {
    const objects = this.#objects(plural);
    const current = objects.get(key);
    if (current === undefined) throw new HttpError(404, 'NotFound', `${plural} "${key}" not found`);
    for (const field of ['uid', 'resourceVersion']) {
      const wanted = preconditions?.[field];
      if (wanted !== undefined && wanted !== '' && wanted !== current.metadata[field]) {
        throw new HttpError(
          409,
          'Conflict',
          `Precondition failed: ${field} in precondition does not match the object`,
        );
      }
    }
    const finalizers = (current.metadata['finalizers'] ?? []) as string[];
    this.#rv += 1;
    current.metadata['resourceVersion'] = String(this.#rv);
    if (finalizers.length > 0) {
      current.metadata['deletionTimestamp'] ??= new Date().toISOString();
      this.#emit(plural, 'MODIFIED', current);
      return clone(current);
    }
    objects.delete(key);
    this.#emit(plural, 'DELETED', current);
    this.#collectGarbage(current.metadata['uid'] as string);
    return clone(current);
  }

  /** The garbage collector: dependents whose owner is gone are deleted. */
  #collectGarbage(uid: string): void {
    for (const [plural, objects] of this.#store) {
      for (const [key, object] of [...objects]) {
        const refs = (object.metadata['ownerReferences'] ?? []) as { uid?: string }[];
        if (refs.some((r) => r.uid === uid)) this.#delete(plural, key, undefined);
      }
    }
  }

  // ---- HTTP --------------------------------------------------------------------------------

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const method = req.method ?? 'GET';
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const record = (verb: string, plural: string, status: number, refused = false) => {
      const r = { method, path: url.pathname, verb, plural, status };
      this.requests.push(r);
      if (refused) this.refused.push(r);
    };
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const refuse = (status: number, reason: string, message: string) => {
      record(method, url.pathname, status, true);
      send(status, {
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        reason,
        code: status,
        message,
      });
    };
    if (method === 'POST' && url.pathname === '/apis/authentication.k8s.io/v1/tokenreviews') {
      const answer = this.tokenReview.answer(
        req.headers.authorization,
        JSON.parse(text) as JsonObject,
      );
      record('create', 'tokenreviews', answer.status);
      send(answer.status, answer.body);
      return;
    }
    const route = this.#route(url.pathname);
    if (route === undefined) {
      refuse(404, 'NotFound', `stand-in: ${method} ${url.pathname} is not implemented`);
      return;
    }
    const { type, namespace, name, status: statusPath } = route;
    const watch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    const verb: Verb | undefined =
      name === undefined
        ? method === 'GET'
          ? watch
            ? 'watch'
            : 'list'
          : method === 'POST' && namespace !== undefined
            ? 'create'
            : undefined
        : statusPath
          ? method === 'PUT'
            ? 'update-status'
            : method === 'PATCH'
              ? 'patch-status'
              : undefined
          : (
              { GET: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' } as Record<
                string,
                Verb
              >
            )[method];
    if (verb === undefined || !type.verbs.includes(verb)) {
      refuse(
        405,
        'MethodNotAllowed',
        `stand-in: ${verb ?? method} on ${type.plural}${statusPath ? '/status' : ''} (${method} ${url.pathname}) is not implemented`,
      );
      return;
    }
    const key = `${namespace ?? ''}/${name ?? ''}`;
    try {
      let body: unknown;
      switch (verb) {
        case 'list': {
          const selector = parseSelector(url.searchParams.get('labelSelector'));
          const items = [...this.#objects(type.plural).values()]
            .filter((o) => namespace === undefined || o.metadata.namespace === namespace)
            .filter((o) => selector(labelsOf(o)));
          body = {
            apiVersion: type.group === '' ? type.version : `${type.group}/${type.version}`,
            kind: `${type.kind}List`,
            metadata: { resourceVersion: String(this.#rv) },
            items,
          };
          break;
        }
        case 'watch':
          record(verb, type.plural, 200);
          this.#watch(type, namespace, url.searchParams, res);
          return;
        case 'get': {
          const found = this.#objects(type.plural).get(key);
          if (found === undefined) {
            throw new HttpError(404, 'NotFound', `${type.plural} "${name ?? ''}" not found`);
          }
          body = found;
          break;
        }
        case 'create': {
          const obj = JSON.parse(text) as Obj;
          obj.metadata.namespace ??= namespace!;
          if (obj.metadata.namespace !== namespace) {
            throw new HttpError(
              400,
              'BadRequest',
              'the namespace of the object does not match the URL',
            );
          }
          body = this.#create(type.plural, obj);
          record(verb, type.plural, 201);
          send(201, body);
          return;
        }
        case 'update':
        case 'update-status': {
          const obj = JSON.parse(text) as Obj;
          if (obj.metadata.name !== name) {
            throw new HttpError(400, 'BadRequest', 'the name of the object does not match the URL');
          }
          obj.metadata.namespace ??= namespace!;
          body = this.#update(type.plural, key, obj, verb === 'update-status');
          break;
        }
        case 'patch':
        case 'patch-status': {
          const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
          if (contentType !== 'application/merge-patch+json') {
            record(verb, type.plural, 415, true);
            send(415, {
              kind: 'Status',
              status: 'Failure',
              code: 415,
              message: `stand-in: patch type ${contentType} is not implemented`,
            });
            return;
          }
          const current = this.#objects(type.plural).get(key);
          if (current === undefined) {
            throw new HttpError(404, 'NotFound', `${type.plural} "${name ?? ''}" not found`);
          }
          const patch = JSON.parse(text) as JsonObject;
          const patchMeta = isObject(patch['metadata']) ? patch['metadata'] : {};
          const precondition = patchMeta['resourceVersion'];
          const merged = mergePatch(
            clone(current),
            verb === 'patch-status' ? { status: patch['status'] ?? null } : patch,
          ) as Obj;
          merged.metadata['resourceVersion'] =
            typeof precondition === 'string'
              ? precondition
              : (current.metadata['resourceVersion'] ?? null);
          body = this.#update(type.plural, key, merged, verb === 'patch-status');
          break;
        }
        case 'delete': {
          const options = text === '' ? {} : (JSON.parse(text) as JsonObject);
          body = this.#delete(
            type.plural,
            key,
            isObject(options['preconditions']) ? options['preconditions'] : undefined,
          );
          break;
        }
      }
      record(verb, type.plural, 200);
      send(200, body);
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      record(verb, type.plural, error.status);
      send(error.status, {
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        reason: error.reason,
        code: error.status,
        message: error.message,
      });
    }
  }

  #route(
    path: string,
  ): { type: ResourceType; namespace?: string; name?: string; status: boolean } | undefined {
    const parts = path.split('/').filter((p) => p !== '');
    let group: string;
    let version: string;
    let rest: string[];
    if (parts[0] === 'api' && parts.length >= 2) {
      group = '';
      version = parts[1]!;
      rest = parts.slice(2);
    } else if (parts[0] === 'apis' && parts.length >= 3) {
      group = parts[1]!;
      version = parts[2]!;
      rest = parts.slice(3);
    } else return undefined;
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const type = this.#types.find(
      (t) => t.group === group && t.version === version && t.plural === rest[0],
    );
    if (type === undefined || rest.length > 3) return undefined;
    if (rest.length === 3 && rest[2] !== 'status') return undefined;
    if (rest.length === 3 && type.status !== true) return undefined;
    return {
      type,
      ...(namespace === undefined ? {} : { namespace }),
      ...(rest[1] === undefined ? {} : { name: rest[1] }),
      status: rest.length === 3,
    };
  }

  #watch(
    type: ResourceType,
    namespace: string | undefined,
    query: URLSearchParams,
    res: http.ServerResponse,
  ): void {
    const selector = parseSelector(query.get('labelSelector'));
    const from = query.get('resourceVersion') ?? '';
    const timeoutSeconds = Number(query.get('timeoutSeconds') ?? '1800');
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    const write = (type2: string, object: unknown) => {
      res.write(`${JSON.stringify({ type: type2, object })}\n`);
    };
    const apiVersion = type.group === '' ? type.version : `${type.group}/${type.version}`;
    if (from !== '' && from !== '0' && Number(from) < this.#compactedTo) {
      write('ERROR', {
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        message: `too old resource version: ${from} (${this.#compactedTo})`,
        reason: 'Expired',
        code: 410,
      });
      res.end();
      return;
    }
    const matches = (o: Obj) =>
      (namespace === undefined || o.metadata.namespace === namespace) && selector(labelsOf(o));
    if (from === '' || from === '0') {
      for (const o of this.#objects(type.plural).values()) if (matches(o)) write('ADDED', o);
    } else {
      for (const e of this.#history) {
        if (e.rv > Number(from) && e.plural === type.plural && matches(e.object)) {
          write(e.type, e.object);
        }
      }
    }
    let ended = false;
    const bookmarks =
      query.get('allowWatchBookmarks') === 'true'
        ? setInterval(() => {
            if (this.bookmarksPaused) return;
            write('BOOKMARK', {
              kind: type.kind,
              apiVersion,
              metadata: { resourceVersion: String(this.#rv) },
            });
          }, this.bookmarkMs)
        : undefined;
    const watcher: Watcher = {
      plural: type.plural,
      namespace,
      selector,
      send: (event) => {
        write(event.type, event.object);
      },
      end: () => {
        if (ended) return;
        ended = true;
        clearInterval(bookmarks);
        clearTimeout(timer);
        this.#watchers.delete(watcher);
        res.end();
      },
    };
    const timer = setTimeout(() => {
      watcher.end();
    }, timeoutSeconds * 1000);
    this.#watchers.add(watcher);
    res.on('close', () => {
      watcher.end();
    });
  }
}
