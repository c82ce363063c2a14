// Every Kustomize overlay under deploy/kubernetes renders with `kubectl kustomize` (offline),
// and every rendered object passes Kubernetes' published OpenAPI schema (kubernetes-models'
// validators); CofferSecret objects pass the CRD's own openAPIV3Schema (ajv). The server's
// configuration in the SQLite overlay parses with Coffer's own configuration parser.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseServerConfig } from '../../src/config/config.js';
import { isCi } from '../helpers/services.js';
import { REPO_ROOT } from '../helpers/server-process.js';

type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
} & Record<string, unknown>;

interface WebhookJson {
  rules: { operations: string[] }[];
  failurePolicy: string;
  namespaceSelector: { matchExpressions: { values: string[] }[] };
  clientConfig: { service: Record<string, unknown> };
}

const DEPLOY = join(REPO_ROOT, 'deploy/kubernetes');
const OVERLAYS = readdirSync(join(DEPLOY, 'overlays')).sort();

function kubectlAvailable(): boolean {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return true;
  } catch {
    if (isCi()) throw new Error('kubectl is required when CI=true');
    console.warn('skipping the Kustomize tests: kubectl is not installed');
    return false;
  }
}

function render(overlay: string): Manifest[] {
  const text = execFileSync('kubectl', ['kustomize', join(DEPLOY, 'overlays', overlay)], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  return parseAllDocuments(text).map((doc) => doc.toJSON() as Manifest);
}

/** The kubernetes-models class for apiVersion/kind, e.g. apps/v1 Deployment. */
async function modelFor(apiVersion: string, kind: string) {
  const path = apiVersion.includes('/') ? apiVersion : apiVersion;
  const module = (await import(`kubernetes-models/${path}`)) as Record<
    string,
    (new (data: unknown) => { validate(): void }) | undefined
  >;
  const model = module[kind];
  if (model === undefined) throw new Error(`no published schema for ${apiVersion} ${kind}`);
  return model;
}

/**
 * Kubernetes' strict field validation (kubectl's default since 1.27) refuses fields a
 * structural schema does not declare; ajv does the same with additionalProperties: false on
 * every object schema that lists its properties.
 */
function strict(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strict);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema))
    out[k] =
      k === 'properties'
        ? Object.fromEntries(Object.entries(v as object).map(([p, s]) => [p, strict(s)]))
        : strict(v);
  if (out['properties'] !== undefined && out['additionalProperties'] === undefined) {
    // metadata is checked by the API server itself.
    out['additionalProperties'] = false;
  }
  return out;
}

function crdSchema(): object {
  const crd = parseAllDocuments(
    readFileSync(join(DEPLOY, 'base/crd/coffersecrets.yaml'), 'utf8'),
  )[0]!.toJSON() as {
    spec: { versions: { name: string; schema: { openAPIV3Schema: object } }[] };
  };
  return crd.spec.versions.find((v) => v.name === 'v1alpha1')!.schema.openAPIV3Schema;
}

const available = kubectlAvailable();

describe.skipIf(!available)('deploy/kubernetes overlays', () => {
  const rendered = new Map<string, Manifest[]>();
  let validated = 0;

  it.each(OVERLAYS)('%s renders and every object passes the Kubernetes schema', async (overlay) => {
    const objects = render(overlay);
    rendered.set(overlay, objects);
    expect(objects.length).toBeGreaterThan(0);
    for (const object of objects) {
      const Model = await modelFor(object.apiVersion, object.kind);
      expect(() => {
        new Model(object).validate();
      }, `${overlay}: ${object.kind} ${object.metadata.name}`).not.toThrow();
      validated += 1;
      if (object.metadata.namespace !== undefined) expect(object.metadata.namespace).toBe('coffer');
    }
    console.log(
      `kustomize: ${overlay}: ${objects.length} objects valid (${objects.map((o) => o.kind).join(', ')})`,
    );
  });

  it('the overlays hold what each path needs', () => {
    const kinds = (overlay: string) => new Set(rendered.get(overlay)!.map((o) => o.kind));
    expect([...kinds('server-sqlite')]).toEqual(
      expect.arrayContaining([
        'Namespace',
        'StatefulSet',
        'Service',
        'ConfigMap',
        'ClusterRoleBinding',
        'NetworkPolicy',
      ]),
    );
    expect([...kinds('operator')]).toEqual(
      expect.arrayContaining([
        'CustomResourceDefinition',
        'ClusterRole',
        'ClusterRoleBinding',
        'Deployment',
        'NetworkPolicy',
      ]),
    );
    expect([...kinds('injector')]).toEqual(
      expect.arrayContaining([
        'MutatingWebhookConfiguration',
        'Deployment',
        'Service',
        'NetworkPolicy',
      ]),
    );
    const postgres = rendered.get('server-postgres')!.find((o) => o.kind === 'StatefulSet')!;
    expect((postgres['spec'] as Record<string, unknown>)['volumeClaimTemplates']).toBeUndefined();
    console.log(
      `kustomize: ${validated} rendered objects validated across ${OVERLAYS.length} overlays`,
    );
  });

  it('the webhook takes pods on CREATE only, excludes its own namespace, and fails closed', () => {
    const webhook = rendered
      .get('injector')!
      .find((o) => o.kind === 'MutatingWebhookConfiguration')!;
    const hook = (webhook['webhooks'] as WebhookJson[])[0]!;
    expect(hook.rules[0]!.operations).toEqual(['CREATE']);
    expect(hook.failurePolicy).toBe('Fail');
    expect(hook.namespaceSelector.matchExpressions[0]!.values).toContain('coffer');
    expect(hook.clientConfig.service).toMatchObject({
      name: 'coffer-injector',
      path: '/mutate',
    });
  });

  it("the SQLite configuration parses with the server's own parser", () => {
    const configMap = rendered.get('server-sqlite')!.find((o) => o.kind === 'ConfigMap')!;
    const config = parseServerConfig(
      (configMap['data'] as Record<string, string>)['coffer.hcl']!,
      {},
    );
    expect(config.storage).toMatchObject({ type: 'sqlite', path: '/coffer/data/coffer.db' });
  });
});

describe('CofferSecret objects against the CRD schema', () => {
  const validate = new Ajv({ strict: false, validateFormats: false }).compile(
    strict(crdSchema()) as object,
  );
  const example = parseAllDocuments(
    readFileSync(join(DEPLOY, 'examples/coffersecret.yaml'), 'utf8'),
  )[0]!.toJSON() as Manifest;

  it('the example is valid', () => {
    expect(validate(example), JSON.stringify(validate.errors)).toBe(true);
  });

  it.each([
    ['no sources', { sources: [] }],
    ['a source without a path', { sources: [{ keys: { A: 'a' } }] }],
    ['an unknown field', { sources: [{ path: 'a/b' }], tagret: { name: 'x' } }],
    [
      'a bad workload kind',
      { sources: [{ path: 'a/b' }], rolloutRestartTargets: [{ kind: 'Pod', name: 'x' }] },
    ],
    ['a version of 0', { sources: [{ path: 'a/b', version: 0 }] }],
  ])('refuses %s', (_name, spec) => {
    expect(validate({ ...example, spec })).toBe(false);
  });
});
