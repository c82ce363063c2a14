// The identity token issuer (`identity/oidc/`): named signing keys with rotation, roles that
// say which key signs and for which audience, OIDC ID tokens for the calling token's entity,
// and the unauthenticated discovery document and JWKS that relying parties (Vault's own JWT
// auth among them) verify them with. Signing is jose's; private keys live only in storage,
// behind the barrier.
import { randomUUID } from 'node:crypto';
import {
  exportJWK,
  generateKeyPair,
  importJWK,
  jwtVerify,
  createLocalJWKSet,
  SignJWT,
  type JWK,
} from 'jose';
import type { EngineRequest, EngineResult } from '../../sdk/engine.js';
import { CofferError, invalidField } from '../../sdk/errors.js';
import type { FieldSpecs } from '../../sdk/fields.js';
import { isPlainObject, type JsonObject, type JsonValue } from '../../sdk/json.js';
import { definePath, type PathSpec } from '../../sdk/path.js';
import { getJson, putJson, type Storage } from '../../sdk/storage.js';
import type { Caller } from '../caller.js';
import { randomBase62 } from '../random-id.js';
import type { IdentityStore } from './store.js';

export const OIDC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
const DAY_SECONDS = 86_400;
const NAME_PATTERN = /^\w(?:[\w.-]{0,126}\w)?$/;
/** Claims the issuer sets itself; a role template may not set them (as in Vault). */
const RESERVED_CLAIMS = new Set(['iat', 'aud', 'exp', 'iss', 'sub', 'namespace', 'nonce']);

interface StoredKeyPair {
  readonly kid: string;
  readonly privateJwk: JWK;
  readonly publicJwk: JWK;
  /** Epoch ms after which the public key leaves the JWKS; absent = the signing key. */
  readonly expiresAt?: number;
}

interface OidcKey {
  readonly name: string;
  readonly algorithm: string;
  readonly rotationPeriodSeconds: number;
  readonly verificationTtlSeconds: number;
  readonly allowedClientIds: readonly string[];
  /** The signing key first, then retired keys still published. */
  readonly pairs: readonly StoredKeyPair[];
  /** Epoch ms of the last rotation (creation counts). */
  readonly rotatedAt: number;
}

interface OidcRole {
  readonly name: string;
  readonly key: string;
  /** JSON object text (as written, decoded from base64 if it was). */
  readonly template: string;
  readonly clientId: string;
  readonly ttlSeconds: number;
}

const KEYS = {
  config: 'config',
  key: (name: string) => `key/${name}`,
  keyPrefix: 'key/',
  role: (name: string) => `role/${name}`,
  rolePrefix: 'role/',
};

function checkName(name: string, field = 'name'): string {
  if (!NAME_PATTERN.test(name)) {
    throw invalidField(field, 'must be letters, digits, "_", "-" or "." (1 to 128)');
  }
  return name;
}

async function newPair(algorithm: string): Promise<StoredKeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(algorithm, {
    extractable: true,
    ...(algorithm === 'EdDSA' ? { crv: 'Ed25519' } : {}),
  });
  const kid = randomUUID();
  const privateJwk = await exportJWK(privateKey);
  const publicJwk = await exportJWK(publicKey);
  return {
    kid,
    privateJwk,
    publicJwk: { ...publicJwk, kid, alg: algorithm, use: 'sig' },
  };
}

/** A role template: JSON text (or base64 of it) holding an object without reserved claims. */
function parseTemplate(raw: string): { text: string; value: JsonObject } {
  let text = raw.trim();
  if (text === '') return { text: '', value: {} };
  if (!text.startsWith('{')) {
    const decoded = Buffer.from(text, 'base64').toString('utf8').trim();
    if (decoded.startsWith('{')) text = decoded;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalidField('template', 'must be a JSON object (or base64 of one)');
  }
  if (!isPlainObject(value)) throw invalidField('template', 'must be a JSON object');
  for (const claim of Object.keys(value)) {
    if (RESERVED_CLAIMS.has(claim)) {
      throw invalidField('template', `the claim "${claim}" is reserved and cannot be set`);
    }
  }
  return { text, value: value as JsonObject };
}

export interface OidcDeps {
  /** The issuer's storage view (behind the barrier). */
  readonly storage: Storage;
  readonly identity: IdentityStore;
  readonly now: () => number;
  /** This server's API address ("https://coffer.example:8200"), for the default issuer. */
  readonly apiAddr: string | undefined;
}

export class OidcIssuer {
  readonly #storage: Storage;
  readonly #identity: IdentityStore;
  readonly #now: () => number;
  readonly #apiAddr: string | undefined;
  #tail: Promise<unknown> = Promise.resolve();

  constructor(deps: OidcDeps) {
    this.#storage = deps.storage;
    this.#identity = deps.identity;
    this.#now = deps.now;
    this.#apiAddr = deps.apiAddr;
  }

  async #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn, fn);
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async writeConfig(issuer: string): Promise<void> {
    await putJson(this.#storage, KEYS.config, { issuer });
  }

  async configuredIssuer(): Promise<string> {
    return (await getJson<{ issuer?: string }>(this.#storage, KEYS.config))?.issuer ?? '';
  }

  /** `issuer` (or api_addr) + `/v1/identity/oidc`, as Vault builds it. */
  async issuer(): Promise<string> {
    const base = (await this.configuredIssuer()) || this.#apiAddr || '';
    return `${base.replace(/\/+$/, '')}/v1/identity/oidc`;
  }

  async getKey(name: string): Promise<OidcKey | undefined> {
    return getJson<OidcKey>(this.#storage, KEYS.key(name));
  }

  async getRole(name: string): Promise<OidcRole | undefined> {
    return getJson<OidcRole>(this.#storage, KEYS.role(name));
  }

  async #list(prefix: string): Promise<string[]> {
    return (await this.#storage.list(prefix)).filter((k) => !k.endsWith('/'));
  }

  async listKeys(): Promise<string[]> {
    return this.#list(KEYS.keyPrefix);
  }

  async listRoles(): Promise<string[]> {
    return this.#list(KEYS.rolePrefix);
  }

  async #roles(): Promise<OidcRole[]> {
    const out: OidcRole[] = [];
    for (const name of await this.listRoles()) {
      const role = await this.getRole(name);
      if (role !== undefined) out.push(role);
    }
    return out;
  }

  async writeKey(
    name: string,
    input: {
      algorithm?: string | undefined;
      rotationPeriodSeconds?: number | undefined;
      verificationTtlSeconds?: number | undefined;
      allowedClientIds?: readonly string[] | undefined;
    },
  ): Promise<void> {
    checkName(name);
    await this.#exclusive(async () => {
      const existing = await this.getKey(name);
      const algorithm = input.algorithm ?? existing?.algorithm ?? 'RS256';
      if (!OIDC_ALGORITHMS.includes(algorithm)) {
        throw invalidField('algorithm', `must be one of ${OIDC_ALGORITHMS.join(', ')}`);
      }
      const rotation =
        input.rotationPeriodSeconds ?? existing?.rotationPeriodSeconds ?? DAY_SECONDS;
      if (rotation < 60) throw invalidField('rotation_period', 'must be at least one minute');
      const verification =
        input.verificationTtlSeconds ?? existing?.verificationTtlSeconds ?? DAY_SECONDS;
      if (verification > 10 * rotation) {
        throw invalidField('verification_ttl', 'cannot be longer than 10x rotation_period');
      }
      for (const role of await this.#roles()) {
        if (role.key === name && role.ttlSeconds > verification) {
          throw invalidField(
            'verification_ttl',
            `unable to update key: role "${role.name}" has a token ttl longer than the verification_ttl`,
          );
        }
      }
      const now = this.#now();
      const algorithmChanged = existing !== undefined && existing.algorithm !== algorithm;
      const pairs =
        existing === undefined || algorithmChanged
          ? [
              await newPair(algorithm),
              ...(existing?.pairs ?? []).map((p) => ({
                ...p,
                expiresAt: p.expiresAt ?? now + verification * 1000,
              })),
            ]
          : existing.pairs;
      const key: OidcKey = {
        name,
        algorithm,
        rotationPeriodSeconds: rotation,
        verificationTtlSeconds: verification,
        allowedClientIds: [...(input.allowedClientIds ?? existing?.allowedClientIds ?? [])],
        pairs,
        rotatedAt: existing === undefined || algorithmChanged ? now : existing.rotatedAt,
      };
      await putJson(this.#storage, KEYS.key(name), key);
    });
  }

  async deleteKey(name: string): Promise<void> {
    await this.#exclusive(async () => {
      for (const role of await this.#roles()) {
        if (role.key === name) {
          throw new CofferError(
            'invalid_request',
            `unable to delete key "${name}" because it is currently referenced by these roles: ${role.name}`,
          );
        }
      }
      await this.#storage.delete(KEYS.key(name));
    });
  }

  /** A new signing key; the old one stays published for `verificationTtlSeconds`. */
  async rotateKey(name: string, verificationTtlSeconds?: number): Promise<void> {
    await this.#exclusive(async () => {
      const key = await this.getKey(name);
      if (key === undefined) throw new CofferError('not_found', `no named key found: ${name}`);
      await this.#rotate(key, verificationTtlSeconds);
    });
  }

  async #rotate(key: OidcKey, verificationTtlSeconds?: number): Promise<OidcKey> {
    const now = this.#now();
    const ttl = verificationTtlSeconds ?? key.verificationTtlSeconds;
    const retired = key.pairs
      .map((p, i) => (i === 0 ? { ...p, expiresAt: now + ttl * 1000 } : p))
      .filter((p) => (p.expiresAt ?? Infinity) > now);
    const next: OidcKey = {
      ...key,
      pairs: [await newPair(key.algorithm), ...retired],
      rotatedAt: now,
    };
    await putJson(this.#storage, KEYS.key(key.name), next);
    return next;
  }

  /** The key, rotated first if its rotation period has passed (the active node rotates). */
  async #current(name: string): Promise<OidcKey | undefined> {
    const key = await this.getKey(name);
    if (key === undefined) return undefined;
    if (this.#now() < key.rotatedAt + key.rotationPeriodSeconds * 1000) return key;
    return this.#exclusive(async () => {
      const fresh = await this.getKey(name);
      if (fresh === undefined) return undefined;
      if (this.#now() < fresh.rotatedAt + fresh.rotationPeriodSeconds * 1000) return fresh;
      return this.#rotate(fresh);
    });
  }

  async writeRole(
    name: string,
    input: {
      key?: string | undefined;
      template?: string | undefined;
      clientId?: string | undefined;
      ttlSeconds?: number | undefined;
    },
  ): Promise<void> {
    checkName(name);
    await this.#exclusive(async () => {
      const existing = await this.getRole(name);
      const keyName = input.key ?? existing?.key;
      if (keyName === undefined || keyName === '') {
        throw invalidField('key', 'the key parameter is required');
      }
      const key = await this.getKey(keyName);
      if (key === undefined) throw invalidField('key', `cannot find key "${keyName}"`);
      const ttl = input.ttlSeconds ?? existing?.ttlSeconds ?? DAY_SECONDS;
      if (ttl > key.verificationTtlSeconds) {
        throw invalidField(
          'ttl',
          "a role's token ttl cannot be longer than the verification_ttl of the key it references",
        );
      }
      const template =
        input.template === undefined
          ? (existing?.template ?? '')
          : parseTemplate(input.template).text;
      const role: OidcRole = {
        name,
        key: keyName,
        template,
        clientId: input.clientId ?? existing?.clientId ?? randomBase62(26),
        ttlSeconds: ttl,
      };
      await putJson(this.#storage, KEYS.role(name), role);
    });
  }

  async deleteRole(name: string): Promise<void> {
    await this.#storage.delete(KEYS.role(name));
  }

  /** An ID token for the caller's entity, signed by the role's key. */
  async token(roleName: string, caller: Caller): Promise<JsonObject> {
    const role = await this.getRole(roleName);
    if (role === undefined) throw invalidField('name', `role "${roleName}" not found`);
    const entityId = caller.entry.entityId;
    const entity =
      entityId === undefined ? undefined : await this.#identity.currentEntity(entityId);
    if (entity === undefined) {
      throw new CofferError('invalid_request', "no entity associated with the request's token");
    }
    const key = await this.#current(role.key);
    if (key === undefined) throw invalidField('key', `cannot find key "${role.key}"`);
    if (!key.allowedClientIds.includes('*') && !key.allowedClientIds.includes(role.clientId)) {
      throw new CofferError(
        'invalid_request',
        `the key "${key.name}" does not list the client ID of the role "${role.name}" as an allowed client ID`,
      );
    }
    const resolved = await this.#identity.resolve(entity.id);
    const claims: Record<string, JsonValue> = {
      namespace: 'root',
      ...fillTemplate(role.template, entity, resolved?.groups ?? []),
    };
    const nowSeconds = Math.floor(this.#now() / 1000);
    const pair = key.pairs[0]!;
    const signer = await importJWK(pair.privateJwk, key.algorithm);
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: key.algorithm, kid: pair.kid })
      .setIssuer(await this.issuer())
      .setSubject(entity.id)
      .setAudience(role.clientId)
      .setIssuedAt(nowSeconds)
      .setExpirationTime(nowSeconds + role.ttlSeconds)
      .sign(signer);
    return { token, client_id: role.clientId, ttl: role.ttlSeconds };
  }

  /** The published public keys: every key's signing key and the retired ones not yet expired. */
  async jwks(): Promise<{ keys: JWK[] }> {
    const now = this.#now();
    const keys: JWK[] = [];
    for (const name of await this.listKeys()) {
      const key = await this.getKey(name);
      for (const pair of key?.pairs ?? []) {
        if ((pair.expiresAt ?? Infinity) > now) keys.push(pair.publicJwk);
      }
    }
    return { keys };
  }

  async discovery(): Promise<JsonObject> {
    const issuer = await this.issuer();
    const algorithms = new Set<string>();
    for (const name of await this.listKeys()) {
      const key = await this.getKey(name);
      if (key !== undefined) algorithms.add(key.algorithm);
    }
    return {
      issuer,
      jwks_uri: `${issuer}/.well-known/keys`,
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: [...algorithms].sort(),
    };
  }

  /** Vault's introspection: `{active: true}` or `{active: false, error}`. */
  async introspect(token: string, clientId: string | undefined): Promise<JsonObject> {
    try {
      const jwks = createLocalJWKSet(await this.jwks());
      const { payload } = await jwtVerify(token, jwks, {
        issuer: await this.issuer(),
        currentDate: new Date(this.#now()),
        ...(clientId === undefined || clientId === '' ? {} : { audience: clientId }),
      });
      const entity =
        typeof payload.sub === 'string' ? await this.#identity.getEntity(payload.sub) : undefined;
      if (entity === undefined || entity.disabled) {
        return { active: false, error: 'entity of the token is missing or disabled' };
      }
      return { active: true };
    } catch (err) {
      // SECURITY: jose's message names the failed check, never the token.
      return { active: false, error: err instanceof Error ? err.message : 'invalid token' };
    }
  }
}

/**
 * The role template's claims with string values that are exactly one `{{identity…}}`
 * parameter filled in (entity id, name, metadata map or key, group ids or names). Anything
 * unresolvable is dropped, as Vault renders missing values empty.
 */
function fillTemplate(
  template: string,
  entity: { id: string; name: string; metadata: Readonly<Record<string, string>> },
  groups: readonly { id: string; name: string }[],
): Record<string, JsonValue> {
  if (template === '') return {};
  const parsed = JSON.parse(template) as Record<string, JsonValue>;
  const fill = (value: JsonValue): JsonValue | undefined => {
    if (typeof value === 'string') {
      const m = /^\{\{\s*([^{}]+?)\s*\}\}$/.exec(value);
      if (m === null) return value;
      const parameter = m[1]!;
      if (parameter === 'identity.entity.id') return entity.id;
      if (parameter === 'identity.entity.name') return entity.name;
      if (parameter === 'identity.entity.metadata') return { ...entity.metadata };
      if (parameter.startsWith('identity.entity.metadata.')) {
        return entity.metadata[parameter.slice('identity.entity.metadata.'.length)];
      }
      if (parameter === 'identity.entity.groups.ids') return groups.map((g) => g.id);
      if (parameter === 'identity.entity.groups.names') return groups.map((g) => g.name);
      return undefined;
    }
    if (Array.isArray(value)) return value.map(fill).filter((v) => v !== undefined);
    if (isPlainObject(value)) {
      const out: Record<string, JsonValue> = {};
      for (const [k, v] of Object.entries(value)) {
        const filled = fill(v);
        if (filled !== undefined) out[k] = filled;
      }
      return out;
    }
    return value;
  };
  return fill(parsed) as Record<string, JsonValue>;
}

const KEY_FIELDS = {
  algorithm: {
    type: 'string',
    description: 'RS256 (default), RS384, RS512, ES256, ES384, ES512, EdDSA.',
  },
  rotation_period: {
    type: 'duration',
    description: 'How often the signing key rotates (24h; ≥ 1m).',
  },
  verification_ttl: {
    type: 'duration',
    description: 'How long a retired public key stays published (24h; ≤ 10× rotation_period).',
  },
  allowed_client_ids: {
    type: 'string-list',
    description: 'Role client IDs that may use the key; "*" = all; empty = none.',
  },
} as const satisfies FieldSpecs;

const ROLE_FIELDS = {
  key: { type: 'string', description: 'The named key that signs (required).' },
  template: { type: 'string', description: 'Extra claims: a JSON object (or base64 of one).' },
  client_id: { type: 'string', description: 'The aud claim; random when not set.' },
  ttl: { type: 'duration', description: 'Token lifetime (24h; ≤ the key verification_ttl).' },
} as const satisfies FieldSpecs;

function notFound(what: string): CofferError {
  return new CofferError('not_found', `${what} not found`);
}

/** The paths the identity backend serves for the issuer. */
export function oidcPaths(issuer: OidcIssuer): PathSpec<FieldSpecs, Caller>[] {
  const config = definePath<{ issuer: { type: 'string'; description: string } }, Caller>({
    pattern: 'oidc/config',
    fields: { issuer: { type: 'string', description: 'Issuer base URL; default api_addr.' } },
    help: "The issuer's configuration.",
    operations: {
      read: async () => ({ kind: 'data', data: { issuer: await issuer.configuredIssuer() } }),
      update: async (_req, f) => {
        const value = (f.issuer ?? '').trim().replace(/\/+$/, '');
        if (value !== '' && !/^https?:\/\/[^/]+/.test(value)) {
          throw invalidField('issuer', 'must be an http(s) URL');
        }
        await issuer.writeConfig(value);
        // As Vault: setting the issuer explicitly warns; clearing it is a plain 204.
        return value === ''
          ? { kind: 'empty' }
          : {
              kind: 'empty',
              warnings: [
                'If "issuer" is set explicitly, all tokens must be validated against that address, including those issued by secondary clusters. Setting issuer to "" will restore the default behavior of using the cluster\'s api_addr as the issuer.',
              ],
            };
      },
    },
  });
  const keyList = definePath<FieldSpecs, Caller>({
    pattern: 'oidc/key',
    fields: {},
    help: 'Lists the named keys.',
    operations: {
      list: async () => {
        const keys = await issuer.listKeys();
        if (keys.length === 0) throw notFound('keys');
        return { kind: 'data', data: { keys } };
      },
    },
  });
  const key = definePath<typeof KEY_FIELDS, Caller>({
    pattern: 'oidc/key/:name',
    fields: KEY_FIELDS,
    help: 'Reads, creates or updates, and deletes a named signing key.',
    operations: {
      read: async (_req, _f, params) => {
        const found = await issuer.getKey(params.name ?? '');
        if (found === undefined) throw notFound('key');
        return {
          kind: 'data',
          data: {
            algorithm: found.algorithm,
            rotation_period: found.rotationPeriodSeconds,
            verification_ttl: found.verificationTtlSeconds,
            allowed_client_ids: [...found.allowedClientIds],
          },
        };
      },
      update: async (_req, f, params) => {
        await issuer.writeKey(params.name ?? '', {
          algorithm: f.algorithm,
          rotationPeriodSeconds: f.rotation_period,
          verificationTtlSeconds: f.verification_ttl,
          allowedClientIds: f.allowed_client_ids,
        });
        return { kind: 'empty' };
      },
      delete: async (_req, _f, params) => {
        await issuer.deleteKey(params.name ?? '');
        return { kind: 'empty' };
      },
    },
  });
  const rotate = definePath<{ verification_ttl: (typeof KEY_FIELDS)['verification_ttl'] }, Caller>({
    pattern: 'oidc/key/:name/rotate',
    fields: { verification_ttl: KEY_FIELDS.verification_ttl },
    help: 'Rotates a named key now.',
    operations: {
      update: async (_req, f, params) => {
        await issuer.rotateKey(params.name ?? '', f.verification_ttl);
        return { kind: 'empty' };
      },
    },
  });
  const roleList = definePath<FieldSpecs, Caller>({
    pattern: 'oidc/role',
    fields: {},
    help: 'Lists the roles.',
    operations: {
      list: async () => {
        const roles = await issuer.listRoles();
        if (roles.length === 0) throw notFound('roles');
        return { kind: 'data', data: { keys: roles } };
      },
    },
  });
  const role = definePath<typeof ROLE_FIELDS, Caller>({
    pattern: 'oidc/role/:name',
    fields: ROLE_FIELDS,
    help: 'Reads, creates or updates, and deletes a role.',
    operations: {
      read: async (_req, _f, params) => {
        const found = await issuer.getRole(params.name ?? '');
        if (found === undefined) throw notFound('role');
        return {
          kind: 'data',
          data: {
            key: found.key,
            template: found.template,
            client_id: found.clientId,
            ttl: found.ttlSeconds,
          },
        };
      },
      update: async (_req, f, params) => {
        await issuer.writeRole(params.name ?? '', {
          key: f.key,
          template: f.template,
          clientId: f.client_id,
          ttlSeconds: f.ttl,
        });
        return { kind: 'empty' };
      },
      delete: async (_req, _f, params) => {
        await issuer.deleteRole(params.name ?? '');
        return { kind: 'empty' };
      },
    },
  });
  const token = definePath<FieldSpecs, Caller>({
    pattern: 'oidc/token/:name',
    fields: {},
    help: "An OIDC ID token for the caller's entity.",
    operations: {
      read: async (_req, _f, params, caller) => ({
        kind: 'data',
        data: await issuer.token(params.name ?? '', caller),
      }),
    },
  });
  const introspect = definePath<
    {
      token: { type: 'string'; description: string; required: true };
      client_id: { type: 'string'; description: string };
    },
    Caller
  >({
    pattern: 'oidc/introspect',
    fields: {
      token: { type: 'string', description: 'The ID token to check.', required: true },
      client_id: { type: 'string', description: 'The audience it must carry.' },
    },
    help: 'Whether an ID token is active (signature, issuer, expiry, entity).',
    operations: {
      update: async (_req, f) => ({
        kind: 'data',
        data: await issuer.introspect(f.token ?? '', f.client_id),
      }),
    },
  });
  return [config, keyList, rotate, key, roleList, role, token, introspect] as PathSpec<
    FieldSpecs,
    Caller
  >[];
}

/** Served without a token (Vault's unauthenticated identity paths); raw JSON bodies. */
export const OIDC_UNAUTHENTICATED_PATHS: ReadonlySet<string> = new Set([
  'oidc/.well-known/openid-configuration',
  'oidc/.well-known/keys',
]);

export async function handleOidcUnauthenticated(
  issuer: OidcIssuer,
  req: EngineRequest,
): Promise<EngineResult> {
  if (req.operation !== 'read') {
    throw new CofferError('unsupported_operation', 'unsupported operation');
  }
  const path = req.path.replace(/\/+$/, '');
  if (path === 'oidc/.well-known/keys') {
    return { kind: 'data', data: (await issuer.jwks()) as unknown as JsonObject };
  }
  if (path === 'oidc/.well-known/openid-configuration') {
    return { kind: 'data', data: await issuer.discovery() };
  }
  throw new CofferError('unsupported_path', 'unsupported path');
}
