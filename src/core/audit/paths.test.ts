import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Operation } from '../../sdk/engine.js';
import { CofferError } from '../../sdk/errors.js';
import { createContextPathEngine } from '../../sdk/path.js';
import { memoryStorage, testRequest } from '../../sdk/testing.js';
import type { Caller } from '../caller.js';
import { isSudoPath } from '../sudo-paths.js';
import { auditPaths } from './paths.js';
import { makeBroker, tempDir } from './testing.js';

const temp = tempDir('coffer-audit-paths-');
afterAll(temp.cleanup);

const caller = { token: 'root', isRoot: true, sudoOn: () => true } as unknown as Caller;

async function setup() {
  const { broker } = makeBroker();
  await broker.open();
  const engine = createContextPathEngine<Caller>(auditPaths({ audit: broker }));
  const call = (operation: Operation, path: string, data: Record<string, unknown> = {}) =>
    engine.handle(testRequest(operation, path, data, memoryStorage()), caller);
  return { broker, call };
}

describe('sys/audit paths', () => {
  it('enables (hvac body), lists, hashes and disables a file device', async () => {
    const { broker, call } = await setup();
    const file = join(temp.dir, 'hvac.log');
    // hvac: {type, description, options: {path}, local}; node-vault repeats the name.
    await expect(
      call('update', 'audit/test-tempfile', {
        type: 'file',
        description: null,
        options: { path: file },
        local: false,
        name: 'test-tempfile',
      }),
    ).resolves.toEqual({ kind: 'empty' });
    const listed = await call('read', 'audit');
    expect(listed).toMatchObject({
      kind: 'data',
      data: {
        'test-tempfile/': {
          type: 'file',
          description: '',
          options: { file_path: file },
          local: false,
          path: 'test-tempfile/',
        },
      },
    });
    const hashed = await call('update', 'audit-hash/test-tempfile', { input: 'hvac-rox' });
    expect(hashed).toEqual({
      kind: 'data',
      data: { hash: broker.hash('test-tempfile', 'hvac-rox') },
    });
    expect(JSON.stringify(hashed)).toContain('hmac-sha256:');
    await expect(call('delete', 'audit/test-tempfile')).resolves.toEqual({ kind: 'empty' });
    await expect(call('delete', 'audit/test-tempfile')).resolves.toEqual({ kind: 'empty' });
    expect(await call('read', 'audit/')).toEqual({ kind: 'data', data: {} });
    expect(readFileSync(file, 'utf8')).toBe(''); // nothing was logged through it
    await broker.close();
  });

  it('answers an unknown device with invalid_request "unknown audit backend" (hvac test)', async () => {
    const { broker, call } = await setup();
    const error = await call('update', 'audit-hash/nope', { input: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CofferError);
    expect(error).toMatchObject({ code: 'invalid_request' });
    expect((error as Error).message).toContain('unknown audit backend');
    await broker.close();
  });

  it('refuses bad bodies with invalid_request naming the field', async () => {
    const { broker, call } = await setup();
    const file = join(temp.dir, 'x.log');
    const cases: [Record<string, unknown>, string][] = [
      [{ options: { file_path: file } }, 'type'],
      [{ type: 'file', options: { file_path: file, log_raw: true } }, 'options.log_raw'],
      [{ type: 'file', options: { file_path: file, nested: { a: 1 } } }, 'options.nested'],
      [{ type: 'file', options: 'file_path=/x' }, 'options'],
      [{ type: 'file', options: { file_path: file }, name: 'other' }, 'name'],
      // A likely typo of a known field (other unknown fields get Vault's warning).
      [{ type: 'file', options: { file_path: file }, descripton: 'x' }, 'descripton'],
    ];
    for (const [body, field] of cases) {
      await expect(call('update', 'audit/dev', body)).rejects.toMatchObject({
        code: 'invalid_request',
        field,
      });
    }
    expect(broker.hasDevices()).toBe(false);
    await broker.close();
  });

  it('takes numbers and booleans in options as their text, and no options as none', async () => {
    const { broker, call } = await setup();
    const file = join(temp.dir, 'typed.log');
    await call('update', 'audit/typed', {
      type: 'file',
      description: 'typed options',
      local: true,
      options: { file_path: file, checkpoint_interval: 7, fsync: false },
    });
    expect(broker.list()['typed/']).toMatchObject({
      description: 'typed options',
      local: true,
      options: { checkpoint_interval: '7', fsync: 'false' },
    });
    await expect(
      call('update', 'audit/none', { type: 'file', options: null }),
    ).rejects.toMatchObject({ code: 'invalid_request', message: 'options.file_path: is required' });
    const refusals: [Record<string, unknown>, string][] = [
      [{ type: '', options: { file_path: file } }, 'type: is required'],
      [{ options: { file_path: file } }, 'type: is required'],
      [{ type: 'file', options: [file] }, 'options: must be an object'],
      [{ type: 'file', options: { file_path: [file] } }, 'options.file_path: must be a string'],
      [
        { type: 'file', options: { file_path: file }, name: 'other' },
        'name: does not match the device path in the URL',
      ],
    ];
    for (const [body, message] of refusals) {
      await expect(call('update', 'audit/typed2', body)).rejects.toMatchObject({
        code: 'invalid_request',
        message,
      });
    }
    // node-vault's name may be written with slashes around it.
    await call('update', 'audit/named', {
      type: 'file',
      options: { file_path: join(temp.dir, 'named.log') },
      name: '/named/',
    });
    expect(Object.keys(broker.list())).toEqual(['typed/', 'named/']);
    await broker.close();
  });

  it('are sudo-protected by the core (list and enable, not the hash)', () => {
    expect(isSudoPath('sys/audit')).toBe(true);
    expect(isSudoPath('sys/audit/file')).toBe(true);
    expect(isSudoPath('sys/audit-hash/file')).toBe(false);
  });
});
