// Response wrapping: a response goes into the cubbyhole of a new single-use token with a short
// TTL, and the client gets only that token. Unwrapping returns the response once and revokes
// the token, so a second unwrap (an interception) fails visibly.
import type { EngineResult, WrapInfo } from '../sdk/engine.js';
import { CofferError, invalidField } from '../sdk/errors.js';
import type { FieldSpecs } from '../sdk/fields.js';
import { definePath, type PathSpec } from '../sdk/path.js';
import { getJson, prefixedStorage, putJson, type Storage } from '../sdk/storage.js';
import type { Caller } from './caller.js';
import { cubbyholePrefix } from './cubbyhole-backend.js';
import type { TokenEntry, TokenStore } from './token-store.js';

export const RESPONSE_WRAPPING_POLICY = 'response-wrapping';
/** Where the wrapped response sits in the wrapping token's cubbyhole (Vault's path). */
const RESPONSE_KEY = 'entry/response';
export const INVALID_WRAPPING_TOKEN = 'wrapping token is not valid or does not exist';
const INVALID = INVALID_WRAPPING_TOKEN;

type Unwrappable = Extract<EngineResult, { kind: 'data' | 'auth' }>;

export class ResponseWrapper {
  readonly #tokens: TokenStore;
  readonly #barrier: Storage;

  constructor(deps: { tokens: TokenStore; barrier: Storage }) {
    this.#tokens = deps.tokens;
    this.#barrier = deps.barrier;
  }

  #cubbyhole(token: string): Storage {
    return prefixedStorage(this.#barrier, cubbyholePrefix(this.#tokens.hashToken(token)));
  }

  /** Puts `result` into a new single-use token; an empty result is not wrapped (as in Vault). */
  async wrap(
    result: EngineResult,
    creationPath: string,
    ttlSeconds: number,
  ): Promise<EngineResult> {
    if (result.kind !== 'data' && result.kind !== 'auth') return result;
    const { token, entry } = await this.#tokens.create({
      policies: [RESPONSE_WRAPPING_POLICY],
      path: creationPath,
      displayName: 'response-wrapping',
      ttlSeconds,
      numUses: 1,
      renewable: false,
    });
    await putJson(this.#cubbyhole(token), RESPONSE_KEY, result);
    const wrapInfo: WrapInfo = {
      token,
      accessor: entry.accessor,
      ttlSeconds,
      creationTime: entry.createdAt,
      creationPath,
      ...(result.kind === 'auth' ? { wrappedAccessor: result.auth.accessor } : {}),
    };
    return { kind: 'wrapped', wrapInfo };
  }

  /**
   * The wrapping token's entry, or the documented 400 for anything else. `known` is the
   * caller's own entry when the wrapping token is the calling token: its single use is spent
   * by this very request, so a fresh lookup would no longer find it.
   */
  async #wrappingEntry(token: string, known?: TokenEntry): Promise<TokenEntry> {
    const entry = known ?? (await this.#tokens.lookup(token));
    if (entry?.policies.length !== 1 || entry.policies[0] !== RESPONSE_WRAPPING_POLICY) {
      throw new CofferError('invalid_request', INVALID, { field: 'token' });
    }
    return entry;
  }

  /** Returns the wrapped response once: the wrapping token is revoked on the way out. */
  async unwrap(token: string, known?: TokenEntry): Promise<Unwrappable> {
    await this.#wrappingEntry(token, known);
    const stored = await getJson<Unwrappable>(this.#cubbyhole(token), RESPONSE_KEY);
    await this.#tokens.revoke(token);
    if (stored === undefined || (stored.kind !== 'data' && stored.kind !== 'auth')) {
      throw new CofferError('invalid_request', INVALID, { field: 'token' });
    }
    return stored;
  }

  /** `sys/wrapping/lookup`: what the token wraps, without using it up. */
  async lookup(
    token: string,
  ): Promise<{ creation_path: string; creation_time: string; creation_ttl: number }> {
    const entry = await this.#wrappingEntry(token);
    return {
      creation_path: entry.path,
      creation_time: new Date(entry.createdAt).toISOString(),
      creation_ttl: entry.ttlSeconds,
    };
  }

  /** A new wrapping token for the same response and TTL; the old one stops working. */
  async rewrap(token: string, known?: TokenEntry): Promise<EngineResult> {
    const entry = await this.#wrappingEntry(token, known);
    const response = await this.unwrap(token, entry);
    return this.wrap(response, entry.path, entry.ttlSeconds);
  }
}

const TOKEN_FIELD = {
  token: { type: 'string', description: 'The wrapping token (default: the calling token).' },
} as const satisfies FieldSpecs;

/** `sys/wrapping/*` except lookup, which the core answers without authenticating. */
export function wrappingPaths(deps: { wrapper: ResponseWrapper }): PathSpec<FieldSpecs, Caller>[] {
  const { wrapper } = deps;
  /** The token in the body, else the calling token (with its entry, already resolved). */
  const target = (
    fields: { token: string | undefined },
    caller: Caller,
  ): [string, TokenEntry | undefined] =>
    fields.token !== undefined && fields.token !== ''
      ? [fields.token, undefined]
      : [caller.token, caller.entry];

  const unwrap = definePath<typeof TOKEN_FIELD, Caller>({
    pattern: 'wrapping/unwrap',
    fields: TOKEN_FIELD,
    help: 'Returns a wrapped response once, and revokes its wrapping token.',
    operations: {
      update: (_req, fields, _params, caller) => wrapper.unwrap(...target(fields, caller)),
    },
  });
  const rewrap = definePath<typeof TOKEN_FIELD, Caller>({
    pattern: 'wrapping/rewrap',
    fields: TOKEN_FIELD,
    help: 'Moves a wrapped response to a new wrapping token with the same TTL.',
    operations: {
      update: (_req, fields, _params, caller) => wrapper.rewrap(...target(fields, caller)),
    },
  });
  const wrap = definePath<Record<string, never>, Caller>({
    pattern: 'wrapping/wrap',
    fields: {},
    arbitraryFields: true,
    help: 'Wraps the request body itself (X-Vault-Wrap-TTL is required).',
    operations: {
      update: (req) =>
        Promise.resolve({ kind: 'data', data: { ...(req.data as Record<string, never>) } }),
    },
  });
  return [unwrap, rewrap, wrap];
}

/**
 * The 400 Vault gives when sys/wrapping/wrap is called without a wrap TTL, and the bound on
 * any wrap TTL: at most the system's maximum TTL (`maxTtlSeconds`; 0 = unbounded).
 */
export function requireWrapTtl(
  path: string,
  wrapTtlSeconds: number | undefined,
  maxTtlSeconds = 0,
): void {
  if (path === 'sys/wrapping/wrap' && wrapTtlSeconds === undefined) {
    throw invalidField('X-Vault-Wrap-TTL', 'endpoint requires response wrapping to be used');
  }
  if (wrapTtlSeconds !== undefined && maxTtlSeconds > 0 && wrapTtlSeconds > maxTtlSeconds) {
    throw invalidField(
      'X-Vault-Wrap-TTL',
      `must be at most ${maxTtlSeconds} seconds (the maximum TTL)`,
    );
  }
}
