// The injector end to end: `coffer k8s injector` (a real process, real TLS) answers
// AdmissionReviews for a dozen realistic pods; each JSONPatch is applied by
// `kubectl patch --local --type=json` to the pod manifest and the resulting pod spec is
// asserted and checked against Kubernetes' Pod schema. Then the injected init container's exact
// command runs here with the same CLI, its volumes bound to temporary directories and a
// projected-token file, against a real Coffer server: it renders the files. The env wrapper
// (`coffer k8s run`) of an injected container runs the same way and its program sees the
// secrets and not the token.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { Pod } from 'kubernetes-models/v1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  INIT_CONTAINER,
  RUNTIME_CONTAINER,
  runtimeCofferArgv,
  SECRETS_VOLUME,
  SIDECAR_CONTAINER,
  TOKEN_MOUNT_PATH,
  TOKEN_VOLUME,
  RUNTIME_VOLUME,
} from '../../src/k8s/injector.js';
import { startCluster, type Cluster } from '../helpers/k8s-cluster.js';
import {
  COFFER_BIN,
  createTempDir,
  findCanaries,
  REPO_ROOT,
  type TempDir,
} from '../helpers/server-process.js';

const DB_PASSWORD = `pw-${Math.random().toString(36).slice(2)}-canary`;
const API_KEY = `key-${Math.random().toString(36).slice(2)}-canary`;
const dir: TempDir = createTempDir('coffer-k8s-injector-');
let cluster: Cluster;
const volumeDirs: TempDir[] = [];
let injector: { url: string; ca: Buffer; stop(): Promise<void>; log(): string };

// Pods are walked freely in assertions; kubectl's output is untyped JSON.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type PodJson = Record<string, any>;

function kubectl(args: string[]): string {
  return execFileSync('kubectl', args, {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', KUBECONFIG: dir.file('empty-kubeconfig'), HOME: dir.path },
    timeout: 20_000,
  });
}

function selfSignedCert(): { cert: string; key: string; ca: Buffer } {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      dir.file('tls.key'),
      '-out',
      dir.file('tls.crt'),
      '-days',
      '1',
      '-subj',
      '/CN=coffer-injector.coffer.svc',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return {
    cert: dir.file('tls.crt'),
    key: dir.file('tls.key'),
    ca: readFileSync(dir.file('tls.crt')),
  };
}

async function startInjector(cofferUrl: string) {
  const tls = selfSignedCert();
  const child = spawn(
    process.execPath,
    [
      COFFER_BIN,
      'k8s',
      'injector',
      '-listen=127.0.0.1:0',
      `-tls-cert=${tls.cert}`,
      `-tls-key=${tls.key}`,
      `-coffer-addr=${cofferUrl}`,
      '-image=ghcr.io/coffer/coffer:0.1.0',
    ],
    { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  child.stderr.setEncoding('utf8');
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`injector did not start: ${err}`));
    }, 15_000);
    child.stderr.on('data', (chunk: string) => {
      err += chunk;
      const m = /listening on (https:\/\/\S+)/.exec(err);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', () => {
      reject(new Error(`injector exited: ${err}`));
    });
  });
  return {
    url,
    ca: tls.ca,
    log: () => err,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('close', () => {
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

function post(path: string, body: unknown, contentType = 'application/json') {
  return new Promise<{ status: number; body: PodJson }>((resolve, reject) => {
    const url = new URL(path, injector.url);
    const req = httpsRequest(
      url,
      {
        method: 'POST',
        ca: injector.ca,
        headers: { 'content-type': contentType },
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            body: text === '' ? undefined : JSON.parse(text),
          });
        });
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

function review(pod: PodJson, namespace = 'default', operation = 'CREATE') {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `uid-${Math.random().toString(36).slice(2)}`,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      name: pod.metadata?.name ?? '',
      namespace,
      operation,
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object: pod,
      oldObject: null,
      dryRun: false,
    },
  };
}

/** Sends the pod through the webhook and kubectl; returns the answer and the patched pod. */
async function inject(pod: PodJson, namespace = 'default') {
  const res = await post('/mutate', review(pod, namespace));
  expect(res.status).toBe(200);
  const response = res.body.response;
  if (response.patch === undefined) return { response, pod: undefined, patch: undefined };
  expect(response.patchType).toBe('JSONPatch');
  const patch = Buffer.from(response.patch, 'base64').toString('utf8');
  const file = dir.file(`pod-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(pod));
  const patched = JSON.parse(
    kubectl(['patch', '--local', '--type=json', '-f', file, '-p', patch, '-o', 'json']),
  ) as PodJson;
  // The result is a valid Pod by Kubernetes' published schema.
  new Pod(patched).validate();
  return { response, pod: patched, patch: JSON.parse(patch) as unknown[] };
}

const base = (name: string, annotations: Record<string, string> | undefined, spec: PodJson) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name,
    namespace: 'default',
    labels: { app: name },
    ...(annotations === undefined ? {} : { annotations }),
  },
  spec: { serviceAccountName: 'app', ...spec },
});

const inj = (extra: Record<string, string>) => ({
  'coffer.dev/agent-inject': 'true',
  'coffer.dev/role': 'app',
  ...extra,
});

const names = (list: { name: string }[] | undefined) => (list ?? []).map((c) => c.name);

beforeAll(async () => {
  writeFileSync(dir.file('empty-kubeconfig'), '');
  cluster = await startCluster();
  await cluster.call('PUT', 'sys/policies/acl/app-read', {
    policy:
      'path "secret/data/app" { capabilities = ["read"] }\npath "secret/data/report" { capabilities = ["read"] }',
  });
  await cluster.call('POST', 'auth/kubernetes/role/app', {
    bound_service_account_names: ['app'],
    bound_service_account_namespaces: ['default'],
    audience: 'coffer',
    token_policies: ['app-read'],
    token_ttl: '10m',
  });
  await cluster.call('POST', 'secret/data/app', {
    data: { username: 'app', password: DB_PASSWORD },
  });
  await cluster.call('POST', 'secret/data/report', { data: { api_key: API_KEY } });
  injector = await startInjector(cluster.coffer.url);
}, 60_000);

afterAll(async () => {
  await injector?.stop();
  await cluster?.close();
  for (const d of volumeDirs) d.remove();
  dir.remove();
});

const pods: Record<string, PodJson> = {
  // 1. One container with command and args; one file with the default template.
  web: base('web', inj({ 'coffer.dev/agent-inject-secret-db.conf': 'secret/data/app' }), {
    containers: [
      {
        name: 'web',
        image: 'nginx:1.27',
        command: ['nginx'],
        args: ['-g', 'daemon off;'],
        ports: [{ containerPort: 80 }],
      },
    ],
  }),
  // 2. A file with a template, existing init container (migrations) and existing volumes.
  api: base(
    'api',
    inj({
      'coffer.dev/agent-inject-secret-config.yaml': 'secret/data/app',
      'coffer.dev/agent-inject-template-config.yaml':
        'db:\n  user: {{secret "secret/data/app" "username"}}\n  password: {{secret "secret/data/app" "password"}}\n',
      'coffer.dev/agent-inject-perms-config.yaml': '0640',
    }),
    {
      initContainers: [
        { name: 'migrate', image: 'ghcr.io/example/api:1.4', command: ['/api', 'migrate'] },
      ],
      containers: [
        {
          name: 'api',
          image: 'ghcr.io/example/api:1.4',
          command: ['/api'],
          volumeMounts: [{ name: 'cache', mountPath: '/cache' }],
          env: [{ name: 'LOG_LEVEL', value: 'info' }],
        },
      ],
      volumes: [{ name: 'cache', emptyDir: {} }],
    },
  ),
  // 3. Env vars only, the container states its command.
  report: base(
    'report',
    inj({
      'coffer.dev/inject-env-DB_PASSWORD': 'coffer://secret/app#password',
      'coffer.dev/inject-env-API_KEY': 'coffer://secret/report#api_key',
    }),
    {
      restartPolicy: 'Never',
      containers: [
        {
          name: 'report',
          image: 'debian:12-slim',
          command: ['printenv'],
          args: ['DB_PASSWORD', 'API_KEY', 'COFFER_TOKEN'],
        },
      ],
    },
  ),
  // 4. Env vars, no command in the pod: the image's command comes from an annotation.
  worker: base(
    'worker',
    inj({
      'coffer.dev/inject-env-DB_PASSWORD': 'coffer://secret/app#password',
      'coffer.dev/command-worker': '["/usr/local/bin/worker","--queue","default"]',
    }),
    {
      containers: [
        { name: 'worker', image: 'ghcr.io/example/worker:2', args: ['--concurrency', '4'] },
      ],
    },
  ),
  // 5. Two containers, injection limited to one; the other keeps its volumes untouched.
  shop: base(
    'shop',
    inj({
      'coffer.dev/agent-inject-secret-db': 'secret/data/app',
      'coffer.dev/agent-inject-containers': 'shop',
    }),
    {
      containers: [
        { name: 'shop', image: 'ghcr.io/example/shop:7', command: ['/shop'] },
        {
          name: 'metrics',
          image: 'prom/statsd-exporter:v0.26',
          volumeMounts: [{ name: 'statsd', mountPath: '/etc/statsd' }],
        },
      ],
      volumes: [{ name: 'statsd', configMap: { name: 'statsd-mapping' } }],
    },
  ),
  // 6. Files and env together, custom volume path, no sidecar.
  billing: base(
    'billing',
    inj({
      'coffer.dev/agent-inject-secret-creds.json': 'secret/data/app',
      'coffer.dev/agent-inject-template-creds.json':
        '{{#with (secret "secret/data/app")}}{"user":"{{username}}"}{{/with}}',
      'coffer.dev/secret-volume-path': '/etc/billing/secrets',
      'coffer.dev/agent-pre-populate-only': 'true',
      'coffer.dev/inject-env-DB_PASSWORD': 'coffer://secret/app#password',
    }),
    {
      containers: [
        {
          name: 'billing',
          image: 'ghcr.io/example/billing:3',
          command: ['java', '-jar', '/app.jar'],
        },
      ],
    },
  ),
  // 7. A ReplicaSet's pod: generateName, no name, owner references, two containers both injected.
  rs: {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'frontend-7d9f8b6c5-',
      namespace: 'default',
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: 'frontend-7d9f8b6c5',
          uid: '0b0b0b0b-1111-2222-3333-444444444444',
          controller: true,
        },
      ],
      annotations: inj({ 'coffer.dev/agent-inject-secret-app.env': 'secret/data/app' }),
    },
    spec: {
      serviceAccountName: 'app',
      containers: [
        { name: 'frontend', image: 'ghcr.io/example/frontend:1', command: ['node', 'server.js'] },
        {
          name: 'proxy',
          image: 'envoyproxy/envoy:v1.30',
          command: ['envoy'],
          args: ['-c', '/etc/envoy.yaml'],
        },
      ],
    },
  },
  // 8. A batch Job pod with security contexts: files only, pre-populate only.
  job: base(
    'job',
    inj({
      'coffer.dev/agent-inject-secret-token': 'secret/data/report',
      'coffer.dev/agent-pre-populate-only': 'true',
    }),
    {
      restartPolicy: 'OnFailure',
      securityContext: { runAsNonRoot: true, fsGroup: 2000 },
      containers: [
        {
          name: 'job',
          image: 'ghcr.io/example/job:1',
          command: ['/job'],
          securityContext: { readOnlyRootFilesystem: true },
        },
      ],
    },
  ),
  // 9. A pod without annotations: left alone.
  plain: base('plain', undefined, {
    containers: [{ name: 'plain', image: 'busybox:1.36', command: ['sleep', '3600'] }],
  }),
  // 10. Already injected (a re-invocation): left alone.
  again: base(
    'again',
    inj({
      'coffer.dev/agent-inject-secret-db': 'secret/data/app',
      'coffer.dev/agent-inject-status': 'injected',
    }),
    { containers: [{ name: 'again', image: 'busybox:1.36', command: ['sleep', '3600'] }] },
  ),
  // 11. Env injection without a command to wrap: refused, naming the annotation to add.
  nocommand: base(
    'nocommand',
    inj({ 'coffer.dev/inject-env-DB_PASSWORD': 'coffer://secret/app#password' }),
    {
      containers: [{ name: 'nocommand', image: 'ghcr.io/example/api:1.4' }],
    },
  ),
  // 12. Injection asked in kube-system: refused.
  system: base('system', inj({ 'coffer.dev/agent-inject-secret-db': 'secret/data/app' }), {
    containers: [{ name: 'system', image: 'busybox:1.36', command: ['sleep', '3600'] }],
  }),
  // 13. Inject annotation without anything to inject: refused.
  empty: base('empty', inj({}), {
    containers: [{ name: 'empty', image: 'busybox:1.36', command: ['true'] }],
  }),
};

describe('injector: AdmissionReview → JSONPatch → kubectl patch --local', () => {
  const results: Record<string, Awaited<ReturnType<typeof inject>>> = {};

  beforeAll(async () => {
    for (const [name, pod] of Object.entries(pods)) {
      results[name] = await inject(pod, name === 'system' ? 'kube-system' : 'default');
    }
    console.log(
      `injector: ${Object.keys(pods).length} pods reviewed, ${Object.values(results).filter((r) => r.pod !== undefined).length} patched and applied by kubectl`,
    );
  }, 60_000);

  it('web: init container and sidecar render the default template into an in-memory volume', () => {
    const pod = results['web']!.pod!;
    expect(names(pod.spec.initContainers)).toEqual([INIT_CONTAINER]);
    expect(names(pod.spec.containers)).toEqual(['web', SIDECAR_CONTAINER]);
    const volume = pod.spec.volumes.find((v: PodJson) => v.name === SECRETS_VOLUME);
    expect(volume.emptyDir.medium).toBe('Memory');
    const token = pod.spec.volumes.find((v: PodJson) => v.name === TOKEN_VOLUME);
    expect(token.projected.sources[0].serviceAccountToken).toMatchObject({
      audience: 'coffer',
      path: 'token',
    });
    const web = pod.spec.containers[0];
    expect(web.command).toEqual(['nginx']);
    expect(web.args).toEqual(['-g', 'daemon off;']);
    expect(web.volumeMounts).toEqual([
      { name: SECRETS_VOLUME, mountPath: '/coffer/secrets', readOnly: true },
    ]);
    expect(pod.metadata.annotations['coffer.dev/agent-inject-status']).toBe('injected');
    const init = pod.spec.initContainers[0];
    expect(init.args).toEqual(['k8s', 'agent', '-exit-after-auth']);
    expect(init.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
    expect(pod.spec.containers[1].args).toEqual(['k8s', 'agent']);
  });

  it('api: appends after the existing init container and volumes, keeps the container env', () => {
    const pod = results['api']!.pod!;
    expect(names(pod.spec.initContainers)).toEqual(['migrate', INIT_CONTAINER]);
    expect(names(pod.spec.volumes)).toEqual(['cache', TOKEN_VOLUME, SECRETS_VOLUME]);
    expect(pod.spec.containers[0].volumeMounts.map((m: PodJson) => m.name)).toEqual([
      'cache',
      SECRETS_VOLUME,
    ]);
    expect(pod.spec.containers[0].env).toEqual([{ name: 'LOG_LEVEL', value: 'info' }]);
    const config = JSON.parse(pod.spec.initContainers[1].env[0].value);
    expect(config.template[0]).toMatchObject({
      destination: '/coffer/secrets/config.yaml',
      perms: '0640',
    });
  });

  it('report: env vars wrap the stated command in coffer k8s run; no agent containers', () => {
    const pod = results['report']!.pod!;
    expect(names(pod.spec.initContainers)).toEqual([RUNTIME_CONTAINER]);
    expect(names(pod.spec.containers)).toEqual(['report']);
    const c = pod.spec.containers[0];
    expect(c.command.slice(0, 5)).toEqual(runtimeCofferArgv());
    expect(c.command).toContain('-map=DB_PASSWORD=coffer://secret/app#password');
    expect(c.command).toContain('-map=API_KEY=coffer://secret/report#api_key');
    expect(c.command.slice(-2)).toEqual(['--', 'printenv']);
    expect(c.args).toEqual(['DB_PASSWORD', 'API_KEY', 'COFFER_TOKEN']);
    expect(names(pod.spec.volumes)).toEqual([TOKEN_VOLUME, RUNTIME_VOLUME]);
  });

  it('worker: the command comes from the annotation, args stay', () => {
    const c = results['worker']!.pod!.spec.containers[0];
    expect(c.command.slice(-4)).toEqual(['--', '/usr/local/bin/worker', '--queue', 'default']);
    expect(c.args).toEqual(['--concurrency', '4']);
  });

  it('shop: only the listed container gets the volume; the other is untouched', () => {
    const pod = results['shop']!.pod!;
    expect(pod.spec.containers[0].volumeMounts).toEqual([
      { name: SECRETS_VOLUME, mountPath: '/coffer/secrets', readOnly: true },
    ]);
    expect(pod.spec.containers[1]).toEqual(pods['shop']!.spec.containers[1]);
    expect(names(pod.spec.containers)).toEqual(['shop', 'metrics', SIDECAR_CONTAINER]);
  });

  it('billing: files at the custom path and env, no sidecar (pre-populate only)', () => {
    const pod = results['billing']!.pod!;
    expect(names(pod.spec.initContainers)).toEqual([RUNTIME_CONTAINER, INIT_CONTAINER]);
    expect(names(pod.spec.containers)).toEqual(['billing']);
    const mounts = pod.spec.containers[0].volumeMounts.map((m: PodJson) => m.mountPath);
    expect(mounts).toEqual(['/etc/billing/secrets', '/coffer/runtime', TOKEN_MOUNT_PATH]);
    expect(pod.spec.containers[0].command.slice(-4)).toEqual(['--', 'java', '-jar', '/app.jar']);
  });

  it('rs: a generateName pod with owner references; both containers get the files', () => {
    const pod = results['rs']!.pod!;
    expect(pod.metadata.ownerReferences).toEqual(pods['rs']!.metadata.ownerReferences);
    for (const c of pod.spec.containers.slice(0, 2)) {
      expect(c.volumeMounts).toEqual([
        { name: SECRETS_VOLUME, mountPath: '/coffer/secrets', readOnly: true },
      ]);
    }
    expect(pod.metadata.annotations['coffer.dev/agent-inject-status']).toBe('injected');
  });

  it('job: pre-populate only keeps the pod able to complete; security contexts are kept', () => {
    const pod = results['job']!.pod!;
    expect(names(pod.spec.containers)).toEqual(['job']);
    expect(pod.spec.securityContext).toEqual({ runAsNonRoot: true, fsGroup: 2000 });
    expect(pod.spec.containers[0].securityContext).toEqual({ readOnlyRootFilesystem: true });
  });

  it('plain and already-injected pods are allowed unchanged', () => {
    for (const name of ['plain', 'again']) {
      expect(results[name]!.response.allowed).toBe(true);
      expect(results[name]!.patch).toBeUndefined();
    }
  });

  it('misconfigured pods are refused with the annotation to fix', () => {
    expect(results['nocommand']!.response).toMatchObject({
      allowed: false,
      status: { code: 400, message: expect.stringContaining('coffer.dev/command-nocommand') },
    });
    expect(results['system']!.response.status.message).toContain('kube-system');
    expect(results['empty']!.response.status.message).toContain('coffer.dev/agent-inject-secret-');
  });

  it('the webhook refuses what is not an AdmissionReview v1 over JSON', async () => {
    expect((await post('/mutate', { kind: 'Pod' })).status).toBe(400);
    expect((await post('/mutate', review(pods['web']!), 'text/plain')).status).toBe(415);
    const update = await post('/mutate', review(pods['web']!, 'default', 'UPDATE'));
    expect(update.body.response).toEqual({ uid: expect.any(String), allowed: true });
  });

  it("the init container's exact command renders the files with a projected token", async () => {
    const pod = results['api']!.pod!;
    const init = pod.spec.initContainers.find((c: PodJson) => c.name === INIT_CONTAINER);
    const mounts = bindMounts(init.volumeMounts);
    mkdirSync(dir.file('api-token'), { recursive: true });
    await cluster.tokenFile(dir, 'api-token/token', 'default', 'app', 'coffer');
    const env: Record<string, string> = {};
    for (const e of init.env as { name: string; value: string }[])
      env[e.name] = rebind(e.value, mounts);
    const result = await runCli(init.args, env);
    expect(result.code, result.stderr).toBe(0);
    const file = `${mounts.get('/coffer/secrets')!}/config.yaml`;
    expect(readFileSync(file, 'utf8')).toBe(`db:\n  user: app\n  password: ${DB_PASSWORD}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(findCanaries(result.stderr + injector.log(), { DB_PASSWORD })).toEqual([]);

    // The default template of the web pod: one "key: value" line per key.
    const web = results['web']!.pod!;
    const webInit = web.spec.initContainers[0];
    const webMounts = bindMounts(webInit.volumeMounts);
    const webEnv = { [webInit.env[0].name]: rebind(webInit.env[0].value, webMounts) };
    const webRun = await runCli(webInit.args, webEnv);
    expect(webRun.code, webRun.stderr).toBe(0);
    expect(readFileSync(`${webMounts.get('/coffer/secrets')!}/db.conf`, 'utf8')).toBe(
      `username: app\npassword: ${DB_PASSWORD}\n`,
    );
  });

  it("the env wrapper's exact arguments log in and run the program with the secrets only", async () => {
    const pod = results['report']!.pod!;
    const c = pod.spec.containers[0];
    const tokenDir = createTempDir('coffer-k8s-token-');
    await cluster.tokenFile(tokenDir, 'token', 'default', 'app', 'coffer');
    // The copied runtime's loader+node+coffer.js prefix is this machine's node and coffer.js;
    // everything after it is the container's command exactly (the token path rebound).
    const rest = (c.command as string[])
      .slice(runtimeCofferArgv().length)
      .map((a) => a.replace(`${TOKEN_MOUNT_PATH}/token`, tokenDir.file('token')));
    const result = await runCli([...rest, ...c.args], {});
    tokenDir.remove();
    expect(result.code, result.stderr).toBe(1); // printenv: COFFER_TOKEN is not set
    expect(result.stdout).toBe(`${DB_PASSWORD}\n${API_KEY}\n`);
  });
});

/** Host directories standing in for the container's volume mounts (as a kubelet binds them). */
function bindMounts(volumeMounts: { name: string; mountPath: string }[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const m of volumeMounts) {
    const host = createTempDir(`coffer-k8s-vol-${m.name}-`);
    volumeDirs.push(host);
    map.set(m.mountPath, host.path);
    if (m.name === TOKEN_VOLUME) map.set(`${m.mountPath}/token`, dir.file('api-token/token'));
  }
  return map;
}

function rebind(text: string, mounts: Map<string, string>): string {
  let out = text;
  // Longest first, so the token file wins over its directory.
  for (const [from, to] of [...mounts].sort((a, b) => b[0].length - a[0].length)) {
    out = out.split(from).join(to);
  }
  return out;
}

function runCli(args: string[], env: Record<string, string>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [COFFER_BIN, ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`coffer ${args.slice(0, 2).join(' ')} timed out: ${stderr}`));
    }, 20_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
