// Where the JWT/OIDC auth method gets the keys that check token signatures, and the one place
// it runs jose's signature check: static PEM keys, a JWKS URL, or the jwks_uri of an OIDC
// discovery document. Remote documents are fetched only through the outbound chokepoint and
// cached per configuration; an unknown key id refetches the JWKS (rotation), at most once per
// cooldown, so invalid tokens cannot make Coffer hammer the provider.
import { createHash, type KeyObject } from 'node:crypto';
import {
  createLocalJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
} from 'jose';
import { CofferError } from '../../../sdk/errors.js';
import { isPlainObject } from '../../../sdk/json.js';
import type { Outbound } from '../../../shared/outbound.js';
import { claimError } from './claims.js';
import { isKeyMismatch, parsePublicKeyPem } from '../token-signatures.js';
import { keyMode, type JwtConfig } from './config.js';

/** A fetched JWKS or discovery document is reused for this long (ms). */
export const DOCUMENT_MAX_AGE_MS = 10 * 60_000;
/** An unknown key id refetches the JWKS only if the last fetch is at least this old (ms). */
export const JWKS_REFRESH_COOLDOWN_MS = 10_000;

/** The parts of an OIDC discovery document Coffer uses. */
export interface DiscoveryDocument {
  readonly issuer: string;
  readonly authorizationEndpoint: string;
  readonly tokenEndpoint: string;
  readonly jwksUri: string;
  readonly tokenEndpointAuthMethods: readonly string[];
}

export interface VerifyOptions {
  readonly algorithms: readonly string[];
  /** Epoch ms: the injected clock. */
  readonly nowMs: number;
  /** Seconds jose may tolerate on exp/nbf; the caller applies its exact leeways afterwards. */
  readonly clockToleranceSeconds: number;
  readonly requireExp: boolean;
}

export interface VerifiedToken {
  readonly payload: JWTPayload;
  /** The issuer the key source stands for (discovery's issuer), if any. */
  readonly expectedIssuer?: string;
}

/** A JWKS fetched from one URL, with its fetch time (epoch ms of the injected clock). */
class RemoteJwks {
  #set: JWTVerifyGetKey | undefined;
  #fetchedAt = 0;
  #inFlight: Promise<JWTVerifyGetKey> | undefined;
  /** How many times the document was fetched (tests read it). */
  fetches = 0;

  private readonly outbound: Outbound;
  private readonly url: (nowMs: number) => Promise<string>;
  private readonly caPem: string;
  private readonly label: string;

  constructor(
    outbound: Outbound,
    url: (nowMs: number) => Promise<string>,
    caPem: string,
    label: string,
  ) {
    this.outbound = outbound;
    this.url = url;
    this.caPem = caPem;
    this.label = label;
  }

  async #fetch(nowMs: number): Promise<JWTVerifyGetKey> {
    this.#inFlight ??= (async () => {
      try {
        const res = await this.outbound.json({
          url: await this.url(nowMs),
          label: this.label,
          caPem: this.caPem,
          headers: { accept: 'application/json, application/jwk-set+json' },
        });
        if (!isPlainObject(res.json) || !Array.isArray(res.json.keys)) {
          throw new CofferError('upstream_failure', `${this.label}: response is not a JWKS`);
        }
        let set: JWTVerifyGetKey;
        try {
          set = createLocalJWKSet(res.json as unknown as JSONWebKeySet);
        } catch (cause) {
          throw new CofferError('upstream_failure', `${this.label}: response is not a JWKS`, {
            cause,
          });
        }
        this.fetches += 1;
        this.#set = set;
        this.#fetchedAt = nowMs;
        return set;
      } finally {
        this.#inFlight = undefined;
      }
    })();
    return this.#inFlight;
  }

  async #current(nowMs: number): Promise<JWTVerifyGetKey> {
    if (this.#set !== undefined && nowMs - this.#fetchedAt < DOCUMENT_MAX_AGE_MS) return this.#set;
    return this.#fetch(nowMs);
  }

  /** A jose key resolver that refetches once on an unknown key id (outside the cooldown). */
  resolver(nowMs: number): JWTVerifyGetKey {
    return async (header, token) => {
      const set = await this.#current(nowMs);
      try {
        return await set(header, token);
      } catch (err) {
        if (
          err instanceof joseErrors.JWKSNoMatchingKey &&
          nowMs - this.#fetchedAt >= JWKS_REFRESH_COOLDOWN_MS
        ) {
          const fresh = await this.#fetch(nowMs);
          return fresh(header, token);
        }
        throw err;
      }
    };
  }

  /** Fetches now (used to check a config when it is written). */
  async load(nowMs: number): Promise<void> {
    await this.#fetch(nowMs);
  }
}

function stringField(doc: Record<string, unknown>, name: string, label: string): string {
  const value = doc[name];
  if (typeof value !== 'string' || value === '') {
    throw new CofferError('upstream_failure', `${label}: discovery document lacks ${name}`);
  }
  return value;
}

/** The discovery URL as given, or with the well-known suffix appended (OpenBao accepts both). */
export function discoveryDocumentUrl(configured: string): string {
  if (configured.includes('/.well-known/openid-configuration')) return configured;
  return `${configured.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

/** The issuer a discovery document must name: the configured base URL, exactly. */
function expectedDiscoveryIssuer(configured: string): string {
  const i = configured.indexOf('/.well-known/openid-configuration');
  return i === -1 ? configured : configured.slice(0, i);
}

/** The key source of one stored configuration. */
export class ConfigKeys {
  readonly #config: JwtConfig;
  readonly #outbound: Outbound;
  readonly #staticKeys: readonly KeyObject[];
  readonly #jwks: RemoteJwks | undefined;
  #discovery: { doc: DiscoveryDocument; fetchedAt: number } | undefined;
  #discoveryInFlight: Promise<DiscoveryDocument> | undefined;

  constructor(config: JwtConfig, outbound: Outbound) {
    this.#config = config;
    this.#outbound = outbound;
    const mode = keyMode(config);
    this.#staticKeys =
      mode === 'static'
        ? config.jwtValidationPubkeys.map((pem) => parsePublicKeyPem(pem, 'jwt_validation_pubkeys'))
        : [];
    if (mode === 'jwks') {
      this.#jwks = new RemoteJwks(
        outbound,
        () => Promise.resolve(config.jwksUrl),
        config.jwksCaPem,
        'jwks_url',
      );
    } else if (mode === 'discovery') {
      this.#jwks = new RemoteJwks(
        outbound,
        async (nowMs) => (await this.discovery(nowMs)).jwksUri,
        config.oidcDiscoveryCaPem,
        'jwks_uri',
      );
    }
  }

  /** How many times the JWKS was fetched (tests). */
  get jwksFetches(): number {
    return this.#jwks?.fetches ?? 0;
  }

  /** The discovery document (cached); only with oidc_discovery_url configured. */
  async discovery(nowMs: number): Promise<DiscoveryDocument> {
    if (this.#discovery !== undefined && nowMs - this.#discovery.fetchedAt < DOCUMENT_MAX_AGE_MS) {
      return this.#discovery.doc;
    }
    this.#discoveryInFlight ??= this.#fetchDiscovery(nowMs).finally(() => {
      this.#discoveryInFlight = undefined;
    });
    return this.#discoveryInFlight;
  }

  async #fetchDiscovery(nowMs: number): Promise<DiscoveryDocument> {
    const label = 'oidc_discovery_url';
    const configured = this.#config.oidcDiscoveryUrl;
    const res = await this.#outbound.json({
      url: discoveryDocumentUrl(configured),
      label,
      caPem: this.#config.oidcDiscoveryCaPem,
      headers: { accept: 'application/json' },
    });
    if (!isPlainObject(res.json)) {
      throw new CofferError('upstream_failure', `${label}: discovery document is not an object`);
    }
    const raw = res.json;
    const issuer = stringField(raw, 'issuer', label);
    // SECURITY: the document must speak for the configured issuer (OIDC Discovery §4.3), so a
    // provider cannot hand out keys or endpoints for another.
    if (issuer !== expectedDiscoveryIssuer(configured)) {
      throw new CofferError(
        'upstream_failure',
        `${label}: issuer in the discovery document does not match the configured URL`,
      );
    }
    const methods = raw.token_endpoint_auth_methods_supported;
    const doc: DiscoveryDocument = {
      issuer,
      authorizationEndpoint:
        typeof raw.authorization_endpoint === 'string' ? raw.authorization_endpoint : '',
      tokenEndpoint: typeof raw.token_endpoint === 'string' ? raw.token_endpoint : '',
      jwksUri: stringField(raw, 'jwks_uri', label),
      tokenEndpointAuthMethods: Array.isArray(methods)
        ? methods.filter((m): m is string => typeof m === 'string')
        : [],
    };
    this.#discovery = { doc, fetchedAt: nowMs };
    return doc;
  }

  /** Fetches what the config points at, so a bad URL is reported when the config is written. */
  async check(nowMs: number): Promise<void> {
    const mode = keyMode(this.#config);
    if (mode === 'discovery') await this.discovery(nowMs);
    if (mode === 'jwks') await this.#jwks!.load(nowMs);
  }

  /**
   * Verifies the signature (and jose's own exp/nbf checks within the given tolerance). Errors
   * are permission_denied naming what failed, or upstream_failure when keys cannot be fetched.
   */
  async verify(token: string, options: VerifyOptions): Promise<VerifiedToken> {
    const joseOptions: JWTVerifyOptions = {
      algorithms: [...options.algorithms],
      currentDate: new Date(options.nowMs),
      clockTolerance: options.clockToleranceSeconds,
      ...(options.requireExp ? { requiredClaims: ['exp'] } : {}),
    };
    if (this.#staticKeys.length > 0) {
      return { payload: await this.#verifyStatic(token, joseOptions) };
    }
    const expectedIssuer =
      keyMode(this.#config) === 'discovery'
        ? (await this.discovery(options.nowMs)).issuer
        : undefined;
    try {
      const { payload } = await jwtVerify(token, this.#jwks!.resolver(options.nowMs), joseOptions);
      return expectedIssuer === undefined ? { payload } : { payload, expectedIssuer };
    } catch (err) {
      throw joseFailure(err);
    }
  }

  /** Tries every configured key, as Vault does; claim errors from a matching key are final. */
  async #verifyStatic(token: string, options: JWTVerifyOptions): Promise<JWTPayload> {
    for (const key of this.#staticKeys) {
      try {
        return (await jwtVerify(token, key, options)).payload;
      } catch (err) {
        if (isKeyMismatch(err)) continue;
        throw joseFailure(err);
      }
    }
    throw claimError('no known key successfully validated the token signature');
  }
}

/** Maps a jose (or outbound) failure to a CofferError that names what failed, never a value. */
export function joseFailure(err: unknown): CofferError {
  if (err instanceof CofferError) return err;
  if (err instanceof joseErrors.JWTExpired) return claimError('token is expired');
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    return claimError(
      err.reason === 'missing'
        ? `claim "${err.claim}" is missing`
        : `claim "${err.claim}" is invalid`,
    );
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed) {
    return claimError('signing algorithm is not allowed');
  }
  if (err instanceof joseErrors.JWKSNoMatchingKey) return claimError('no key matches the token');
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) {
    return claimError('signature verification failed');
  }
  if (
    err instanceof joseErrors.JWSInvalid ||
    err instanceof joseErrors.JWTInvalid ||
    err instanceof joseErrors.JOSENotSupported ||
    err instanceof joseErrors.JWKSMultipleMatchingKeys
  ) {
    return claimError('token is malformed or uses an unsupported form');
  }
  return claimError('token could not be verified');
}

/**
 * Key sources per stored configuration, so caches survive between requests and are dropped
 * when the configuration changes (on this node or, through storage, on another).
 */
export class KeySources {
  #current: { fingerprint: string; keys: ConfigKeys } | undefined;

  readonly #outbound: Outbound;

  constructor(outbound: Outbound) {
    this.#outbound = outbound;
  }

  for(config: JwtConfig): ConfigKeys {
    const fingerprint = createHash('sha256').update(JSON.stringify(config)).digest('hex');
    if (this.#current?.fingerprint !== fingerprint) {
      this.#current = { fingerprint, keys: new ConfigKeys(config, this.#outbound) };
    }
    return this.#current.keys;
  }

  /**
   * A fresh source for a config about to be stored (checked before it is saved). It becomes
   * the current one, so the documents fetched for the check serve the first logins too.
   */
  fresh(config: JwtConfig): ConfigKeys {
    const fingerprint = createHash('sha256').update(JSON.stringify(config)).digest('hex');
    const keys = new ConfigKeys(config, this.#outbound);
    this.#current = { fingerprint, keys };
    return keys;
  }
}
