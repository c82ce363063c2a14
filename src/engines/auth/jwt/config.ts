// The JWT/OIDC auth method's configuration: how signatures are checked (static public keys, a
// JWKS URL, or OIDC discovery), the OIDC client, and mount-wide defaults. Owns its stored form
// and the checks that run when it is written.
import { CofferError, invalidField } from '../../../sdk/errors.js';
import { getJson, putJson, type Storage } from '../../../sdk/storage.js';
import { checkCaPem, checkOutboundUrl } from '../../../shared/outbound.js';
import { parsePublicKeyPem, RSA_EC_ALGS } from '../token-signatures.js';
import { CONFIG_KEY } from './keys.js';

/** Signing algorithms a token may use; symmetric (HS*) and "none" are never accepted. */
export const SUPPORTED_ALGS: readonly string[] = [...RSA_EC_ALGS, 'EdDSA', 'Ed25519'];

/** OIDC ID tokens default to RS256, as in Vault (the OIDC core spec's mandatory algorithm). */
export const DEFAULT_OIDC_ALGS: readonly string[] = ['RS256'];

/** Stored form. Secrets (`oidcClientSecret`) are never rendered. */
export interface JwtConfig {
  readonly oidcDiscoveryUrl: string;
  readonly oidcDiscoveryCaPem: string;
  readonly oidcClientId: string;
  readonly oidcClientSecret: string;
  readonly jwksUrl: string;
  readonly jwksCaPem: string;
  readonly jwtValidationPubkeys: readonly string[];
  readonly boundIssuer: string;
  readonly jwtSupportedAlgs: readonly string[];
  readonly defaultRole: string;
}

/** Which of the three mutually exclusive ways of checking signatures is configured. */
export type KeyMode = 'static' | 'jwks' | 'discovery';

export function keyMode(config: JwtConfig): KeyMode {
  if (config.jwtValidationPubkeys.length > 0) return 'static';
  if (config.jwksUrl !== '') return 'jwks';
  return 'discovery';
}

/** Whether the browser OIDC flow can run: discovery plus a client id and secret. */
export function oidcFlowConfigured(config: JwtConfig): boolean {
  return (
    config.oidcDiscoveryUrl !== '' && config.oidcClientId !== '' && config.oidcClientSecret !== ''
  );
}

export async function loadConfig(storage: Storage): Promise<JwtConfig | undefined> {
  return getJson<JwtConfig>(storage, CONFIG_KEY);
}

/** The configuration, or an error saying the mount is not configured yet. */
export async function requireConfig(storage: Storage): Promise<JwtConfig> {
  const config = await loadConfig(storage);
  if (config === undefined) {
    throw new CofferError('invalid_request', 'could not load configuration');
  }
  return config;
}

export async function saveConfig(storage: Storage, config: JwtConfig): Promise<void> {
  await putJson(storage, CONFIG_KEY, config);
}

/** The algorithms a token may use under this config (for an OIDC ID token or a plain JWT). */
export function allowedAlgs(config: JwtConfig, forOidc: boolean): string[] {
  if (config.jwtSupportedAlgs.length > 0) return [...config.jwtSupportedAlgs];
  return [...(forOidc ? DEFAULT_OIDC_ALGS : SUPPORTED_ALGS)];
}

/**
 * Static checks of a config about to be stored (Vault's rules): exactly one key source, both
 * or neither of the client id and secret, a client only with discovery, parsable keys, URLs
 * and CA bundles, known algorithms.
 */
export function validateConfig(config: JwtConfig): void {
  const sources = [
    config.oidcDiscoveryUrl !== '',
    config.jwksUrl !== '',
    config.jwtValidationPubkeys.length > 0,
  ].filter(Boolean).length;
  if (sources !== 1) {
    throw new CofferError(
      'invalid_request',
      "exactly one of 'jwt_validation_pubkeys', 'jwks_url' or 'oidc_discovery_url' must be set",
    );
  }
  if ((config.oidcClientId === '') !== (config.oidcClientSecret === '')) {
    throw new CofferError(
      'invalid_request',
      "both 'oidc_client_id' and 'oidc_client_secret' must be set for OIDC",
    );
  }
  if (config.oidcClientId !== '' && config.oidcDiscoveryUrl === '') {
    throw invalidField('oidc_discovery_url', 'must be set for OIDC');
  }
  if (config.oidcDiscoveryUrl !== '') {
    checkOutboundUrl(config.oidcDiscoveryUrl, 'oidc_discovery_url');
  }
  if (config.oidcDiscoveryCaPem !== '') {
    checkCaPem(config.oidcDiscoveryCaPem, 'oidc_discovery_ca_pem');
  }
  if (config.jwksUrl !== '') checkOutboundUrl(config.jwksUrl, 'jwks_url');
  if (config.jwksCaPem !== '') checkCaPem(config.jwksCaPem, 'jwks_ca_pem');
  for (const pem of config.jwtValidationPubkeys) {
    parsePublicKeyPem(pem, 'jwt_validation_pubkeys');
  }
  for (const alg of config.jwtSupportedAlgs) {
    if (!SUPPORTED_ALGS.includes(alg)) {
      throw invalidField('jwt_supported_algs', 'holds an unsupported signing algorithm');
    }
  }
}
