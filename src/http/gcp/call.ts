// One Google method call → ONE Core.handleRequest on the gcp-sm mount, for both transports:
// the resource name (and the method's tail from the table) becomes the logical path, the rest
// of the request message is the data, and the door names the full Google method, so ACL,
// audit (with the method name) and sealing apply exactly as for the Vault door.
import type { Core } from '../../core/core.js';
import { invalidArgument, parseTarget, type Input } from '../../engines/gcp-sm/common.js';
import { fullMethodName, GCP_METHODS, type GcpMethod } from '../../engines/gcp-sm/methods.js';
import type { JsonObject } from '../../sdk/json.js';

export interface GcpCall {
  readonly method: GcpMethod;
  /** The resource the request names: `parent`, `name` or `resource` of the message. */
  readonly resource: string;
  /** CreateSecret only. */
  readonly secretId?: string;
  readonly input: Input;
  /** A Coffer token (Bearer). */
  readonly token?: string;
  /** A verified service-account key (its JWT was checked by the door). */
  readonly credential?: { readonly api: string; readonly id: string };
  readonly requestId: string;
  readonly remoteAddress?: string;
}

/** Which message field holds the resource name, for error messages. */
export function resourceField(method: GcpMethod): string {
  const route = GCP_METHODS[method];
  if (method === 'ListSecrets' || method === 'CreateSecret' || method === 'AddSecretVersion') {
    return 'parent';
  }
  if (method === 'ListSecretVersions') return 'parent';
  if (route.tail === 'iam-policy' || route.tail === 'test-iam-permissions') return 'resource';
  return 'name';
}

/** The logical path (relative to the mount) of a call. INVALID_ARGUMENT for a bad name. */
export function logicalPath(method: GcpMethod, resource: string, secretId?: string): string {
  const route = GCP_METHODS[method];
  const fieldName = resourceField(method);
  let path: string;
  if (method === 'CreateSecret') {
    if (secretId === undefined || !/^[A-Za-z0-9_-]{1,255}$/.test(secretId)) {
      throw invalidArgument('secretId', 'must be 1-255 letters, digits, _ or -');
    }
    path = `${resource}/secrets/${secretId}`;
  } else if (route.tail === '') {
    path = resource;
  } else {
    path = `${resource}/${route.tail}`;
  }
  const target = parseTarget(path);
  const kind =
    target === undefined
      ? undefined
      : target.locationResource !== undefined
        ? 'location'
        : target.version !== undefined
          ? 'version'
          : target.secret !== undefined
            ? 'secret'
            : target.tail === 'secrets/'
              ? 'parent'
              : 'project';
  if (target === undefined || kind !== route.target) {
    throw invalidArgument(fieldName, 'is not a valid resource name for this method');
  }
  return path;
}

export async function callCore(core: Core, mountPath: string, call: GcpCall): Promise<JsonObject> {
  const route = GCP_METHODS[call.method];
  const path = logicalPath(call.method, call.resource, call.secretId);
  const result = await core.handleRequest({
    operation: route.operation,
    path: `${mountPath}${path}`,
    data: call.input,
    token: call.token,
    ...(call.credential === undefined ? {} : { credential: call.credential }),
    door: { api: 'gcp', method: fullMethodName(call.method) },
    requestId: call.requestId,
    ...(call.remoteAddress === undefined ? {} : { remoteAddress: call.remoteAddress }),
  });
  return result.kind === 'data' ? result.data : {};
}
