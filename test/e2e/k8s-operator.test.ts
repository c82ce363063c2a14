// The operator end to end: `coffer k8s operator` (a real process, @kubernetes/client-node
// through a kubeconfig) against the loopback Kubernetes API stand-in and a real Coffer server,
// logged in with the Kubernetes auth method and its own projected token. A CofferSecret creates
// its Secret; a write in Coffer reaches the Secret in under a second (latencies printed); a 409
// is retried; a burst of changes is one rollout restart; a 410 relists; a dynamic PostgreSQL
// credential is replaced before it expires and the old user revoked; a restarted operator
// resumes without writing, restarting or issuing anything; deleting the resource removes the
// Secret and revokes its lease. The stand-in refused no call.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/sdk/json.js';
import { startCluster, type Cluster } from '../helpers/k8s-cluster.js';
import {
  COFFER_BIN,
  createTempDir,
  encodedForms,
  findCanaries,
  REPO_ROOT,
} from '../helpers/server-process.js';
import { fixtureFor } from '../integration/database-fixtures.js';

const PREFIX = 'ck8sop';
const dir = createTempDir('coffer-k8s-operator-');
const pgFixture = await fixtureFor('postgres', PREFIX);
const canaries: Record<string, string> = {};
let cluster: Cluster;
let operator: OperatorProcess;
let logs = '';

interface OperatorProcess {
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

function startOperator(): Promise<OperatorProcess> {
  const child = spawn(
    process.execPath,
    [
      COFFER_BIN,
      'k8s',
      'operator',
      `-kubeconfig=${dir.file('kubeconfig')}`,
      '-namespace=coffer',
      '-role=operator',
      `-jwt-file=${dir.file('operator-token')}`,
      `-address=${cluster.coffer.url}`,
      '-resync=1m',
      '-restart-interval=3s',
      '-revoke-grace=1s',
      '-scope=secret/',
      '-scope=database/creds/',
    ],
    { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    out += chunk;
    logs += chunk;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`the operator did not start: ${out}`));
    }, 20_000);
    child.stderr.on('data', () => {
      if (out.includes('watching CofferSecret resources')) {
        clearTimeout(timer);
        resolve({
          child,
          stop: () =>
            new Promise<void>((done) => {
              if (child.exitCode !== null) {
                done();
                return;
              }
              child.once('close', () => {
                done();
              });
              child.kill('SIGTERM');
            }),
        });
      }
    });
    child.once('exit', () => {
      reject(new Error(`the operator exited: ${out}`));
    });
  });
}

async function until<T>(what: string, check: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function secretData(name: string): Record<string, string> | undefined {
  const secret = cluster.api.get('secrets', 'default', name);
  if (secret === undefined) return undefined;
  const data = (secret['data'] ?? {}) as Record<string, string>;
  return Object.fromEntries(
    Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
  );
}

function cofferSecret(name: string, spec: JsonObject): JsonObject {
  return {
    apiVersion: 'coffer.dev/v1alpha1',
    kind: 'CofferSecret',
    metadata: { name, namespace: 'default' },
    spec,
  };
}

function readyCondition(name: string): Record<string, unknown> | undefined {
  const cs = cluster.api.get('coffersecrets', 'default', name);
  const conditions = ((cs?.['status'] as Record<string, unknown> | undefined)?.['conditions'] ??
    []) as Record<string, unknown>[];
  return conditions.find((c) => c['type'] === 'Ready');
}

function restartValue(): string | undefined {
  const d = cluster.api.get('deployments', 'default', 'app');
  const template = (
    d?.['spec'] as { template: { metadata?: { annotations?: Record<string, string> } } }
  ).template;
  return template.metadata?.annotations?.['coffer.dev/restart-app'];
}

beforeAll(async () => {
  cluster = await startCluster();
  cluster.api.bookmarkMs = 200;
  await cluster.call('PUT', 'sys/policies/acl/operator', {
    policy: [
      'path "secret/data/*" { capabilities = ["read"] }',
      'path "database/creds/*" { capabilities = ["read"] }',
      'path "sys/leases/revoke" { capabilities = ["update"] }',
    ].join('\n'),
  });
  await cluster.call('POST', 'auth/kubernetes/role/operator', {
    bound_service_account_names: ['coffer-operator'],
    bound_service_account_namespaces: ['coffer'],
    audience: 'coffer',
    token_policies: ['operator'],
    token_period: '1h',
  });
  await cluster.tokenFile(dir, 'operator-token', 'coffer', 'coffer-operator', 'coffer');
  writeFileSync(dir.file('kubeconfig'), cluster.api.kubeconfig());
  canaries['password'] = `pw-${Math.random().toString(36).slice(2)}-canary`;
  await cluster.call('POST', 'secret/data/app', {
    data: { username: 'app', password: canaries['password'] },
  });
  cluster.api.seed('deployments', {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'app', namespace: 'default' },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'app' } },
      template: {
        metadata: { labels: { app: 'app' } },
        spec: { containers: [{ name: 'app', image: 'ghcr.io/example/app:1' }] },
      },
    },
  });
  operator = await startOperator();
}, 60_000);

afterAll(async () => {
  if (process.env.K8S_DEBUG) console.log(logs);
  await operator?.stop();
  await cluster?.close();
  await pgFixture.teardown();
  dir.remove();
});

describe('operator: CofferSecret → Secret, pushed by change events', () => {
  it('creates the Secret with owner reference, labels, templates and a Ready condition', async () => {
    cluster.api.seed(
      'coffersecrets',
      cofferSecret('app', {
        sources: [{ path: 'secret/app' }],
        target: {
          name: 'app-secrets',
          labels: { team: 'shop' },
          templates: { DSN: 'postgres://{{username}}:{{password}}@db:5432/app' },
        },
        rolloutRestartTargets: [{ kind: 'Deployment', name: 'app' }],
      }),
    );
    const data = await until('Secret created', () => secretData('app-secrets'));
    expect(data).toEqual({
      username: 'app',
      password: canaries['password'],
      DSN: `postgres://app:${canaries['password']}@db:5432/app`,
    });
    const secret = cluster.api.get('secrets', 'default', 'app-secrets')!;
    const cs = cluster.api.get('coffersecrets', 'default', 'app')!;
    expect(secret.metadata['ownerReferences']).toEqual([
      expect.objectContaining({
        kind: 'CofferSecret',
        name: 'app',
        uid: cs.metadata['uid'],
        controller: true,
      }),
    ]);
    expect(secret.metadata['labels']).toEqual({
      team: 'shop',
      'app.kubernetes.io/managed-by': 'coffer-operator',
    });
    expect(cs.metadata['finalizers']).toEqual(['coffer.dev/cleanup']);
    const ready = await until('Ready', () =>
      readyCondition('app')?.['status'] === 'True' ? readyCondition('app') : undefined,
    );
    expect(ready).toMatchObject({ reason: 'SecretSynced', observedGeneration: 1 });
    // The first sync sets the workload's restart annotation (the app started before its Secret).
    await until('first restart', () => restartValue());
  });

  it('a write in Coffer reaches the Secret in under a second', async () => {
    const latencies: number[] = [];
    for (let i = 0; i < 8; i++) {
      const value = `pw-${i}-${Math.random().toString(36).slice(2)}`;
      canaries[`password-${i}`] = value;
      const started = performance.now();
      await cluster.call('POST', 'secret/data/app', { data: { username: 'app', password: value } });
      await until(
        'update',
        () => (secretData('app-secrets')?.['password'] === value ? true : undefined),
        5_000,
      );
      latencies.push(performance.now() - started);
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    const p50 = sorted[Math.floor(sorted.length / 2)]!;
    const max = sorted[sorted.length - 1]!;
    console.log(
      `operator: Coffer write → Secret updated, ${latencies.length} writes: p50 ${p50.toFixed(0)} ms, max ${max.toFixed(0)} ms`,
    );
    expect(max).toBeLessThan(1_000);
  });

  it('a burst of changes is one rollout restart with the last value', async () => {
    const patchesBefore = cluster.api.count('patch', 'deployments');
    // Wait out the restart interval of the writes above, then burst.
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    const settled = cluster.api.count('patch', 'deployments');
    for (let i = 0; i < 5; i++) {
      await cluster.call('POST', 'secret/data/app', {
        data: { username: 'app', password: `burst-${i}` },
      });
    }
    await until('burst synced', () =>
      secretData('app-secrets')?.['password'] === 'burst-4' ? true : undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const mac = cluster.api.get('secrets', 'default', 'app-secrets')!.metadata[
      'annotations'
    ] as Record<string, string>;
    expect(cluster.api.count('patch', 'deployments') - settled).toBe(1);
    expect(restartValue()).toBe(mac['coffer.dev/data-mac']);
    console.log(`operator: ${settled - patchesBefore + 1} rollout restarts for ${8 + 5} changes`);
  });

  it('a 409 on the Secret is retried with a fresh read', async () => {
    const conflictsBefore = cluster.api.requests.filter(
      (r) => r.plural === 'secrets' && r.status === 409,
    ).length;
    cluster.api.conflictOnNextUpdate('secrets', 'default', 'app-secrets');
    await cluster.call('POST', 'secret/data/app', {
      data: { username: 'app', password: 'after-conflict' },
    });
    await until('retried', () =>
      secretData('app-secrets')?.['password'] === 'after-conflict' ? true : undefined,
    );
    const conflicts = cluster.api.requests.filter(
      (r) => r.plural === 'secrets' && r.status === 409,
    ).length;
    expect(conflicts - conflictsBefore).toBe(1);
    expect(logs).toContain('changed under us (409)');
  });

  it('a Secret deleted or edited by hand is put back', async () => {
    cluster.api.remove('secrets', 'default', 'app-secrets');
    await until('recreated', () => secretData('app-secrets'));
    const edited = cluster.api.get('secrets', 'default', 'app-secrets')!;
    cluster.api.seed('secrets', {
      ...edited,
      data: { password: Buffer.from('tampered').toString('base64') },
    });
    await until('repaired', () =>
      secretData('app-secrets')?.['password'] === 'after-conflict' ? true : undefined,
    );
    expect(secretData('app-secrets')?.['password']).toBe('after-conflict');
  });

  it('a compacted watch history (410) makes it list again, and changes still arrive', async () => {
    // Bookmarks would keep the operator's resourceVersion current (that is what they are
    // for); without them, a change it does not watch leaves it behind the compaction.
    cluster.api.bookmarksPaused = true;
    await new Promise((resolve) => setTimeout(resolve, 300));
    cluster.api.seed('deployments', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'unrelated', namespace: 'default' },
      spec: { template: { spec: { containers: [] } } },
    });
    cluster.api.compact();
    cluster.api.dropWatches();
    cluster.api.bookmarksPaused = false;
    await until('relisted', () => (logs.includes('(410); listing again') ? true : undefined));
    await cluster.call('POST', 'secret/data/app', {
      data: { username: 'app', password: 'after-410' },
    });
    await until('after 410', () =>
      secretData('app-secrets')?.['password'] === 'after-410' ? true : undefined,
    );
    expect(logs).toContain('(410); listing again');
    expect(secretData('app-secrets')?.['password']).toBe('after-410');
  });

  it('a spec it cannot act on gets Ready=False with the field named', async () => {
    cluster.api.seed(
      'coffersecrets',
      cofferSecret('bad', { sources: [{ path: 'kv/other-team/app' }] }),
    );
    const ready = await until('InvalidSpec', () => readyCondition('bad'));
    expect(ready).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(ready['message']).toContain('spec.sources[0].path is outside');
    cluster.api.remove('coffersecrets', 'default', 'bad');
    await until('bad removed', () =>
      cluster.api.get('coffersecrets', 'default', 'bad') === undefined ? true : undefined,
    );
  });
});

describe.skipIf(!pgFixture.service.available)('operator: a dynamic PostgreSQL credential', () => {
  let firstUser = '';

  beforeAll(async () => {
    await pgFixture.setup();
    canaries['pg-admin'] = pgFixture.adminPassword;
    await cluster.call('POST', 'sys/mounts/database', { type: 'database' });
    await cluster.call('POST', 'database/config/pg', {
      plugin_name: pgFixture.plugin,
      allowed_roles: 'app,long',
      username_template: `{{ printf "${PREFIX}_%s" (random 16) | lowercase }}`,
      ...pgFixture.connectionFields(
        pgFixture.service.endpoint.host,
        pgFixture.service.endpoint.port,
      ),
    });
    await cluster.call('POST', 'database/roles/app', {
      db_name: 'pg',
      creation_statements: pgFixture.creationStatements,
      default_ttl: '6s',
      max_ttl: '9s',
    });
    await cluster.call('POST', 'database/roles/long', {
      db_name: 'pg',
      creation_statements: pgFixture.creationStatements,
      default_ttl: '1h',
      max_ttl: '2h',
    });
  }, 30_000);

  it('is renewed, then replaced before it expires, and the old user is revoked', async () => {
    cluster.api.seed(
      'coffersecrets',
      cofferSecret('db', {
        sources: [
          { path: 'database/creds/app', keys: { PGUSER: 'username', PGPASSWORD: 'password' } },
        ],
        target: { name: 'db-creds' },
      }),
    );
    const first = await until('db Secret', () => secretData('db-creds'));
    firstUser = first['PGUSER']!;
    canaries['pg-1'] = first['PGPASSWORD']!;
    expect(await pgFixture.userExists(firstUser)).toBe(true);
    const leaseId = await until('lease in status', () => {
      const status = cluster.api.get('coffersecrets', 'default', 'db')?.['status'] as
        { leases?: { leaseId: string }[] } | undefined;
      return status?.leases?.[0]?.leaseId;
    });
    const lookup = await cluster.call('PUT', 'sys/leases/lookup', { lease_id: leaseId });
    // The lease cannot outlive its max TTL (9 s) from issue, however often it is renewed.
    const firstExpiry = Date.parse((lookup['data'] as { issue_time: string }).issue_time) + 9_000;
    // max_ttl 9s: renewed at 4s (capped), replaced 2/3 into the last stretch, before 9s.
    const second = await until(
      'replaced',
      () => {
        const d = secretData('db-creds');
        return d !== undefined && d['PGUSER'] !== firstUser ? d : undefined;
      },
      20_000,
    );
    const replacedAt = Date.now();
    canaries['pg-2'] = second['PGPASSWORD']!;
    console.log(
      `operator: dynamic credential replaced ${((firstExpiry - replacedAt) / 1000).toFixed(1)} s before the old lease's max TTL`,
    );
    expect(replacedAt).toBeLessThan(firstExpiry);
    expect(await pgFixture.userExists(second['PGUSER']!)).toBe(true);
    expect(await pgFixture.passwordWorks(second['PGUSER']!, second['PGPASSWORD']!)).toBe(true);
    // Revoked after the grace period (1s), not left to expire.
    await until(
      'old lease revoked',
      () => (logs.includes('revoked lease') ? true : undefined),
      10_000,
    );
    const started = Date.now();
    while ((await pgFixture.userExists(firstUser)) && Date.now() - started < 10_000) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await pgFixture.userExists(firstUser)).toBe(false);
  }, 40_000);

  it('deleting the resource revokes its lease and removes its Secret', async () => {
    const user = secretData('db-creds')!['PGUSER']!;
    cluster.api.remove('coffersecrets', 'default', 'db');
    await until('db Secret gone', () => (secretData('db-creds') === undefined ? true : undefined));
    await until('db resource gone', () =>
      cluster.api.get('coffersecrets', 'default', 'db') === undefined ? true : undefined,
    );
    const started = Date.now();
    while ((await pgFixture.userExists(user)) && Date.now() - started < 10_000) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await pgFixture.userExists(user)).toBe(false);
  }, 30_000);

  it('a restarted operator resumes without writing, restarting or issuing anything', async () => {
    const writes = () =>
      cluster.api.requests.filter(
        (r) =>
          r.plural === 'secrets' &&
          ['create', 'update', 'delete'].includes(r.verb) &&
          r.status < 300,
      ).length;
    const before = {
      secretWrites: writes(),
      deploymentPatches: cluster.api.count('patch', 'deployments'),
      statusPatches: cluster.api.count('patch-status', 'coffersecrets'),
      lists: cluster.api.count('list', 'coffersecrets'),
      logins: cluster.api.tokenReview.reviews.length,
    };
    cluster.api.seed(
      'coffersecrets',
      cofferSecret('db-long', {
        sources: [
          { path: 'database/creds/long', keys: { PGUSER: 'username', PGPASSWORD: 'password' } },
        ],
        target: { name: 'db-long' },
        rolloutRestartTargets: [{ kind: 'Deployment', name: 'app' }],
      }),
    );
    await until('db-long Ready', () =>
      readyCondition('db-long')?.['status'] === 'True' ? true : undefined,
    );
    const user = secretData('db-long')!['PGUSER'];
    canaries['pg-long'] = secretData('db-long')!['PGPASSWORD']!;
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    Object.assign(before, {
      secretWrites: writes(),
      deploymentPatches: cluster.api.count('patch', 'deployments'),
      statusPatches: cluster.api.count('patch-status', 'coffersecrets'),
      lists: cluster.api.count('list', 'coffersecrets'),
      logins: cluster.api.tokenReview.reviews.length,
    });
    await operator.stop();
    // Secrets in Coffer did not change meanwhile, so nothing needs doing.
    operator = await startOperator();
    await until('listed again', () =>
      cluster.api.count('list', 'coffersecrets') > before.lists ? true : undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const after = {
      secretWrites: writes(),
      deploymentPatches: cluster.api.count('patch', 'deployments'),
      statusPatches: cluster.api.count('patch-status', 'coffersecrets'),
      logins: cluster.api.tokenReview.reviews.length,
    };
    console.log(
      `operator: restart → ${after.secretWrites - before.secretWrites} Secret writes, ${after.deploymentPatches - before.deploymentPatches} restarts, ${after.statusPatches - before.statusPatches} status patches, ${after.logins - before.logins} logins`,
    );
    expect(after.secretWrites).toBe(before.secretWrites);
    expect(after.deploymentPatches).toBe(before.deploymentPatches);
    expect(after.logins).toBe(before.logins);
    expect(secretData('db-long')!['PGUSER']).toBe(user);
    expect(await pgFixture.userExists(user!)).toBe(true);
    expect(logs).toContain('continuing with the stored token');
  }, 40_000);
});

describe('operator: clean-up and honesty', () => {
  it('deleting a CofferSecret removes its Secret', async () => {
    cluster.api.remove('coffersecrets', 'default', 'app');
    await until('app Secret gone', () =>
      secretData('app-secrets') === undefined ? true : undefined,
    );
    await until('app resource gone', () =>
      cluster.api.get('coffersecrets', 'default', 'app') === undefined ? true : undefined,
    );
    expect(secretData('app-secrets')).toBeUndefined();
    expect(cluster.api.get('coffersecrets', 'default', 'app')).toBeUndefined();
  });

  it('the stand-in refused no call, and no secret value reached the logs', () => {
    expect(cluster.api.refused).toEqual([]);
    expect(findCanaries(logs + cluster.coffer.stderr(), encodedForms(canaries))).toEqual([]);
  });
});
