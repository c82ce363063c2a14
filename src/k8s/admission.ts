// AdmissionReview v1 in, AdmissionReview v1 out: the webhook's wire format around the
// injector's decision. Pods are mutated on CREATE only (containers cannot change later); a pod
// that asks for injection but is misconfigured is refused with a message naming the annotation,
// so it never starts without its secrets.
import { InjectionError, mutatePod } from './injector.js';
import type { InjectorSettings, PodLike } from './injector.js';

export interface AdmissionResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly status?: { readonly code: number; readonly message: string };
  readonly patchType?: 'JSONPatch';
  /** base64 of the JSON array. */
  readonly patch?: string;
}

export interface AdmissionReviewOut {
  readonly apiVersion: 'admission.k8s.io/v1';
  readonly kind: 'AdmissionReview';
  readonly response: AdmissionResponse;
}

/** A request that is not an AdmissionReview v1 at all (answered with HTTP 400). */
export class AdmissionFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AdmissionFormatError';
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Validates the envelope and decides. Never throws for a pod's content, only for the envelope. */
export function reviewAdmission(body: unknown, settings: InjectorSettings): AdmissionReviewOut {
  if (!isRecord(body) || body['kind'] !== 'AdmissionReview') {
    throw new AdmissionFormatError('the body is not an AdmissionReview');
  }
  if (body['apiVersion'] !== 'admission.k8s.io/v1') {
    throw new AdmissionFormatError('only admission.k8s.io/v1 AdmissionReviews are served');
  }
  const request = body['request'];
  if (!isRecord(request) || typeof request['uid'] !== 'string' || request['uid'] === '') {
    throw new AdmissionFormatError('the AdmissionReview has no request.uid');
  }
  const uid = request['uid'];
  const answer = (response: Omit<AdmissionResponse, 'uid'>): AdmissionReviewOut => ({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid, ...response },
  });
  const kind = request['kind'];
  const isPod = isRecord(kind) && kind['kind'] === 'Pod' && (kind['group'] ?? '') === '';
  if (request['operation'] !== 'CREATE' || !isPod || !isRecord(request['object'])) {
    return answer({ allowed: true });
  }
  const object = request['object'] as PodLike;
  // On CREATE the pod may have no namespace yet; the request carries it.
  const namespace =
    typeof request['namespace'] === 'string' ? request['namespace'] : object.metadata?.namespace;
  const pod: PodLike = {
    ...object,
    metadata: { ...(object.metadata ?? {}), ...(namespace === undefined ? {} : { namespace }) },
  };
  try {
    const patch = mutatePod(pod, settings);
    if (patch === undefined) return answer({ allowed: true });
    return answer({
      allowed: true,
      patchType: 'JSONPatch',
      patch: Buffer.from(JSON.stringify(patch), 'utf8').toString('base64'),
    });
  } catch (error) {
    if (!(error instanceof InjectionError)) throw error;
    return answer({
      allowed: false,
      status: { code: 400, message: `coffer injector: ${error.message}` },
    });
  }
}
