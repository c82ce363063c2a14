// The core's side of the engine contract, end to end through HTTP: leased secrets (register,
// render, renew, revoke, expiry, the owning token), write-ahead rollback after a crash, the
// scheduler, auth methods (sys/auth, unauthenticated login, the token a login grants) and
// change events. Two small engines defined here stand in for the database engine and an
// auth method, recording every call the core makes into them.
import { afterEach, describe, expect, it } from 'vitest';
import { createStack, type Stack } from '../../test/helpers/stack.js';
import { kvEngineFactory } from '../engines/kv/engine.js';
import type {
  EngineContext,
  EngineFactory,
  LeaseInfo,
  SecretEngine,
  WalEntry,
} from '../sdk/engine.js';
import { CofferError } from '../sdk/errors.js';
import { createInmemBackend } from '../physical/inmem.js';
import type { ChangeEvent } from './change-events.js';

interface Ledger {
  readonly issued: string[];
  readonly revoked: string[];
  readonly renewed: { name: string; increment: number }[];
  readonly rolledBack: WalEntry[];
  readonly jobs: string[];
  failRevoke: boolean;
}

function ledgerFactory(ledger: Ledger): EngineFactory {
  let counter = 0;
  const engine: SecretEngine = {
    exists: () => Promise.resolve(undefined),
    async handle(req) {
      if (req.path.startsWith('creds/')) {
        counter += 1;
        const name = `user-${counter}`;
        const walId = await req.wal.put('user', { name });
        ledger.issued.push(name);
        return {
          kind: 'lease',
          data: { username: name, password: 'CANARY-not-a-real-password' },
          lease: {
            ttlSeconds: Number(req.data['ttl'] ?? 0),
            maxTtlSeconds: 120,
            renewable: true,
            secretType: 'creds',
            internal: { name },
            walIds: [walId],
          },
        };
      }
      if (req.path === 'crash') {
        // A request that dies after its write-ahead entry, as a killed process would.
        await req.wal.put('user', { name: 'orphan' });
        throw new CofferError('upstream_failure', 'simulated crash');
      }
      if (req.path === 'schedule') {
        await req.schedule.set('job-a', req.now() + Number(req.data['in_ms'] ?? 0));
        return { kind: 'empty' };
      }
      return { kind: 'data', data: {} };
    },
    revokeLease(_ctx: EngineContext, lease: LeaseInfo) {
      if (ledger.failRevoke) {
        return Promise.reject(new CofferError('upstream_failure', 'database is down'));
      }
      ledger.revoked.push((lease.internal as { name: string }).name);
      return Promise.resolve();
    },
    renewLease(_ctx, lease, increment) {
      ledger.renewed.push({ name: (lease.internal as { name: string }).name, increment });
      return Promise.resolve({ maxTtlSeconds: 120 });
    },
    rollback(_ctx, entry) {
      ledger.rolledBack.push(entry);
      return Promise.resolve();
    },
    runScheduled(_ctx, name) {
      ledger.jobs.push(name);
      return Promise.resolve();
    },
  };
  return { type: 'ledger', description: 'test engine', create: () => engine };
}

/** An auth method whose login takes any name and the password "letmein". */
const passFactory: EngineFactory = {
  type: 'pass',
  category: 'auth',
  description: 'test auth method',
  create: () => ({
    unauthenticatedPaths: ['login/*'],
    exists: () => Promise.resolve(undefined),
    handle(req) {
      if (!req.path.startsWith('login/')) return Promise.resolve({ kind: 'data', data: {} });
      if (req.data['password'] !== 'letmein') {
        return Promise.reject(new CofferError('invalid_request', 'invalid username or password'));
      }
      const name = req.path.slice('login/'.length);
      return Promise.resolve({
        kind: 'login',
        login: {
          policies: ['reader'],
          displayName: name,
          metadata: { username: name },
          ttlSeconds: 600,
          maxTtlSeconds: 0,
          explicitMaxTtlSeconds: 0,
          periodSeconds: 0,
          numUses: 0,
          tokenType: 'default',
          boundCidrs: [],
          noDefaultPolicy: false,
          alias: { name },
        },
      });
    },
  }),
};

function newLedger(): Ledger {
  return { issued: [], revoked: [], renewed: [], rolledBack: [], jobs: [], failRevoke: false };
}

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface Harness extends Stack {
  readonly ledger: Ledger;
  readonly root: string;
  readonly unsealKey: Uint8Array;
  call(
    method: string,
    path: string,
    options?: { token?: string | null; body?: unknown },
  ): Promise<{ status: number; body: Record<string, unknown> }>;
}

const open: Harness[] = [];

afterEach(async () => {
  for (const h of open.splice(0)) {
    await h.core.sealForShutdown();
    await h.app.close();
  }
});

async function setup(physical = createInmemBackend(), ledger = newLedger()): Promise<Harness> {
  const stack = createStack({
    physical,
    engines: new Map([
      [kvEngineFactory.type, kvEngineFactory],
      ['ledger', ledgerFactory(ledger)],
      ['pass', passFactory],
    ]),
  });
  const { shares, rootToken } = await stack.core.initialize({
    secretShares: 1,
    secretThreshold: 1,
  });
  await stack.core.unseal(shares[0]!);
  const h: Harness = {
    ...stack,
    ledger,
    root: rootToken,
    unsealKey: shares[0]!,
    async call(method, path, options = {}) {
      const token = options.token === undefined ? rootToken : options.token;
      const res = await stack.app.inject({
        method: method as 'GET',
        url: `/v1/${path}`,
        headers: token === null ? {} : { 'x-vault-token': token },
        ...(options.body === undefined ? {} : { payload: options.body as object }),
      });
      return {
        status: res.statusCode,
        body: res.body === '' ? {} : (JSON.parse(res.body) as Record<string, unknown>),
      };
    },
  };
  open.push(h);
  expect((await h.call('POST', 'sys/mounts/db', { body: { type: 'ledger' } })).status).toBe(204);
  return h;
}

describe('leased secrets from an engine', () => {
  it('are registered, rendered with lease_id, looked up, renewed and revoked in the engine', async () => {
    const h = await setup();
    const creds = await h.call('GET', 'db/creds/app');
    expect(creds.status).toBe(200);
    const leaseId = creds.body['lease_id'] as string;
    expect(leaseId).toMatch(/^db\/creds\/app\/[0-9A-Za-z]{22}$/);
    expect(creds.body).toMatchObject({
      renewable: true,
      lease_duration: 120, // the mount default (32 days) capped by the engine's max of 120 s
      data: { username: 'user-1' },
    });
    const lookup = await h.call('PUT', 'sys/leases/lookup', { body: { lease_id: leaseId } });
    expect(lookup.body['data']).toMatchObject({ id: leaseId, renewable: true });

    const renewed = await h.call('PUT', 'sys/leases/renew', {
      body: { lease_id: leaseId, increment: 30 },
    });
    expect(renewed.body).toMatchObject({ lease_id: leaseId, lease_duration: 30, data: null });
    expect(h.ledger.renewed).toEqual([{ name: 'user-1', increment: 30 }]);

    expect((await h.call('PUT', 'sys/leases/revoke', { body: { lease_id: leaseId } })).status).toBe(
      204,
    );
    expect(h.ledger.revoked).toEqual(['user-1']);
    const gone = await h.call('PUT', 'sys/leases/lookup', { body: { lease_id: leaseId } });
    expect(gone.status).toBe(400);
  });

  it('asks the engine for the requested TTL and expires the lease by itself', async () => {
    const h = await setup();
    const creds = await h.call('GET', 'db/creds/app?ttl=1');
    expect(creds.body['lease_duration']).toBe(1);
    await until(() => h.ledger.revoked.includes('user-1'));
  });

  it('revokes the secrets a token obtained when that token is revoked', async () => {
    const h = await setup();
    const child = await h.call('POST', 'auth/token/create', { body: { policies: ['root'] } });
    const token = (child.body['auth'] as { client_token: string }).client_token;
    await h.call('GET', 'db/creds/app', { token });
    await h.call('GET', 'db/creds/app', { token });
    await h.call('GET', 'db/creds/other'); // the root token's: stays
    expect((await h.call('POST', 'auth/token/revoke', { body: { token } })).status).toBe(204);
    await until(() => h.ledger.revoked.length === 2);
    expect(h.ledger.revoked.sort()).toEqual(['user-1', 'user-2']);
  });

  it('revokes every lease of a mount before disabling it, and keeps the mount if that fails', async () => {
    const h = await setup();
    await h.call('GET', 'db/creds/app');
    h.ledger.failRevoke = true;
    const refused = await h.call('DELETE', 'sys/mounts/db');
    expect(refused.status).toBe(502);
    expect(JSON.stringify(refused.body)).not.toContain('CANARY');
    expect((await h.call('GET', 'sys/mounts')).body['db/']).toBeDefined();
    h.ledger.failRevoke = false;
    expect((await h.call('DELETE', 'sys/mounts/db')).status).toBe(204);
    expect(h.ledger.revoked).toEqual(['user-1']);
  });

  it('deletes the write-ahead entry once the lease exists, and rolls back the ones a crash left', async () => {
    const physical = createInmemBackend();
    const h = await setup(physical);
    await h.call('GET', 'db/creds/app');
    expect((await h.call('GET', 'db/crash')).status).toBe(502);
    // Sealing and unsealing stands in for the restart after a crash.
    await h.core.sealForShutdown();
    await h.core.unseal(h.unsealKey);
    await until(() => h.ledger.rolledBack.length === 1);
    expect(h.ledger.rolledBack[0]).toMatchObject({ kind: 'user', data: { name: 'orphan' } });
    // The entry for the registered lease was deleted, so user-1 was never rolled back.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(h.ledger.rolledBack).toHaveLength(1);
  });
});

describe('the scheduler', () => {
  it('runs a job when due, and keeps a later job across seal and unseal', async () => {
    const h = await setup();
    await h.call('POST', 'db/schedule', { body: { in_ms: 50 } });
    await until(() => h.ledger.jobs.length === 1);
    expect(h.ledger.jobs).toEqual(['job-a']);
    await h.call('POST', 'db/schedule', { body: { in_ms: 3_600_000 } });
    await h.core.sealForShutdown();
    await h.core.unseal(h.unsealKey);
    expect(h.core.scheduler.jobs()).toMatchObject([{ name: 'job-a' }]);
    expect(h.ledger.jobs).toHaveLength(1);
  });
});

describe('auth methods', () => {
  it('are enabled through sys/auth, log in without a token, and grant a working token', async () => {
    const h = await setup();
    await h.call('PUT', 'sys/policies/acl/reader', {
      body: { policy: 'path "secret/*" { capabilities = ["read"] }' },
    });
    expect((await h.call('POST', 'sys/auth/pass', { body: { type: 'pass' } })).status).toBe(204);
    const listed = await h.call('GET', 'sys/auth');
    expect(listed.body['pass/']).toMatchObject({ type: 'pass' });
    expect((listed.body['pass/'] as { accessor: string }).accessor).toMatch(/^auth_pass_/);
    expect(listed.body['token/']).toMatchObject({ type: 'token' });

    const wrong = await h.call('POST', 'auth/pass/login/alice', {
      token: null,
      body: { password: 'nope' },
    });
    expect(wrong.status).toBe(400);
    const login = await h.call('POST', 'auth/pass/login/alice', {
      token: null,
      body: { password: 'letmein' },
    });
    expect(login.status).toBe(200);
    const auth = login.body['auth'] as Record<string, unknown>;
    expect(auth).toMatchObject({
      policies: ['default', 'reader'],
      metadata: { username: 'alice' },
      lease_duration: 600,
      renewable: true,
      orphan: true,
    });
    const token = auth['client_token'] as string;
    const self = await h.call('GET', 'auth/token/lookup-self', { token });
    expect(self.body['data']).toMatchObject({
      display_name: 'pass-alice',
      path: 'auth/pass/login/alice',
    });
    // Only the declared login paths are open: anything else under the method needs a token.
    expect((await h.call('GET', 'auth/pass/users', { token: null })).status).toBe(403);
    // The token is limited to its policies.
    expect((await h.call('GET', 'sys/auth', { token })).status).toBe(403);

    // Disabling the method revokes the tokens its logins issued.
    expect((await h.call('DELETE', 'sys/auth/pass')).status).toBe(204);
    expect((await h.call('GET', 'auth/token/lookup-self', { token })).status).toBe(403);
    expect((await h.call('POST', 'sys/auth/token', { body: { type: 'pass' } })).status).toBe(400);
    expect((await h.call('POST', 'sys/auth/x', { body: { type: 'ledger' } })).status).toBe(400);
    expect((await h.call('POST', 'sys/mounts/y', { body: { type: 'pass' } })).status).toBe(400);
  });

  it('keeps auth methods across seal and unseal', async () => {
    const h = await setup();
    await h.call('POST', 'sys/auth/pass', { body: { type: 'pass' } });
    await h.core.sealForShutdown();
    await h.core.unseal(h.unsealKey);
    const login = await h.call('POST', 'auth/pass/login/bob', {
      token: null,
      body: { password: 'letmein' },
    });
    expect(login.status).toBe(200);
  });
});

describe('change events', () => {
  it('carry path and version, only for paths the token may read, and end with the token', async () => {
    const h = await setup();
    await h.call('POST', 'sys/mounts/secret', { body: { type: 'kv-v2' } });
    await h.call('PUT', 'sys/policies/acl/app', {
      body: { policy: 'path "secret/data/app" { capabilities = ["read"] }' },
    });
    const created = await h.call('POST', 'auth/token/create', { body: { policies: ['app'] } });
    const token = (created.body['auth'] as { client_token: string }).client_token;
    const events: ChangeEvent[] = [];
    const ends: string[] = [];
    await h.core.subscribeChanges({
      token,
      requestId: 'sub',
      prefixes: ['secret/'],
      onEvent: (event) => events.push(event),
      onEnd: (reason) => ends.push(reason),
    });
    await h.call('POST', 'secret/data/app', { body: { data: { password: 'CANARY-1' } } });
    await h.call('POST', 'secret/data/other', { body: { data: { password: 'CANARY-2' } } });
    await h.call('POST', 'secret/data/app', { body: { data: { password: 'CANARY-3' } } });
    await until(() => events.length === 2);
    expect(events.map((e) => [e.path, e.version, e.operation])).toEqual([
      ['secret/data/app', 1, 'create'],
      ['secret/data/app', 2, 'update'],
    ]);
    expect(JSON.stringify(events)).not.toContain('CANARY');
    await h.call('POST', 'auth/token/revoke', { body: { token } });
    await h.call('POST', 'secret/data/app', { body: { data: { password: 'x' } } });
    await until(() => ends.length === 1);
    expect(events).toHaveLength(2);
    await expect(
      h.core.subscribeChanges({
        token: 'nope',
        requestId: 'sub2',
        prefixes: [''],
        onEvent: () => undefined,
        onEnd: () => undefined,
      }),
    ).rejects.toMatchObject({ code: 'permission_denied' });
  });
});
