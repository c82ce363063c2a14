// node-vault (its generic read/write/list and userpassLogin) against the identity store of a
// real dev server: an entity named by the alias a userpass login uses, a group's policy that
// the token holds until its entity leaves the group (the next request), the entity_id on the
// token, and a templated policy path that follows an entity rename.
import { randomUUID } from 'node:crypto';
import vault from 'node-vault';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAllServers, startServer, type ServerProcess } from '../helpers/server-process.js';

const ROOT_TOKEN = `nvi-root-${randomUUID()}`;
const PASSWORD = `nvi-pw-${randomUUID()}`;

describe('node-vault: the identity store', () => {
  let server: ServerProcess;
  let root: ReturnType<typeof vault>;
  let user: ReturnType<typeof vault>;
  let entityId = '';
  let groupId = '';

  /** 200 when the read succeeds, otherwise the status the server answered. */
  const readStatus = async (client: ReturnType<typeof vault>, path: string): Promise<number> => {
    const outcome = await client.read(path).then(
      () => 200,
      (err: unknown) => (err as { response?: { statusCode?: number } }).response?.statusCode,
    );
    if (outcome === undefined) throw new Error(`no answer reading ${path}`);
    return outcome;
  };

  beforeAll(async () => {
    server = await startServer({ dev: { rootTokenId: ROOT_TOKEN } });
    root = vault({ endpoint: server.url, token: ROOT_TOKEN });
    for (const path of ['nvi/group', 'nvi/own/nv-carla', 'nvi/own/nv-renamed']) {
      await root.write(`secret/data/${path}`, { data: { path } });
    }
    await root.addPolicy({
      name: 'nvi-group',
      rules: 'path "secret/data/nvi/group" { capabilities = ["read"] }',
    });
    await root.addPolicy({
      name: 'nvi-own',
      rules: 'path "secret/data/nvi/own/{{identity.entity.name}}" { capabilities = ["read"] }',
    });
    await root.write('sys/auth/nvi-up', { type: 'userpass' });
    await root.write('auth/nvi-up/users/carla', { password: PASSWORD, token_policies: 'nvi-own' });
  });

  afterAll(async () => {
    await killAllServers();
  });

  it('creates an entity with an alias for the userpass mount, and a group holding it', async () => {
    const mounts = (await root.read('sys/auth')) as { data: Record<string, { accessor: string }> };
    const accessor = mounts.data['nvi-up/']!.accessor;
    const created = (await root.write('identity/entity', { name: 'nv-carla' })) as {
      data: { id: string };
    };
    entityId = created.data.id;
    await root.write('identity/entity-alias', {
      name: 'carla',
      mount_accessor: accessor,
      canonical_id: entityId,
    });
    const group = (await root.write('identity/group', {
      name: 'nvi-readers',
      policies: ['nvi-group'],
      member_entity_ids: [entityId],
    })) as { data: { id: string } };
    groupId = group.data.id;
    const listed = (await root.list('identity/group/name')) as { data: { keys: string[] } };
    expect(listed.data.keys).toEqual(['nvi-readers']);
  });

  it('logs in as the entity and holds the group policy until the entity leaves the group', async () => {
    const login = (await vault({ endpoint: server.url }).userpassLogin({
      username: 'carla',
      password: PASSWORD,
      mount_point: 'nvi-up',
    })) as { auth: { client_token: string; entity_id: string; identity_policies: string[] } };
    expect(login.auth.entity_id).toBe(entityId);
    expect(login.auth.identity_policies).toEqual(['nvi-group']);
    user = vault({ endpoint: server.url, token: login.auth.client_token });
    expect(await readStatus(user, 'secret/data/nvi/group')).toBe(200);
    expect(await readStatus(user, 'secret/data/nvi/own/nv-carla')).toBe(200);

    await root.write(`identity/group/id/${groupId}`, { member_entity_ids: [] });
    expect(await readStatus(user, 'secret/data/nvi/group')).toBe(403);
    const self = (await user.tokenLookupSelf()) as { data: { entity_id: string } };
    expect(self.data.entity_id).toBe(entityId);
  });

  it('follows an entity rename in a templated policy path on the next request', async () => {
    await root.write(`identity/entity/id/${entityId}`, { name: 'nv-renamed' });
    expect(await readStatus(user, 'secret/data/nvi/own/nv-carla')).toBe(403);
    expect(await readStatus(user, 'secret/data/nvi/own/nv-renamed')).toBe(200);
  });
});
