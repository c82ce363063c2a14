// Kubernetes `config`: read and write the mount's configuration. A write replaces the whole
// configuration, as in Vault. token_reviewer_jwt is never returned.
import type { JsonObject } from '../../../sdk/json.js';
import type { PathSpec } from '../../../sdk/path.js';
import { pathConfigRecord } from '../record-paths.js';
import {
  loadConfig,
  normaliseHost,
  saveConfig,
  validateConfig,
  type KubernetesConfig,
} from './config.js';

const FIELDS = {
  kubernetes_host: {
    type: 'string',
    description: 'The API server: a host, host:port or URL. Logins are checked by TokenReview.',
  },
  kubernetes_ca_cert: {
    type: 'string',
    description: 'PEM CA certificate(s) of the API server; the system roots when empty.',
  },
  token_reviewer_jwt: {
    type: 'string',
    description:
      'JWT used to call TokenReview; when empty, the JWT being logged in with. Never returned.',
  },
  pem_keys: {
    type: 'string-list',
    description: 'PEM public keys or certificates to verify service account JWTs locally.',
  },
  issuer: {
    type: 'string',
    description: 'Expected "iss" when issuer validation is on; kubernetes/serviceaccount if empty.',
  },
  disable_iss_validation: {
    type: 'bool',
    description: 'Skip the issuer check (default true, as in Vault).',
  },
  disable_local_ca_jwt: {
    type: 'bool',
    description: 'Accepted for compatibility: Coffer never reads the pod’s own CA or JWT.',
  },
} as const;

/** Vault's read shape. SECURITY: the reviewer JWT only as whether one is set. */
function renderConfig(config: KubernetesConfig): JsonObject {
  return {
    kubernetes_host: config.kubernetesHost,
    kubernetes_ca_cert: config.kubernetesCaCert,
    pem_keys: [...config.pemKeys],
    issuer: config.issuer,
    disable_iss_validation: config.disableIssValidation,
    disable_local_ca_jwt: config.disableLocalCaJwt,
    token_reviewer_jwt_set: config.tokenReviewerJwt !== '',
  };
}

export function pathConfig(): PathSpec {
  return pathConfigRecord({
    fields: FIELDS,
    load: loadConfig,
    render: renderConfig,
    async write(req, f) {
      const config: KubernetesConfig = {
        kubernetesHost: normaliseHost(f.kubernetes_host ?? ''),
        kubernetesCaCert: f.kubernetes_ca_cert ?? '',
        tokenReviewerJwt: (f.token_reviewer_jwt ?? '').trim(),
        pemKeys: (f.pem_keys ?? []).filter((k) => k.trim() !== ''),
        issuer: (f.issuer ?? '').trim(),
        disableIssValidation: f.disable_iss_validation ?? true,
        disableLocalCaJwt: f.disable_local_ca_jwt ?? false,
      };
      const warnings = validateConfig(config);
      await saveConfig(req.storage, config);
      return warnings;
    },
    help:
      'Configures how service account JWTs are checked: kubernetes_host (+ kubernetes_ca_cert, ' +
      'token_reviewer_jwt) for the TokenReview API, and/or pem_keys to verify signatures ' +
      'locally; issuer with disable_iss_validation=false to check "iss". A write replaces the ' +
      'whole configuration; token_reviewer_jwt is never returned.',
  });
}
