// The Kubernetes TokenReview API call (authentication.k8s.io/v1): asks the API server whether
// a service account JWT is valid now (signature, expiry, the account and its pod still
// existing) and for which audiences. Sent only through the outbound chokepoint.
import { isPlainObject } from '../../../sdk/json.js';
import { CofferError } from '../../../sdk/errors.js';
import { parseJsonBody, type Outbound } from '../../../shared/outbound.js';
import type { KubernetesConfig } from './config.js';
import { denied, type ServiceAccount } from './service-account.js';

export const TOKEN_REVIEW_PATH = '/apis/authentication.k8s.io/v1/tokenreviews';

const SA_USERNAME = /^system:serviceaccount:([^:]+):([^:]+)$/;

/**
 * Reviews `jwt` and returns the service account the API server says it belongs to.
 * SECURITY: this answer, not the token's own claims, is what a login trusts. The bearer is
 * the configured reviewer JWT, or the presented JWT itself when none is configured (Vault).
 */
export async function reviewToken(
  outbound: Outbound,
  config: KubernetesConfig,
  jwt: string,
  audiences: readonly string[],
): Promise<ServiceAccount> {
  const label = 'tokenreview';
  const bearer = config.tokenReviewerJwt === '' ? jwt : config.tokenReviewerJwt;
  const res = await outbound.request({
    url: `${config.kubernetesHost}${TOKEN_REVIEW_PATH}`,
    label,
    method: 'POST',
    headers: {
      authorization: `Bearer ${bearer}`,
      'content-type': 'application/json',
      accept: 'application/json',
    },
    body: JSON.stringify({
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token: jwt, ...(audiences.length > 0 ? { audiences } : {}) },
    }),
    caPem: config.kubernetesCaCert,
  });
  // The API server answers 401 when the bearer (the presented JWT, without a reviewer JWT) is
  // not valid: the account may have been deleted.
  if (res.status === 401) {
    throw denied(
      'lookup failed: service account unauthorized; this could mean it has been deleted',
    );
  }
  if (res.status < 200 || res.status >= 300) {
    throw new CofferError('upstream_failure', `${label}: unexpected HTTP status ${res.status}`);
  }
  const body = parseJsonBody(res.body, label);
  const status = isPlainObject(body) && isPlainObject(body.status) ? body.status : undefined;
  if (status === undefined) {
    throw new CofferError('upstream_failure', `${label}: response has no status`);
  }
  if (typeof status.error === 'string' && status.error !== '') {
    throw denied('lookup failed: the API server refused the token');
  }
  if (status.authenticated !== true) {
    throw denied('lookup failed: service account jwt not valid');
  }
  const user = isPlainObject(status.user) ? status.user : {};
  const m = typeof user.username === 'string' ? SA_USERNAME.exec(user.username) : null;
  if (m === null) throw denied('lookup failed: unexpected username format');
  return {
    namespace: m[1]!,
    name: m[2]!,
    uid: typeof user.uid === 'string' ? user.uid : '',
    secretName: '',
  };
}
