// The Kubernetes auth method's configuration: the API server (for TokenReview) and its CA, the
// reviewer's JWT, local verification keys and the issuer check. Owns the stored form and the
// checks that run when it is written.
import type { KeyObject } from 'node:crypto';
import { CofferError, invalidField } from '../../../sdk/errors.js';
import { getJson, putJson, type Storage } from '../../../sdk/storage.js';
import { isPlainObject } from '../../../sdk/json.js';
import { checkCaPem, checkOutboundUrl } from '../../../shared/outbound.js';
import { parsePublicKeyPem } from '../token-signatures.js';
import { CONFIG_KEY } from './keys.js';

/** The issuer Kubernetes puts in legacy (secret-based) service account tokens. */
export const DEFAULT_ISSUER = 'kubernetes/serviceaccount';

/** Stored form. SECURITY: `tokenReviewerJwt` is a credential and is never rendered. */
export interface KubernetesConfig {
  /** Base URL of the API server, normalised to include a scheme; '' = no TokenReview. */
  readonly kubernetesHost: string;
  readonly kubernetesCaCert: string;
  readonly tokenReviewerJwt: string;
  readonly pemKeys: readonly string[];
  readonly issuer: string;
  readonly disableIssValidation: boolean;
  readonly disableLocalCaJwt: boolean;
}

/**
 * Vault accepts a host, a host:port pair or a URL; a bare host means https. Returns the URL
 * without a trailing slash; throws invalid_request naming the field.
 */
export function normaliseHost(raw: string): string {
  const text = raw.trim();
  if (text === '') return '';
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`;
  const url = checkOutboundUrl(withScheme, 'kubernetes_host');
  if (url.search !== '' || url.hash !== '') {
    throw invalidField('kubernetes_host', 'must not have a query or fragment');
  }
  return url.href.replace(/\/+$/, '');
}

/** Parses one PEM public key or certificate; throws invalid_request naming pem_keys. */
export function parsePemKey(pem: string): KeyObject {
  return parsePublicKeyPem(pem, 'pem_keys');
}

/** A compact JWS: three base64url parts, the first a JSON header naming an algorithm. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

function isCompactJws(text: string): boolean {
  if (!COMPACT_JWS.test(text)) return false;
  try {
    const header: unknown = JSON.parse(
      Buffer.from(text.slice(0, text.indexOf('.')), 'base64url').toString('utf8'),
    );
    return isPlainObject(header) && typeof header.alg === 'string';
  } catch {
    return false;
  }
}

/**
 * Checks a config about to be stored: something to verify tokens with, parsable parts.
 * Returns Vault's warnings: a kubernetes_ca_cert that does not parse is stored anyway, as
 * Vault does (TokenReview calls then fail closed: the TLS handshake cannot verify).
 */
export function validateConfig(config: KubernetesConfig): string[] {
  const warnings: string[] = [];
  if (config.kubernetesHost === '' && config.pemKeys.length === 0) {
    throw new CofferError(
      'invalid_request',
      "one of 'kubernetes_host' (TokenReview) or 'pem_keys' (local verification) must be set",
    );
  }
  if (config.tokenReviewerJwt !== '' && !isCompactJws(config.tokenReviewerJwt)) {
    throw invalidField('token_reviewer_jwt', 'must be a JWT in compact JWS form');
  }
  if (config.kubernetesCaCert !== '') {
    try {
      checkCaPem(config.kubernetesCaCert, 'kubernetes_ca_cert');
    } catch {
      warnings.push(
        'kubernetes_ca_cert could not be parsed as PEM certificates; it is stored, but ' +
          'TokenReview calls will fail until it is corrected',
      );
    }
  }
  for (const pem of config.pemKeys) parsePemKey(pem);
  return warnings;
}

export async function loadConfig(storage: Storage): Promise<KubernetesConfig | undefined> {
  return getJson<KubernetesConfig>(storage, CONFIG_KEY);
}

export async function requireConfig(storage: Storage): Promise<KubernetesConfig> {
  const config = await loadConfig(storage);
  if (config === undefined) {
    throw new CofferError('invalid_request', 'could not load backend configuration');
  }
  return config;
}

export async function saveConfig(storage: Storage, config: KubernetesConfig): Promise<void> {
  await putJson(storage, CONFIG_KEY, config);
}
