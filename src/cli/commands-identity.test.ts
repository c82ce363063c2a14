// The identity store needs no commands of its own: the generic read, write and list reach it,
// as they do in Vault's CLI (`coffer write identity/entity name=x`).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUnsealedStack } from '../../test/helpers/stack.js';
import { runCli } from './main.js';

describe('coffer read/write/list on identity/', () => {
  let stack: Awaited<ReturnType<typeof createUnsealedStack>>;
  let address = '';
  const home = mkdtempSync(join(tmpdir(), 'coffer-cli-identity-'));

  beforeAll(async () => {
    stack = await createUnsealedStack();
    address = await stack.app.listen({ port: 0, host: '127.0.0.1' });
  });

  afterAll(async () => {
    await stack.app.close();
    rmSync(home, { recursive: true, force: true });
  });

  const cli = async (argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(argv, {
      env: { COFFER_ADDR: address, COFFER_TOKEN: stack.rootToken, HOME: home },
      stdout: (s) => out.push(s),
      stderr: (s) => err.push(s),
    });
    return { code, stdout: out.join(''), stderr: err.join('') };
  };

  it('creates an entity with policies and metadata, reads and lists it', async () => {
    const written = await cli([
      'write',
      '-format=json',
      'identity/entity',
      'name=cli-user',
      'policies=pa,pb',
      'metadata=team=red',
    ]);
    expect(written.code).toBe(0);
    const id = (JSON.parse(written.stdout) as { data: { id: string } }).data.id;
    const read = await cli(['read', '-format=json', `identity/entity/id/${id}`]);
    expect(JSON.parse(read.stdout)).toMatchObject({
      data: { name: 'cli-user', policies: ['pa', 'pb'], metadata: { team: 'red' } },
    });
    const listed = await cli(['list', 'identity/entity/name']);
    expect(listed.stdout).toContain('cli-user');
  });
});
