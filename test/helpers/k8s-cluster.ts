// What the Kubernetes e2e tests share: a real Coffer server with the Kubernetes auth method
// pointed at the loopback API stand-in (its TokenReview answers for the service-account tokens
// minted here), and projected-token files such as the kubelet writes.
import { writeFileSync } from 'node:fs';
import { vaultOk } from '../e2e/vault-http.js';
import {
  account,
  newClusterKey,
  saToken,
  type ClusterKey,
} from '../../src/engines/auth/kubernetes/testing.js';
import { KubeApiStandIn, type ResourceType } from './kube-api-stand-in.js';
import { startServer, type ServerProcess, type TempDir } from './server-process.js';

export interface Cluster {
  readonly coffer: ServerProcess;
  readonly root: string;
  readonly api: KubeApiStandIn;
  readonly key: ClusterKey;
  /** Calls the Vault API as root; returns the parsed body. */
  call(method: string, path: string, body?: unknown): Promise<Record<string, unknown>>;
  /**
   * Mints a projected service-account token for namespace/name with `audience`, registers it
   * with the TokenReview stand-in, writes it to `dir/<file>` and returns the file path.
   */
  tokenFile(
    dir: TempDir,
    file: string,
    namespace: string,
    name: string,
    audience: string,
  ): Promise<string>;
  close(): Promise<void>;
}

export interface ClusterOptions {
  readonly resources?: readonly ResourceType[];
  readonly serverEnv?: Readonly<Record<string, string>>;
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const root = `root-${Math.random().toString(36).slice(2)}`;
  const api = await KubeApiStandIn.start(options.resources);
  const coffer = await startServer({
    dev: { rootTokenId: root },
    ...(options.serverEnv === undefined ? {} : { env: options.serverEnv }),
  });
  const key = await newClusterKey();
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await vaultOk(coffer.url, method, path, {
      token: root,
      ...(body === undefined ? {} : { body }),
    });
    return (res.body ?? {}) as Record<string, unknown>;
  };
  await call('POST', 'sys/auth/kubernetes', { type: 'kubernetes' });
  await call('POST', 'auth/kubernetes/config', {
    kubernetes_host: api.url,
    pem_keys: [key.publicPem],
  });
  return {
    coffer,
    root,
    api,
    key,
    call,
    async tokenFile(dir, file, namespace, name, audience) {
      const sa = account(name, namespace);
      const jwt = await saToken(key, sa, { audience, nowMs: Date.now() });
      api.tokenReview.live.set(jwt, { account: sa, audiences: [audience] });
      const path = dir.file(file);
      writeFileSync(path, jwt, { mode: 0o600 });
      return path;
    },
    async close() {
      await coffer.stop().catch(() => undefined);
      await api.close();
    },
  };
}
