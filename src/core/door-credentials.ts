// Door credentials: the identities the cloud doors authenticate (an AWS access key pair now, a
// Google service-account key next). Each credential is stored only behind the barrier, is bound
// to Coffer policies through a token it owns, and is revocable; the core resolves a request
// that names a credential to a caller with that token's policies, so ACL, audit and sealing
// apply exactly as for a Vault token. See docs/adr/0004-cloud-doors.md.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { CofferError, invalidField } from '../sdk/errors.js';
import type { JsonObject } from '../sdk/json.js';
import { encodeJson, getJson, type Storage } from '../sdk/storage.js';
import type { TokenStore } from './token-store.js';

/** Keys inside the door-credential view (CORE_KEYS.doorCredentialPrefix): `<api>/<id>`. */
function recordKey(api: string, id: string): string {
  return `${api}/${id}`;
}

/** What one kind of credential (one door) issues and checks. */
export interface DoorCredentialKind {
  /** The door's name, a path segment: "aws", later "gcp". */
  readonly api: string;
  /** A fresh random credential id (the AWS access key id). */
  newId(): string;
  /** Checks a caller-chosen id (the dev server's fixed key pair). */
  checkId(id: string): void;
  /**
   * Issues the key material from the request's kind-specific fields. `stored` is what
   * verification needs (kept behind the barrier, never rendered again); `shown` is returned
   * once to the caller; `metadata` (never secret) goes on the token and into reads.
   */
  issue(
    id: string,
    displayName: string,
    fields: Readonly<Record<string, unknown>>,
  ): { stored: JsonObject; shown: JsonObject; metadata: Record<string, string> };
  /** The kind-specific request fields `issue` reads (others are refused). */
  readonly fields: readonly string[];
}

export interface DoorCredentialRecord {
  readonly api: string;
  readonly id: string;
  readonly displayName: string;
  readonly policies: readonly string[];
  /** Never secret: rendered in reads and put on the token (account, principal ARN). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Epoch ms. */
  readonly createdAt: number;
  /** Epoch ms; absent = until revoked. */
  readonly expiresAt?: number;
  /** SECURITY: the verification material (AWS secret access key). Behind the barrier only. */
  readonly material: JsonObject;
  /**
   * SECURITY: the token this credential acts as. Stored in clear behind the barrier because the
   * core must present it for the caller; it is no more powerful than the material beside it.
   */
  readonly token: string;
  readonly tokenAccessor: string;
}

export interface CreateDoorCredential {
  readonly id?: string;
  readonly policies: readonly string[];
  readonly displayName?: string;
  /** 0/absent = never expires. */
  readonly ttlSeconds?: number;
  /** Kind-specific fields (an AWS `secret_access_key` for the dev key pair, `account_id`). */
  readonly fields?: Readonly<Record<string, unknown>>;
}

const ID_PATTERN = /^[A-Za-z0-9_]{1,128}$/;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const SECRET_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
export const DEFAULT_AWS_ACCOUNT_ID = '000000000000';

function randomFrom(alphabet: string, length: number): string {
  // Both alphabets have a power-of-two size, so a byte modulo the size is unbiased.
  let out = '';
  for (const byte of randomBytes(length)) out += alphabet.charAt(byte % alphabet.length);
  return out;
}

/** AWS access keys: `AKIA` + 16 base32 characters, and a 40-character secret. */
export const AWS_CREDENTIAL_KIND: DoorCredentialKind = {
  api: 'aws',
  fields: ['secret_access_key', 'account_id'],
  newId: () => `AKIA${randomFrom(BASE32, 16)}`,
  checkId(id) {
    if (!ID_PATTERN.test(id)) {
      throw invalidField('access_key_id', 'must be 1 to 128 letters, digits or underscores');
    }
  },
  issue(id, displayName, fields) {
    const given = fields['secret_access_key'];
    let secret: string;
    if (given === undefined) secret = randomFrom(SECRET_ALPHABET, 40);
    else if (typeof given === 'string' && /^[\x21-\x7e]{1,256}$/.test(given)) secret = given;
    else throw invalidField('secret_access_key', 'must be 1 to 256 printable characters');
    const account = fields['account_id'] ?? DEFAULT_AWS_ACCOUNT_ID;
    if (typeof account !== 'string' || !/^\d{12}$/.test(account)) {
      throw invalidField('account_id', 'must be 12 digits');
    }
    return {
      stored: { secret_access_key: secret },
      shown: { access_key_id: id, secret_access_key: secret },
      metadata: {
        account_id: account,
        principal_arn: `arn:aws:iam::${account}:user/${displayName}`,
      },
    };
  },
};

/**
 * Google service-account keys: Coffer generates an RSA key pair, keeps only the public key and
 * hands out a standard key file (`type: service_account`) once. Google's auth libraries then
 * send self-signed RS256 JWTs (`kid` = the key id, `iss` = `sub` = the email), which the Google
 * door verifies against the stored public key. The id is 40 hex digits, as Google's.
 */
export const GCP_CREDENTIAL_KIND: DoorCredentialKind = {
  api: 'gcp',
  fields: ['project_id'],
  newId: () => randomBytes(20).toString('hex'),
  checkId(id) {
    if (!/^[0-9a-f]{40}$/.test(id)) throw invalidField('id', 'must be 40 hex digits');
  },
  issue(id, displayName, fields) {
    const project = fields['project_id'] ?? 'coffer';
    if (typeof project !== 'string' || !/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(project)) {
      throw invalidField('project_id', 'must be a Google project id (6-30 of a-z, 0-9, -)');
    }
    const account = displayName.toLowerCase();
    if (!/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(account)) {
      throw invalidField('display_name', 'must be a service account id (6-30 of a-z, 0-9, -)');
    }
    const email = `${account}@${project}.iam.gserviceaccount.com`;
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    return {
      stored: { public_key_pem: publicKey.export({ type: 'spki', format: 'pem' }).toString() },
      shown: {
        key_file: {
          type: 'service_account',
          project_id: project,
          private_key_id: id,
          private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
          client_email: email,
          client_id: BigInt(`0x${id.slice(0, 15)}`).toString(),
          auth_uri: 'https://accounts.google.com/o/oauth2/auth',
          token_uri: 'https://oauth2.googleapis.com/token',
          universe_domain: 'googleapis.com',
        },
      },
      metadata: { client_email: email, principal: `serviceAccount:${email}` },
    };
  },
};

export const DOOR_CREDENTIAL_KINDS: ReadonlyMap<string, DoorCredentialKind> = new Map([
  [AWS_CREDENTIAL_KIND.api, AWS_CREDENTIAL_KIND],
  [GCP_CREDENTIAL_KIND.api, GCP_CREDENTIAL_KIND],
]);

export class DoorCredentialStore {
  readonly #storage: Storage;
  readonly #tokens: TokenStore;
  readonly #now: () => number;
  readonly #kinds: ReadonlyMap<string, DoorCredentialKind>;
  /** Resolved records by `<api>/<id>`: every signed request needs one, so reads stay cheap. */
  readonly #cache = new Map<string, DoorCredentialRecord>();

  constructor(deps: {
    storage: Storage;
    tokens: TokenStore;
    now: () => number;
    kinds?: ReadonlyMap<string, DoorCredentialKind>;
  }) {
    this.#storage = deps.storage;
    this.#tokens = deps.tokens;
    this.#now = deps.now;
    this.#kinds = deps.kinds ?? DOOR_CREDENTIAL_KINDS;
  }

  kind(api: string): DoorCredentialKind {
    const kind = this.#kinds.get(api);
    if (kind === undefined)
      throw new CofferError('unsupported_path', `no door credentials for "${api}"`);
    return kind;
  }

  /**
   * Issues a credential: first its token (never expiring unless a TTL is given), then the
   * record. A crash in between leaves only a token nobody holds.
   */
  async create(
    api: string,
    options: CreateDoorCredential,
  ): Promise<{ record: DoorCredentialRecord; shown: JsonObject }> {
    const kind = this.kind(api);
    const id = options.id ?? kind.newId();
    kind.checkId(id);
    const displayName = options.displayName ?? id;
    if (!/^[A-Za-z0-9_+=,.@-]{1,64}$/.test(displayName)) {
      throw invalidField('display_name', 'must be 1 to 64 letters, digits or _+=,.@-');
    }
    for (const key of Object.keys(options.fields ?? {})) {
      if (!kind.fields.includes(key))
        throw invalidField(key, `unknown field for ${api} credentials`);
    }
    const ttlSeconds = options.ttlSeconds ?? 0;
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 0) {
      throw invalidField('ttl', 'must be a non-negative whole number of seconds');
    }
    const key = recordKey(api, id);
    if ((await this.#storage.get(key)) !== undefined) {
      throw invalidField('id', 'a credential with this id already exists');
    }
    const issued = kind.issue(id, displayName, options.fields ?? {});
    const created = await this.#tokens.create({
      policies: options.policies,
      path: `sys/door-credentials/${api}`,
      displayName: `${api}-${displayName}`,
      meta: { door: api, credential_id: id, ...issued.metadata },
      ...(ttlSeconds > 0
        ? { ttlSeconds, explicitMaxTtlSeconds: ttlSeconds }
        : { neverExpires: true }),
      renewable: false,
    });
    const record: DoorCredentialRecord = {
      api,
      id,
      displayName,
      policies: created.entry.policies,
      metadata: issued.metadata,
      createdAt: created.entry.createdAt,
      ...(created.entry.expiresAt === undefined ? {} : { expiresAt: created.entry.expiresAt }),
      material: issued.stored,
      token: created.token,
      tokenAccessor: created.entry.accessor,
    };
    await this.#storage.put(key, encodeJson(record));
    this.#cache.set(key, record);
    return { record, shown: issued.shown };
  }

  /** The live record for a credential, or undefined (unknown, revoked or expired). */
  async lookup(api: string, id: string): Promise<DoorCredentialRecord | undefined> {
    if (!this.#kinds.has(api) || !ID_PATTERN.test(id)) return undefined;
    const key = recordKey(api, id);
    let record = this.#cache.get(key);
    if (record === undefined) {
      record = await getJson<DoorCredentialRecord>(this.#storage, key);
      if (record === undefined) return undefined;
      this.#cache.set(key, record);
    }
    if (record.expiresAt !== undefined && record.expiresAt <= this.#now()) return undefined;
    return record;
  }

  /** Revokes the credential's token (the authority), then forgets the record. */
  async revoke(api: string, id: string): Promise<boolean> {
    this.kind(api);
    const key = recordKey(api, id);
    const record = await getJson<DoorCredentialRecord>(this.#storage, key);
    this.#cache.delete(key);
    if (record === undefined) return false;
    await this.#tokens.revokeByAccessor(record.tokenAccessor);
    await this.#storage.delete(key);
    this.#cache.delete(key);
    return true;
  }

  async list(api: string): Promise<string[]> {
    this.kind(api);
    return (await this.#storage.list(`${api}/`)).filter((k) => !k.endsWith('/'));
  }

  /** Forgets the cache (on seal). */
  close(): void {
    this.#cache.clear();
  }
}

/** A credential as reads render it: never the material or the token. */
export function renderDoorCredential(record: DoorCredentialRecord): JsonObject {
  return {
    api: record.api,
    id: record.id,
    display_name: record.displayName,
    policies: [...record.policies],
    metadata: { ...record.metadata },
    creation_time: new Date(record.createdAt).toISOString(),
    expire_time: record.expiresAt === undefined ? null : new Date(record.expiresAt).toISOString(),
    token_accessor: record.tokenAccessor,
  };
}
