// The mutating admission webhook's decision: from a pod's `coffer.dev/` annotations to the
// JSONPatch that adds (a) an init container rendering files into an in-memory emptyDir, (b)
// optionally a sidecar keeping them fresh, and (c) environment variables by wrapping container
// commands in `coffer k8s run` (log in with the pod's token, then `coffer run`). Pure: no I/O.
import { isReference, parseReference } from '../client/index.js';

export const ANNOTATION_PREFIX = 'coffer.dev/';
export const STATUS_ANNOTATION = 'coffer.dev/agent-inject-status';
export const INJECTED = 'injected';

/** Names of what the patch adds (fixed so that re-invocation and docs can rely on them). */
export const SECRETS_VOLUME = 'coffer-secrets';
export const TOKEN_VOLUME = 'coffer-token';
export const RUNTIME_VOLUME = 'coffer-runtime';
export const INIT_CONTAINER = 'coffer-agent-init';
export const SIDECAR_CONTAINER = 'coffer-agent';
export const RUNTIME_CONTAINER = 'coffer-runtime-copy';
export const TOKEN_MOUNT_PATH = '/var/run/secrets/coffer.dev/serviceaccount';
export const RUNTIME_MOUNT_PATH = '/coffer/runtime';
export const DEFAULT_SECRET_VOLUME_PATH = '/coffer/secrets';
/** The environment variable that carries the agent configuration (JSON) into the containers. */
export const AGENT_CONFIG_ENV = 'COFFER_AGENT_CONFIG';

/** How the injector is set up (flags of `coffer k8s injector`). */
export interface InjectorSettings {
  /** The Coffer address pods use, e.g. "https://coffer.coffer.svc:8200". */
  readonly address: string;
  /** The Coffer image (its ENTRYPOINT runs `coffer`). */
  readonly image: string;
  /** Default auth mount, e.g. "auth/kubernetes". */
  readonly authPath: string;
  /** Audience of the projected service-account token pods log in with. */
  readonly tokenAudience: string;
  /** Lifetime of that token; the kubelet renews it at 80 %. Minimum 600. */
  readonly tokenExpirationSeconds: number;
}

/** A pod as the API server sends it (only what the injector reads or writes is typed). */
export interface PodLike {
  readonly metadata?: {
    readonly name?: string;
    readonly generateName?: string;
    readonly namespace?: string;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly spec?: {
    readonly containers?: readonly ContainerLike[];
    readonly initContainers?: readonly ContainerLike[];
    readonly volumes?: readonly unknown[];
    readonly serviceAccountName?: string;
  };
  readonly status?: { readonly phase?: string };
}

export interface ContainerLike {
  readonly name: string;
  readonly image?: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly volumeMounts?: readonly unknown[];
  readonly env?: readonly unknown[];
}

export interface PatchOperation {
  readonly op: 'add' | 'replace';
  readonly path: string;
  readonly value: unknown;
}

/** A pod the injector refuses, with the reason (shown by kubectl to whoever created the pod). */
export class InjectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InjectionError';
  }
}

/** One file to render: name (under the secret volume path), template text, mode. */
interface FileSpec {
  readonly name: string;
  readonly contents: string;
  readonly perms: string;
}

/** What the annotations ask for, checked. */
export interface InjectionPlan {
  readonly role: string;
  readonly authPath: string;
  readonly address: string;
  readonly image: string;
  readonly volumePath: string;
  readonly files: readonly FileSpec[];
  readonly sidecar: boolean;
  /** NAME → coffer:// reference. */
  readonly env: Readonly<Record<string, string>>;
  /** Containers that get the files and the env wrapping. */
  readonly containers: readonly string[];
  /** container name → command to use when the pod states none (from annotations). */
  readonly commands: Readonly<Record<string, readonly string[]>>;
}

const NAMESPACES_REFUSED = new Set(['kube-system', 'kube-public']);
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PERMS = /^0?[0-7]{3}$/;

function truthy(value: string | undefined): boolean {
  return value !== undefined && ['true', '1', 'yes', 'on'].includes(value.trim().toLowerCase());
}

/** The default file template: one `key: value` line per key (Vault Agent Injector's "map"). */
export function defaultTemplate(apiPath: string): string {
  return `{{#each (secret ${JSON.stringify(apiPath)})}}{{@key}}: {{this}}\n{{/each}}`;
}

/** RFC 6901: "~" → "~0", "/" → "~1". */
export function escapePointer(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

function annotationsOf(pod: PodLike): Readonly<Record<string, string>> {
  return pod.metadata?.annotations ?? {};
}

/** Whether the pod asks for injection and has not had it yet. */
export function wantsInjection(pod: PodLike): boolean {
  const a = annotationsOf(pod);
  if (!truthy(a['coffer.dev/agent-inject'])) return false;
  if (a[STATUS_ANNOTATION] === INJECTED) return false;
  const phase = pod.status?.phase;
  return phase === undefined || phase === '' || phase === 'Pending';
}

/**
 * Reads the annotations into a plan. Throws InjectionError naming the annotation at fault.
 * SECURITY: messages quote annotation names and paths, never rendered values (none exist here).
 */
export function planInjection(pod: PodLike, settings: InjectorSettings): InjectionPlan {
  const a = annotationsOf(pod);
  const namespace = pod.metadata?.namespace ?? '';
  if (NAMESPACES_REFUSED.has(namespace)) {
    throw new InjectionError(`injection into namespace ${namespace} is not allowed`);
  }
  const role = (a['coffer.dev/role'] ?? '').trim();
  if (role === '') throw new InjectionError('annotation coffer.dev/role is required');
  const containerNames = (pod.spec?.containers ?? []).map((c) => c.name);
  const files: FileSpec[] = [];
  const env: Record<string, string> = {};
  const commands: Record<string, readonly string[]> = {};
  for (const [key, value] of Object.entries(a)) {
    if (!key.startsWith(ANNOTATION_PREFIX)) continue;
    const name = key.slice(ANNOTATION_PREFIX.length);
    if (name.startsWith('agent-inject-secret-')) {
      const file = name.slice('agent-inject-secret-'.length);
      if (!FILE_NAME.test(file)) {
        throw new InjectionError(`annotation ${key}: "${file}" is not a valid file name`);
      }
      const path = value.trim().replace(/^\/+|\/+$/g, '');
      if (path === '') throw new InjectionError(`annotation ${key} needs a secret path`);
      const template = a[`coffer.dev/agent-inject-template-${file}`];
      const perms = (a[`coffer.dev/agent-inject-perms-${file}`] ?? '0644').trim();
      if (!PERMS.test(perms)) {
        throw new InjectionError(`annotation coffer.dev/agent-inject-perms-${file} must be octal`);
      }
      files.push({
        name: file,
        contents: template !== undefined && template !== '' ? template : defaultTemplate(path),
        perms: perms.padStart(4, '0'),
      });
    } else if (name.startsWith('agent-inject-template-')) {
      const file = name.slice('agent-inject-template-'.length);
      if (a[`coffer.dev/agent-inject-secret-${file}`] === undefined) {
        throw new InjectionError(
          `annotation ${key} has no matching coffer.dev/agent-inject-secret-${file}`,
        );
      }
    } else if (name.startsWith('inject-env-')) {
      const variable = name.slice('inject-env-'.length);
      if (!ENV_NAME.test(variable)) {
        throw new InjectionError(`annotation ${key}: "${variable}" is not a variable name`);
      }
      const ref = value.trim();
      if (!isReference(ref)) {
        throw new InjectionError(`annotation ${key} must be a coffer://mount/path#key reference`);
      }
      try {
        parseReference(ref);
      } catch (error) {
        throw new InjectionError(`annotation ${key}: ${(error as Error).message}`);
      }
      env[variable] = ref;
    } else if (name.startsWith('command-')) {
      const container = name.slice('command-'.length);
      if (!containerNames.includes(container)) {
        throw new InjectionError(`annotation ${key} names no container of this pod`);
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(value);
      } catch {
        throw new InjectionError(`annotation ${key} must be a JSON list of strings`);
      }
      if (
        !Array.isArray(parsed) ||
        parsed.length === 0 ||
        !parsed.every((s) => typeof s === 'string' && s !== '')
      ) {
        throw new InjectionError(`annotation ${key} must be a non-empty JSON list of strings`);
      }
      commands[container] = parsed as string[];
    }
  }
  if (files.length === 0 && Object.keys(env).length === 0) {
    throw new InjectionError(
      'coffer.dev/agent-inject is true but no coffer.dev/agent-inject-secret-* or coffer.dev/inject-env-* annotation says what to inject',
    );
  }
  const listed = a['coffer.dev/agent-inject-containers'];
  const containers =
    listed === undefined || listed.trim() === ''
      ? containerNames
      : listed
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
  for (const c of containers) {
    if (!containerNames.includes(c)) {
      throw new InjectionError(
        `annotation coffer.dev/agent-inject-containers names no container "${c}"`,
      );
    }
  }
  const volumePath = (a['coffer.dev/secret-volume-path'] ?? DEFAULT_SECRET_VOLUME_PATH).trim();
  if (!volumePath.startsWith('/') || volumePath.includes('..')) {
    throw new InjectionError('annotation coffer.dev/secret-volume-path must be an absolute path');
  }
  const authPath = (a['coffer.dev/auth-path'] ?? settings.authPath)
    .trim()
    .replace(/^\/+|\/+$/g, '');
  return {
    role,
    authPath: authPath.startsWith('auth/') ? authPath : `auth/${authPath}`,
    address: (a['coffer.dev/service'] ?? settings.address).trim(),
    image: (a['coffer.dev/agent-image'] ?? settings.image).trim(),
    volumePath: volumePath.replace(/\/+$/, ''),
    files,
    sidecar: files.length > 0 && !truthy(a['coffer.dev/agent-pre-populate-only']),
    env,
    containers,
    commands,
  };
}

/** The agent configuration (JSON form of agent.hcl) the init container and sidecar run. */
export function agentConfig(plan: InjectionPlan): Record<string, unknown> {
  return {
    vault: { address: plan.address },
    auto_auth: {
      method: {
        type: 'kubernetes',
        mount_path: plan.authPath,
        config: { role: plan.role, token_path: `${TOKEN_MOUNT_PATH}/token` },
      },
    },
    template: plan.files.map((f) => ({
      contents: f.contents,
      destination: `${plan.volumePath}/${f.name}`,
      perms: f.perms,
    })),
  };
}

/** What every container the injector adds runs with: no root, nothing writable but its volumes. */
const SECURITY_CONTEXT = {
  runAsNonRoot: true,
  runAsUser: 65532,
  runAsGroup: 65532,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

const RESOURCES = {
  requests: { cpu: '50m', memory: '64Mi' },
  limits: { cpu: '500m', memory: '128Mi' },
};

function agentContainer(plan: InjectionPlan, name: string, init: boolean): Record<string, unknown> {
  return {
    name,
    image: plan.image,
    args: ['k8s', 'agent', ...(init ? ['-exit-after-auth'] : [])],
    env: [{ name: AGENT_CONFIG_ENV, value: JSON.stringify(agentConfig(plan)) }],
    resources: RESOURCES,
    securityContext: SECURITY_CONTEXT,
    volumeMounts: [
      { name: SECRETS_VOLUME, mountPath: plan.volumePath },
      { name: TOKEN_VOLUME, mountPath: TOKEN_MOUNT_PATH, readOnly: true },
    ],
  };
}

/** The argv that runs `coffer` from the copied runtime, on any Linux image (see runtime.ts). */
export function runtimeCofferArgv(): string[] {
  return [
    `${RUNTIME_MOUNT_PATH}/lib/ld.so`,
    '--library-path',
    `${RUNTIME_MOUNT_PATH}/lib`,
    `${RUNTIME_MOUNT_PATH}/node`,
    `${RUNTIME_MOUNT_PATH}/app/bin/coffer.js`,
  ];
}

/** `coffer k8s run` flags for a container: log in, then `coffer run -map ... --`. */
export function wrapperArgs(plan: InjectionPlan): string[] {
  const maps = Object.keys(plan.env)
    .sort()
    .map((name) => `-map=${name}=${plan.env[name]!}`);
  return [
    'k8s',
    'run',
    `-address=${plan.address}`,
    `-auth-path=${plan.authPath}`,
    `-role=${plan.role}`,
    `-jwt-file=${TOKEN_MOUNT_PATH}/token`,
    ...maps,
    '--',
  ];
}

/**
 * The JSONPatch for `pod` (already known to want injection). Arrays the pod lacks are added
 * whole (RFC 6902 `add` needs the parent to exist); existing ones get `/-` appends.
 */
export function buildPatch(pod: PodLike, plan: InjectionPlan, settings: InjectorSettings) {
  const ops: PatchOperation[] = [];
  const spec = pod.spec ?? {};
  const append = (base: string, present: boolean, items: readonly unknown[]) => {
    if (items.length === 0) return;
    if (!present) {
      ops.push({ op: 'add', path: base, value: items });
      return;
    }
    for (const item of items) ops.push({ op: 'add', path: `${base}/-`, value: item });
  };
  const volumes: unknown[] = [
    {
      name: TOKEN_VOLUME,
      projected: {
        sources: [
          {
            serviceAccountToken: {
              audience: settings.tokenAudience,
              expirationSeconds: settings.tokenExpirationSeconds,
              path: 'token',
            },
          },
        ],
      },
    },
  ];
  if (plan.files.length > 0) {
    volumes.push({ name: SECRETS_VOLUME, emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } });
  }
  const wrapEnv = Object.keys(plan.env).length > 0;
  if (wrapEnv) volumes.push({ name: RUNTIME_VOLUME, emptyDir: { sizeLimit: '512Mi' } });
  append('/spec/volumes', spec.volumes !== undefined, volumes);

  const containers = spec.containers ?? [];
  containers.forEach((container, index) => {
    if (!plan.containers.includes(container.name)) return;
    const mounts: unknown[] = [];
    if (plan.files.length > 0) {
      mounts.push({ name: SECRETS_VOLUME, mountPath: plan.volumePath, readOnly: true });
    }
    if (wrapEnv) {
      mounts.push({ name: RUNTIME_VOLUME, mountPath: RUNTIME_MOUNT_PATH, readOnly: true });
      mounts.push({ name: TOKEN_VOLUME, mountPath: TOKEN_MOUNT_PATH, readOnly: true });
      const original = container.command ?? plan.commands[container.name];
      if (original === undefined || original.length === 0) {
        throw new InjectionError(
          `container ${container.name} states no command: give its image's command as annotation coffer.dev/command-${container.name} (a JSON list)`,
        );
      }
      ops.push({
        op: 'add',
        path: `/spec/containers/${index}/command`,
        value: [...runtimeCofferArgv(), ...wrapperArgs(plan), ...original],
      });
    }
    append(`/spec/containers/${index}/volumeMounts`, container.volumeMounts !== undefined, mounts);
  });

  const inits: unknown[] = [];
  if (wrapEnv) {
    inits.push({
      name: RUNTIME_CONTAINER,
      image: plan.image,
      args: ['k8s', 'copy-runtime', RUNTIME_MOUNT_PATH],
      resources: RESOURCES,
      securityContext: SECURITY_CONTEXT,
      volumeMounts: [{ name: RUNTIME_VOLUME, mountPath: RUNTIME_MOUNT_PATH }],
    });
  }
  if (plan.files.length > 0) inits.push(agentContainer(plan, INIT_CONTAINER, true));
  append('/spec/initContainers', spec.initContainers !== undefined, inits);
  if (plan.sidecar) {
    ops.push({
      op: 'add',
      path: '/spec/containers/-',
      value: agentContainer(plan, SIDECAR_CONTAINER, false),
    });
  }
  if (pod.metadata?.annotations === undefined) {
    ops.push({
      op: 'add',
      path: '/metadata/annotations',
      value: { [STATUS_ANNOTATION]: INJECTED },
    });
  } else {
    ops.push({
      op: 'add',
      path: `/metadata/annotations/${escapePointer(STATUS_ANNOTATION)}`,
      value: INJECTED,
    });
  }
  return ops;
}

/** The patch for a pod, or undefined when it wants nothing. Throws InjectionError. */
export function mutatePod(pod: PodLike, settings: InjectorSettings): PatchOperation[] | undefined {
  if (!wantsInjection(pod)) return undefined;
  return buildPatch(pod, planInjection(pod, settings), settings);
}
