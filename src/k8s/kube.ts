// The operator's view of the Kubernetes API: a KubeConfig (in-cluster, a kubeconfig file, or the
// default chain), the typed API handles it uses, and how a failed call is told apart.
// SECURITY: an ApiException's message embeds the response body; only its status code and the
// Status reason are ever shown.
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';

export interface KubeApis {
  readonly config: KubeConfig;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly custom: CustomObjectsApi;
}

/** A kubeconfig file when given, in-cluster when the pod's service variables exist, else the default chain. */
export function loadKubeConfig(
  file: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): KubeConfig {
  const config = new KubeConfig();
  if (file !== undefined && file !== '') config.loadFromFile(file);
  else if ((env['KUBERNETES_SERVICE_HOST'] ?? '') !== '') config.loadFromCluster();
  else config.loadFromDefault();
  return config;
}

export function kubeApis(config: KubeConfig): KubeApis {
  return {
    config,
    core: config.makeApiClient(CoreV1Api),
    apps: config.makeApiClient(AppsV1Api),
    custom: config.makeApiClient(CustomObjectsApi),
  };
}

/** Options that send a JSON merge patch (RFC 7386), which every resource type accepts. */
export const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** The HTTP status of a failed API call, or undefined for a network failure. */
export function statusOf(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code;
  const code = (error as { statusCode?: unknown; code?: unknown } | undefined)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** A short, safe description of a failed API call: status and reason, never the body's data. */
export function describeApiError(error: unknown): string {
  if (error instanceof ApiException) {
    const body = (typeof error.body === 'string' ? safeJson(error.body) : error.body) as
      { reason?: unknown } | undefined;
    const reason = typeof body?.reason === 'string' ? ` ${body.reason}` : '';
    return `Kubernetes API answered ${error.code}${reason}`;
  }
  const cause = (error as { code?: unknown } | undefined)?.code;
  if (typeof cause === 'string') return `Kubernetes API unreachable (${cause})`;
  return error instanceof Error ? error.name : 'Kubernetes API call failed';
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
