import { createPrivateKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  chainLine,
  checkpointLine,
  generateCheckpointKeys,
  genesisHash,
  type ChainState,
} from '../core/audit/chain.js';
import { tempDir } from '../core/audit/testing.js';
import { parseCheckpointPublicKey } from '../shared/audit-verify.js';
import { runCliForTest as run } from './testing.js';

const temp = tempDir('coffer-audit-cli-');
afterAll(temp.cleanup);

const DEVICES = {
  'file/': {
    type: 'file',
    description: 'main log',
    options: { file_path: '/var/log/coffer/audit.log', checkpoint_public_key: 'MCowBQYDK2VwAyEA' },
    local: false,
    path: 'file/',
  },
};

describe('audit list', () => {
  it('prints the devices as a table, with options when -detailed', async () => {
    const routes = { 'GET sys/audit': { body: { data: DEVICES, ...DEVICES } } };
    const plain = await run(['audit', 'list'], { routes });
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(
      /^Path\s+Type\s+Description\n-+\s+-+\s+-+\nfile\/\s+file\s+main log\n$/,
    );
    const detailed = await run(['audit', 'list', '-detailed'], { routes });
    expect(detailed.stdout).toContain('replicated');
    expect(detailed.stdout).toContain('checkpoint_public_key:MCowBQYDK2VwAyEA');
    const json = await run(['audit', 'list', '-format=json'], { routes });
    expect(JSON.parse(json.stdout)).toEqual(DEVICES);
  });

  it('says when no device is enabled', async () => {
    const result = await run(['audit', 'list'], {
      routes: { 'GET sys/audit': { body: { data: {} } } },
    });
    expect(result).toMatchObject({ code: 0, stdout: 'No audit devices are enabled.\n' });
  });
});

describe('audit enable / disable', () => {
  it('enables with Vault syntax: TYPE then key=value options', async () => {
    const result = await run(
      ['audit', 'enable', 'file', 'file_path=/var/log/coffer/audit.log', 'mode=0600'],
      { routes: { 'PUT sys/audit/*': { status: 204 } } },
    );
    expect(result).toMatchObject({
      code: 0,
      stdout: 'Success! Enabled the file audit device at: file/\n',
    });
    expect(result.requests[0]).toMatchObject({
      method: 'PUT',
      path: 'sys/audit/file',
      body: { type: 'file', options: { file_path: '/var/log/coffer/audit.log', mode: '0600' } },
    });
  });

  it('takes -path, -description and -local', async () => {
    const result = await run(
      [
        'audit',
        'enable',
        '-path=siem/',
        '-description=to the SIEM',
        '-local',
        'socket',
        'address=127.0.0.1:9090',
      ],
      { routes: { 'PUT sys/audit/*': { status: 204 } } },
    );
    expect(result.code).toBe(0);
    expect(result.requests[0]).toMatchObject({
      path: 'sys/audit/siem',
      body: {
        type: 'socket',
        description: 'to the SIEM',
        local: true,
        options: { address: '127.0.0.1:9090' },
      },
    });
  });

  it('refuses an option that is not key=value without echoing it', async () => {
    const result = await run(['audit', 'enable', 'file', 's3cret-value']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('argument 2 is not a key=value option');
    expect(result.stderr).not.toContain('s3cret-value');
    expect(result.requests).toHaveLength(0);
  });

  it('shows the server error', async () => {
    const result = await run(['audit', 'enable', 'file', 'file_path=rel.log'], {
      routes: {
        'PUT sys/audit/*': {
          status: 400,
          body: { errors: ['options.file_path: must be an absolute file path'] },
        },
      },
    });
    expect(result).toMatchObject({
      code: 1,
      stderr: 'Error: options.file_path: must be an absolute file path (400)\n',
    });
  });

  it('disables a device', async () => {
    const result = await run(['audit', 'disable', 'file/'], {
      routes: { 'DELETE sys/audit/file': { status: 204 } },
    });
    expect(result).toMatchObject({
      code: 0,
      stdout: 'Success! Disabled audit device (if it was enabled) at: file/\n',
    });
    expect(result.requests[0]).toMatchObject({ method: 'DELETE', path: 'sys/audit/file' });
  });
});

describe('audit verify', () => {
  const keys = generateCheckpointKeys();
  const signingKey = createPrivateKey(keys.privateKeyPem);
  const lines: string[] = [];
  let state: ChainState = { seq: 0, lastHash: genesisHash() };
  for (let i = 1; i <= 6; i++) {
    const line = chainLine(state, { type: 'request', request: { id: `r${i}` } }, '');
    lines.push(line.text);
    state = line.state;
    if (i % 3 === 0) {
      const checkpoint = checkpointLine(state, signingKey, Date.UTC(2026, 0, 1), '');
      lines.push(checkpoint.text);
      state = checkpoint.state;
    }
  }
  const intact = join(temp.dir, 'intact.log');
  writeFileSync(intact, `${lines.join('\n')}\n`);
  const pemFile = join(temp.dir, 'key.pem');
  writeFileSync(
    pemFile,
    parseCheckpointPublicKey(keys.publicKeySpki).export({ format: 'pem', type: 'spki' }),
  );

  it('passes an intact file with the key given as a string or a PEM file (offline)', async () => {
    for (const key of [keys.publicKeySpki, pemFile]) {
      const result = await run(['audit', 'verify', `-public-key=${key}`, intact]);
      expect(result.code).toBe(0);
      expect(result.stdout.split('\n')[0]).toBe('OK: 8 lines, 2 checkpoints verified');
      expect(result.stdout).toContain(`Last line hash: ${state.lastHash}`);
      expect(result.requests).toHaveLength(0);
    }
  });

  it('without a key checks the chain and says the signatures were not checked', async () => {
    const result = await run(['audit', 'verify', intact]);
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')[0]).toBe(
      'OK: 8 lines, chain intact; 2 checkpoints not verified (no -public-key)',
    );
  });

  it('names the first bad line of a tampered file and exits 1', async () => {
    const tampered = join(temp.dir, 'tampered.log');
    const edited = [...lines];
    edited[1] = edited[1]!.replace('"r2"', '"r2x"');
    writeFileSync(tampered, `${edited.join('\n')}\n`);
    const result = await run(['audit', 'verify', `-public-key=${keys.publicKeySpki}`, tampered]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^line 2: line 2 was altered/);
    const json = await run(['audit', 'verify', '-format=json', tampered]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, firstBadLine: 2 });
  });

  it('checks a rotated file against -previous-hash, and reads standard input', async () => {
    const wrong = await run(['audit', 'verify', `-previous-hash=${'0'.repeat(64)}`, intact]);
    expect(wrong).toMatchObject({ code: 1 });
    expect(wrong.stderr).toContain(
      'line 1: prev does not match the last line of the previous file',
    );
    const stdin = await run(['audit', 'verify', '-'], { stdin: `${lines.join('\n')}\n` });
    expect(stdin.code).toBe(0);
  });

  it('refuses a missing file and an unusable key with exit 2', async () => {
    const missing = await run(['audit', 'verify', join(temp.dir, 'absent.log')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('ENOENT');
    const badKey = await run(['audit', 'verify', '-public-key=not-a-key', intact]);
    expect(badKey.code).toBe(2);
    expect(badKey.stderr).toContain('public key');
  });
});
