// JWT/OIDC `config`: read and write the mount's configuration. A write replaces the whole
// configuration (as in Vault) and, unless told not to, fetches the discovery document or JWKS
// it points at, so a wrong URL or CA is reported now rather than at the first login.
import { CofferError, invalidField } from '../../../sdk/errors.js';
import type { EngineRequest } from '../../../sdk/engine.js';
import type { FieldValues } from '../../../sdk/fields.js';
import type { JsonObject } from '../../../sdk/json.js';
import type { PathSpec } from '../../../sdk/path.js';
import { pathConfigRecord } from '../record-paths.js';
import { keyMode, loadConfig, saveConfig, validateConfig, type JwtConfig } from './config.js';
import type { JwtDeps } from './deps.js';

const FIELDS = {
  oidc_discovery_url: {
    type: 'string',
    description: 'OIDC issuer URL (with or without /.well-known/openid-configuration).',
  },
  oidc_discovery_ca_pem: {
    type: 'string',
    description: 'PEM CA certificates for the discovery, JWKS and token endpoints.',
  },
  oidc_client_id: { type: 'string', description: 'OAuth client id for OIDC roles.' },
  oidc_client_secret: {
    type: 'string',
    description: 'OAuth client secret for OIDC roles. Never returned.',
  },
  oidc_response_mode: {
    type: 'string',
    description: 'Only "query" (the default) is supported.',
  },
  oidc_response_types: {
    type: 'string-list',
    description: 'Only "code" (the default) is supported.',
  },
  jwks_url: { type: 'string', description: 'URL of a JWKS that signs the tokens.' },
  jwks_ca_pem: { type: 'string', description: 'PEM CA certificates for jwks_url.' },
  jwt_validation_pubkeys: {
    type: 'string-list',
    description: 'PEM public keys or certificates that sign the tokens.',
  },
  bound_issuer: { type: 'string', description: 'If set, the "iss" claim must equal it.' },
  jwt_supported_algs: {
    type: 'string-list',
    description: 'Signing algorithms to accept (RS*, PS*, ES*, EdDSA).',
  },
  default_role: { type: 'string', description: 'Role used when a login names none.' },
  namespace_in_state: {
    type: 'bool',
    description: 'Accepted for compatibility; Coffer has no namespaces.',
  },
  provider_config: {
    type: 'map',
    description: 'Provider-specific options; none are supported, so it must be empty.',
  },
  skip_jwks_validation: {
    type: 'bool',
    description: 'Store the configuration without fetching the discovery document or JWKS.',
  },
} as const;

function renderConfig(config: JwtConfig): JsonObject {
  return {
    oidc_discovery_url: config.oidcDiscoveryUrl,
    oidc_discovery_ca_pem: config.oidcDiscoveryCaPem,
    oidc_client_id: config.oidcClientId,
    oidc_response_mode: '',
    oidc_response_types: [],
    jwks_url: config.jwksUrl,
    jwks_ca_pem: config.jwksCaPem,
    jwt_validation_pubkeys: [...config.jwtValidationPubkeys],
    bound_issuer: config.boundIssuer,
    jwt_supported_algs: [...config.jwtSupportedAlgs],
    default_role: config.defaultRole,
    namespace_in_state: true,
    provider_config: {},
  };
}

export function pathConfig(deps: JwtDeps): PathSpec {
  async function write(req: EngineRequest, f: FieldValues<typeof FIELDS>): Promise<undefined> {
    if (f.oidc_response_mode !== undefined && !['', 'query'].includes(f.oidc_response_mode)) {
      throw invalidField('oidc_response_mode', 'only "query" is supported');
    }
    if (f.oidc_response_types !== undefined && f.oidc_response_types.some((t) => t !== 'code')) {
      throw invalidField('oidc_response_types', 'only "code" is supported');
    }
    if (f.provider_config !== undefined && Object.keys(f.provider_config).length > 0) {
      throw invalidField('provider_config', 'no provider-specific options are supported');
    }
    const config: JwtConfig = {
      oidcDiscoveryUrl: (f.oidc_discovery_url ?? '').trim(),
      oidcDiscoveryCaPem: f.oidc_discovery_ca_pem ?? '',
      oidcClientId: f.oidc_client_id ?? '',
      oidcClientSecret: f.oidc_client_secret ?? '',
      jwksUrl: (f.jwks_url ?? '').trim(),
      jwksCaPem: f.jwks_ca_pem ?? '',
      jwtValidationPubkeys: f.jwt_validation_pubkeys ?? [],
      boundIssuer: f.bound_issuer ?? '',
      jwtSupportedAlgs: f.jwt_supported_algs ?? [],
      defaultRole: (f.default_role ?? '').trim().toLowerCase(),
    };
    validateConfig(config);
    if (f.skip_jwks_validation !== true && keyMode(config) !== 'static') {
      const field = keyMode(config) === 'discovery' ? 'oidc_discovery_url' : 'jwks_url';
      try {
        await deps.keys.fresh(config).check(req.now());
      } catch (err) {
        if (err instanceof CofferError && err.code === 'upstream_failure') {
          throw new CofferError('invalid_request', `error checking ${field}: ${err.message}`, {
            field,
            cause: err,
          });
        }
        throw err;
      }
    }
    await saveConfig(req.storage, config);
    return undefined;
  }

  return pathConfigRecord({
    fields: FIELDS,
    load: loadConfig,
    render: renderConfig,
    write,
    help:
      'Configures how tokens are checked: exactly one of oidc_discovery_url, jwks_url or ' +
      'jwt_validation_pubkeys; the OIDC client (oidc_client_id and oidc_client_secret) for ' +
      'browser logins; bound_issuer, jwt_supported_algs and default_role. A write replaces the ' +
      'whole configuration. oidc_client_secret is never returned.',
  });
}
