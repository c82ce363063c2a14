// The identity store through the whole pipeline (HTTP → core → identity/): entities, aliases,
// groups, group aliases, lookups and merge with Vault's shapes; logins that find or create
// their entity; identity policies resolved at each request (group removal applies at once);
// external groups from reported group names; templated policy paths.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { createUnsealedStack } from '../../../test/helpers/stack.js';
import { builtinEngines } from '../../engines/registry.js';
import type { EngineFactory } from '../../sdk/engine.js';

type Stack = Awaited<ReturnType<typeof createUnsealedStack>>;

/** Logs in anyone as `login/:name`; `groups` (comma list) is reported as group names. */
const whoAuth: EngineFactory = {
  type: 'who',
  category: 'auth',
  description: 'test auth method',
  create: () => ({
    unauthenticatedPaths: ['login/*'],
    exists: () => Promise.resolve(undefined),
    handle: (req) => {
      const name = req.path.slice('login/'.length);
      const groups = req.data['groups'];
      return Promise.resolve({
        kind: 'login',
        login: {
          policies: ['own'],
          displayName: name,
          metadata: {},
          ttlSeconds: 600,
          maxTtlSeconds: 0,
          explicitMaxTtlSeconds: 0,
          periodSeconds: 0,
          numUses: 0,
          tokenType: 'default',
          boundCidrs: [],
          noDefaultPolicy: false,
          alias: {
            name,
            metadata: { team: typeof req.data['team'] === 'string' ? req.data['team'] : '' },
          },
          ...(typeof groups === 'string' ? { groupAliases: groups.split(',') } : {}),
        },
      });
    },
  }),
};

describe('identity store', () => {
  let s: Stack;
  let accessor = '';

  const call = async (
    method: 'GET' | 'POST' | 'DELETE' | 'LIST',
    url: string,
    payload?: object,
    token = s.rootToken,
  ) => {
    const res = await s.app.inject({
      method: method === 'LIST' ? 'GET' : method,
      url: `/v1/${url}${method === 'LIST' ? '?list=true' : ''}`,
      headers: { 'x-vault-token': token },
      ...(payload === undefined ? {} : { payload }),
    });
    return { status: res.statusCode, body: res.body === '' ? undefined : res.json() };
  };

  const login = async (name: string, extra: object = {}) => {
    const res = await call('POST', `auth/who/login/${name}`, extra, '');
    expect(res.status).toBe(200);
    return res.body.auth as {
      client_token: string;
      entity_id: string;
      policies: string[];
      token_policies: string[];
      identity_policies?: string[];
    };
  };

  const canRead = async (token: string, path: string): Promise<number> =>
    (await call('GET', path, undefined, token)).status;

  beforeEach(async () => {
    const engines = new Map(builtinEngines());
    engines.set('who', whoAuth);
    s = await createUnsealedStack({ engines });
    expect((await call('POST', 'sys/auth/who', { type: 'who' })).status).toBe(204);
    accessor = (await call('GET', 'sys/auth')).body.data['who/'].accessor as string;
    for (const name of ['a', 'b', 'c']) {
      await call('POST', `secret/data/${name}`, { data: { v: name } });
    }
    const policy = (path: string) => `path "${path}" { capabilities = ["read"] }`;
    await call('POST', 'sys/policies/acl/pa', { policy: policy('secret/data/a') });
    await call('POST', 'sys/policies/acl/pb', { policy: policy('secret/data/b') });
    await call('POST', 'sys/policies/acl/pc', { policy: policy('secret/data/c') });
  });

  it('is listed among the mounts and cannot be mounted over', async () => {
    const mounts = (await call('GET', 'sys/mounts')).body.data;
    expect(mounts['identity/'].type).toBe('identity');
    expect((await call('POST', 'sys/mounts/identity', { type: 'kv' })).status).toBe(400);
  });

  it('creates, reads, updates, lists and deletes entities (by id and by name)', async () => {
    const created = await call('POST', 'identity/entity', {
      name: 'alice',
      metadata: { team: 'red' },
      policies: 'pa, pb',
    });
    expect(created.status).toBe(200);
    expect(created.body.data).toEqual({ id: expect.any(String), name: 'alice', aliases: null });
    const id = created.body.data.id as string;

    const read = await call('GET', `identity/entity/id/${id}`);
    expect(read.body.data).toMatchObject({
      id,
      name: 'alice',
      metadata: { team: 'red' },
      policies: ['pa', 'pb'],
      disabled: false,
      aliases: [],
      group_ids: [],
    });
    // An update answers 204, as in Vault; a name in use is refused, naming the field.
    expect((await call('POST', `identity/entity/id/${id}`, { policies: ['pc'] })).status).toBe(204);
    expect((await call('GET', 'identity/entity/name/alice')).body.data.policies).toEqual(['pc']);
    const clash = await call('POST', 'identity/entity', { name: 'ALICE' });
    expect(clash.status).toBe(400);
    expect(clash.body.errors[0]).toMatch(/^name: entity name is already in use/);
    // By name: create or update.
    expect((await call('POST', 'identity/entity/name/bob', { metadata: ['k=v'] })).status).toBe(
      200,
    );
    expect((await call('POST', 'identity/entity/name/bob', { disabled: true })).status).toBe(204);
    const bob = (await call('GET', 'identity/entity/name/bob')).body.data;
    expect(bob).toMatchObject({ metadata: { k: 'v' }, disabled: true });

    const list = await call('LIST', 'identity/entity/id');
    expect(list.body.data.keys).toEqual([id, bob.id].sort());
    expect(list.body.data.key_info[id]).toMatchObject({ name: 'alice' });
    expect((await call('LIST', 'identity/entity/name')).body.data.keys).toEqual(['alice', 'bob']);

    expect((await call('POST', 'identity/entity', { policies: ['root'] })).body.errors[0]).toMatch(
      /policies cannot contain root/,
    );
    expect((await call('DELETE', `identity/entity/id/${id}`)).status).toBe(204);
    expect((await call('GET', `identity/entity/id/${id}`)).status).toBe(404);
    expect((await call('DELETE', 'identity/entity/name/bob')).status).toBe(204);
    expect((await call('LIST', 'identity/entity/id')).status).toBe(404);
  });

  it('keeps one alias per auth mount per entity, and looks entities up by alias', async () => {
    const entity = (await call('POST', 'identity/entity', { name: 'carol' })).body.data.id;
    const alias = await call('POST', 'identity/entity-alias', {
      name: 'carol-login',
      mount_accessor: accessor,
      canonical_id: entity,
    });
    expect(alias.body.data).toEqual({ id: expect.any(String), canonical_id: entity });
    const second = await call('POST', 'identity/entity-alias', {
      name: 'carol-other',
      mount_accessor: accessor,
      canonical_id: entity,
    });
    expect(second.status).toBe(400);
    expect(second.body.errors[0]).toMatch(/^mount_accessor: alias already exists/);
    const unknown = await call('POST', 'identity/entity-alias', {
      name: 'x',
      mount_accessor: 'auth_nope_1',
    });
    expect(unknown.body.errors[0]).toBe('mount_accessor: invalid mount accessor "auth_nope_1"');

    const byAlias = await call('POST', 'identity/lookup/entity', {
      alias_name: 'carol-login',
      alias_mount_accessor: accessor,
    });
    expect(byAlias.body.data).toMatchObject({ id: entity, name: 'carol' });
    expect(byAlias.body.data.aliases[0]).toMatchObject({
      name: 'carol-login',
      mount_accessor: accessor,
      mount_type: 'who',
      mount_path: 'auth/who/',
    });
    expect((await call('POST', 'identity/lookup/entity', { name: 'nobody' })).status).toBe(204);
    expect((await call('POST', 'identity/lookup/entity', {})).status).toBe(400);

    // A login with that alias name acts for carol.
    const auth = await login('carol-login');
    expect(auth.entity_id).toBe(entity);
  });

  it('gives a login an entity (created once), shows entity_id and identity_policies', async () => {
    const first = await login('dave');
    expect(first.entity_id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await login('dave')).entity_id).toBe(first.entity_id);
    expect((await login('erin')).entity_id).not.toBe(first.entity_id);

    await call('POST', `identity/entity/id/${first.entity_id}`, { policies: ['pa'] });
    const again = await login('dave');
    expect(again.token_policies).toEqual(['default', 'own']);
    expect(again.identity_policies).toEqual(['pa']);
    expect(again.policies).toEqual(['default', 'own', 'pa']);

    const lookup = await call('GET', 'auth/token/lookup-self', undefined, first.client_token);
    expect(lookup.body.data).toMatchObject({
      entity_id: first.entity_id,
      policies: ['default', 'own'],
      identity_policies: ['pa'],
    });
    // The default policy lets a token read its own entity (a templated path), no other.
    expect(await canRead(first.client_token, `identity/entity/id/${first.entity_id}`)).toBe(200);
    const erin = await login('erin');
    expect(await canRead(first.client_token, `identity/entity/id/${erin.entity_id}`)).toBe(403);
    const renewed = await call('POST', 'auth/token/renew-self', {}, first.client_token);
    expect(renewed.body.auth).toMatchObject({
      token_policies: ['default', 'own'],
      identity_policies: ['pa'],
      policies: ['default', 'own', 'pa'],
      entity_id: first.entity_id,
    });
    // The earlier token got the entity's policy without logging in again.
    expect(await canRead(first.client_token, 'secret/data/a')).toBe(200);
    // Child tokens act for the same entity.
    await call('POST', 'sys/policies/acl/own', {
      policy: 'path "auth/token/create" { capabilities = ["update"] }',
    });
    const child = await call(
      'POST',
      'auth/token/create',
      { policies: ['default'] },
      first.client_token,
    );
    expect(child.body.auth.entity_id).toBe(first.entity_id);
  });

  it("a token whose entity leaves a group loses that group's policies on its next request", async () => {
    const auth = await login('frank');
    const group = await call('POST', 'identity/group', {
      name: 'readers-b',
      policies: ['pb'],
      member_entity_ids: [auth.entity_id],
    });
    expect(group.status).toBe(200);
    const groupId = group.body.data.id as string;
    expect(await canRead(auth.client_token, 'secret/data/b')).toBe(200);

    expect(
      (await call('POST', `identity/group/id/${groupId}`, { member_entity_ids: [] })).status,
    ).toBe(204);
    expect(await canRead(auth.client_token, 'secret/data/b')).toBe(403);
  });

  it('inherits policies through nested groups and refuses cycles', async () => {
    const auth = await login('gina');
    const child = (
      await call('POST', 'identity/group', { name: 'child', member_entity_ids: [auth.entity_id] })
    ).body.data.id;
    const parent = (
      await call('POST', 'identity/group', {
        name: 'parent',
        policies: ['pc'],
        member_group_ids: [child],
      })
    ).body.data.id;
    expect(await canRead(auth.client_token, 'secret/data/c')).toBe(200);
    const entity = (await call('GET', `identity/entity/id/${auth.entity_id}`)).body.data;
    expect(entity).toMatchObject({ direct_group_ids: [child], inherited_group_ids: [parent] });
    const read = (await call('GET', `identity/group/id/${child}`)).body.data;
    expect(read).toMatchObject({ parent_group_ids: [parent], type: 'internal' });

    const cycle = await call('POST', `identity/group/id/${child}`, { member_group_ids: [parent] });
    expect(cycle.status).toBe(400);
    expect(cycle.body.errors[0]).toMatch(/^member_group_ids: .*cycle/);
    // Deleting the parent group takes its policies away at once.
    expect((await call('DELETE', `identity/group/id/${parent}`)).status).toBe(204);
    expect(await canRead(auth.client_token, 'secret/data/c')).toBe(403);
  });

  it('puts a login into the external groups its reported group names map to', async () => {
    const ext = await call('POST', 'identity/group', {
      name: 'eng',
      type: 'external',
      policies: ['pa'],
    });
    const groupId = ext.body.data.id as string;
    const internalMembers = await call('POST', 'identity/group', {
      name: 'bad',
      type: 'external',
      member_entity_ids: ['x'],
    });
    expect(internalMembers.body.errors[0]).toMatch(/^member_entity_ids: member entities can't/);
    const alias = await call('POST', 'identity/group-alias', {
      name: 'engineering',
      mount_accessor: accessor,
      canonical_id: groupId,
    });
    expect(alias.body.data).toEqual({ id: expect.any(String), canonical_id: groupId });

    const inGroup = await login('hank', { groups: 'engineering,unknown' });
    expect(inGroup.identity_policies).toEqual(['pa']);
    expect(await canRead(inGroup.client_token, 'secret/data/a')).toBe(200);
    const group = (await call('GET', `identity/group/id/${groupId}`)).body.data;
    expect(group.member_entity_ids).toEqual([inGroup.entity_id]);
    expect(group.alias).toMatchObject({ name: 'engineering', mount_accessor: accessor });
    expect(
      (
        await call('POST', 'identity/lookup/group', {
          alias_name: 'engineering',
          alias_mount_accessor: accessor,
        })
      ).body.data.id,
    ).toBe(groupId);

    // The next login without the group takes the entity out (and the old token with it).
    await login('hank', { groups: 'other' });
    expect(await canRead(inGroup.client_token, 'secret/data/a')).toBe(403);

    // An alias on an internal group is refused.
    const internal = (await call('POST', 'identity/group', { name: 'int' })).body.data.id;
    const refused = await call('POST', 'identity/group-alias', {
      name: 'x',
      mount_accessor: accessor,
      canonical_id: internal,
    });
    expect(refused.body.errors[0]).toMatch(/alias can't be set on an internal group/);
  });

  it('fills templated policy paths from the entity; an unresolvable one matches nothing', async () => {
    await call('POST', 'sys/policies/acl/own', {
      policy: [
        'path "secret/data/{{identity.entity.name}}" { capabilities = ["read"] }',
        `path "secret/data/{{identity.entity.aliases.${accessor}.metadata.team}}" { capabilities = ["read"] }`,
        'path "secret/data/{{identity.entity.metadata.missing}}" { capabilities = ["read"] }',
        'path "secret/data/{{identity.groups.names.tmpl.id}}" { capabilities = ["read"] }',
      ].join('\n'),
    });
    const auth = await login('ivy', { team: 'b' });
    await call('POST', `identity/entity/id/${auth.entity_id}`, { name: 'a' });
    expect(await canRead(auth.client_token, 'secret/data/a')).toBe(200);
    expect(await canRead(auth.client_token, 'secret/data/b')).toBe(200);
    expect(await canRead(auth.client_token, 'secret/data/c')).toBe(403);
    const group = (
      await call('POST', 'identity/group', { name: 'tmpl', member_entity_ids: [auth.entity_id] })
    ).body.data.id as string;
    await call('POST', `secret/data/${group}`, { data: { v: 'g' } });
    expect(await canRead(auth.client_token, `secret/data/${group}`)).toBe(200);
    // A renamed entity's old path stops matching on the next request.
    await call('POST', `identity/entity/id/${auth.entity_id}`, { name: 'zed' });
    expect(await canRead(auth.client_token, 'secret/data/a')).toBe(403);
    // A glob character in a claim-fed value never widens the rule.
    const sneaky = await login('jo', { team: '*' });
    expect(await canRead(sneaky.client_token, 'secret/data/b')).toBe(403);
  });

  it('merges entities: aliases move, tokens of the old entity resolve to the new one', async () => {
    const from = await login('kim');
    const to = (await call('POST', 'identity/entity', { name: 'kim-main', policies: ['pb'] })).body
      .data.id as string;
    expect(
      (
        await call('POST', 'identity/entity/merge', {
          from_entity_ids: [from.entity_id],
          to_entity_id: to,
        })
      ).status,
    ).toBe(204);
    expect((await call('GET', `identity/entity/id/${from.entity_id}`)).status).toBe(404);
    const merged = (await call('GET', `identity/entity/id/${to}`)).body.data;
    expect(merged.merged_entity_ids).toEqual([from.entity_id]);
    expect(merged.aliases[0]).toMatchObject({
      name: 'kim',
      merged_from_canonical_ids: [from.entity_id],
    });
    expect(await canRead(from.client_token, 'secret/data/b')).toBe(200);
    expect((await login('kim')).entity_id).toBe(to);
  });

  it('refuses tokens and logins of a disabled entity', async () => {
    const auth = await login('lee');
    await call('POST', `identity/entity/id/${auth.entity_id}`, { disabled: true });
    expect((await call('GET', 'auth/token/lookup-self', undefined, auth.client_token)).status).toBe(
      403,
    );
    expect((await call('POST', 'auth/who/login/lee', {}, '')).status).toBe(403);
  });

  it('writes the entity id into audit entries of the login and of later requests', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'coffer-identity-audit-'));
    try {
      const file = join(dir, 'audit.log');
      const enabled = await call('POST', 'sys/audit/file', {
        type: 'file',
        options: { file_path: file },
      });
      expect(enabled.status).toBe(204);
      const auth = await login('nat');
      await call('POST', `identity/entity/id/${auth.entity_id}`, { policies: ['pa'] });
      expect(await canRead(auth.client_token, 'secret/data/a')).toBe(200);
      const lines = readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map(
          (line) =>
            JSON.parse(line) as {
              type: string;
              request?: { path?: string };
              auth?: Record<string, unknown>;
              response?: { auth?: Record<string, unknown> };
            },
        );
      const loginLine = lines.find(
        (l) => l.type === 'response' && l.request?.path === 'auth/who/login/nat',
      );
      expect(loginLine?.response?.auth?.entity_id).toBe(auth.entity_id);
      const readLine = lines.find(
        (l) => l.type === 'request' && l.request?.path === 'secret/data/a',
      );
      expect(readLine?.auth).toMatchObject({
        entity_id: auth.entity_id,
        token_policies: ['default', 'own'],
        identity_policies: ['pa'],
        policies: ['default', 'own', 'pa'],
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("deletes an auth mount's aliases when the mount is disabled, keeping the entity", async () => {
    const auth = await login('pia');
    expect((await call('DELETE', 'sys/auth/who')).status).toBe(204);
    const entity = (await call('GET', `identity/entity/id/${auth.entity_id}`)).body.data;
    expect(entity.aliases).toEqual([]);
    expect((await call('LIST', 'identity/entity-alias/id')).status).toBe(404);
  });

  it('applies ACLs to identity paths like to any other path', async () => {
    const auth = await login('mo');
    expect((await call('POST', 'identity/entity', { name: 'x' }, auth.client_token)).status).toBe(
      403,
    );
  });
});
