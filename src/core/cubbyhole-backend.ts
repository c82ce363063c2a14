// The cubbyhole: a private key/value area per token. Every path is scoped to the calling
// token, so no other token (root included) can read it, and it is deleted with the token.
import { CofferError, invalidField } from '../sdk/errors.js';
import type { JsonObject } from '../sdk/json.js';
import { createContextPathEngine, definePath } from '../sdk/path.js';
import { getJson, prefixedStorage, putJson, type Storage } from '../sdk/storage.js';
import type { Caller, InternalBackend } from './caller.js';
import { CORE_KEYS } from './keys.js';
import { deleteTree } from './mount-table.js';

/** The storage area of one token's cubbyhole, keyed by the token's HMAC (never the token). */
export function cubbyholePrefix(tokenHash: string): string {
  return `${CORE_KEYS.cubbyholePrefix}${tokenHash}/`;
}

/** Deletes a token's whole cubbyhole (called when the token store deletes the token). */
export async function destroyCubbyhole(barrier: Storage, tokenHash: string): Promise<void> {
  await deleteTree(barrier, cubbyholePrefix(tokenHash));
}

export function createCubbyholeBackend(deps: {
  barrier: Storage;
  hashToken: (token: string) => string;
}): InternalBackend {
  const areaOf = (caller: Caller): Storage => {
    // SECURITY: the area comes from the caller's own token, never from the request path.
    if (caller.entry.type === 'batch') {
      throw new CofferError('invalid_request', 'batch tokens have no cubbyhole');
    }
    return prefixedStorage(deps.barrier, cubbyholePrefix(deps.hashToken(caller.token)));
  };
  const keyOf = (path: string): string => {
    if (path === '' || path.endsWith('/')) throw invalidField('path', 'missing path');
    return `entry/${path}`;
  };

  const entry = definePath<Record<string, never>, Caller>({
    pattern: ':path*',
    fields: {},
    arbitraryFields: true,
    help: "Reads, writes, lists and deletes entries in the calling token's cubbyhole.",
    operations: {
      read: async (_req, _fields, params, caller) => {
        const data = await getJson<JsonObject>(areaOf(caller), keyOf(params.path ?? ''));
        if (data === undefined) throw new CofferError('not_found', 'no entry at that path');
        return { kind: 'data', data };
      },
      update: async (req, _fields, params, caller) => {
        await putJson(areaOf(caller), keyOf(params.path ?? ''), { ...req.data });
        return { kind: 'empty' };
      },
      delete: async (_req, _fields, params, caller) => {
        await areaOf(caller).delete(keyOf(params.path ?? ''));
        return { kind: 'empty' };
      },
      list: async (_req, _fields, params, caller) => {
        const folder = params.path ?? '';
        const keys = await areaOf(caller).list(
          `entry/${folder === '' || folder.endsWith('/') ? folder : `${folder}/`}`,
        );
        if (keys.length === 0) throw new CofferError('not_found', 'no entries');
        return { kind: 'data', data: { keys } };
      },
    },
  });

  return createContextPathEngine<Caller>([entry]);
}
