// Tests for the transit engine through its paths: every key type's round trip, rotation and
// minimum versions, convergent encryption, datakeys, signatures, HMACs, export and backup.
import { describe, expect, it } from 'vitest';
import type { EngineResult, Operation } from '../../sdk/engine.js';
import type { JsonObject } from '../../sdk/json.js';
import { expectCoffer, memoryStorage, testMount, testRequest } from '../../sdk/testing.js';
import { createTransitEngine } from './engine.js';

function harness() {
  const storage = memoryStorage();
  const engine = createTransitEngine();
  const mount = testMount({ type: 'transit', options: {} });
  const call = (
    op: Operation,
    path: string,
    data: Record<string, unknown> = {},
  ): Promise<EngineResult> =>
    engine.handle(testRequest(op, path, data, storage, { mount, now: () => Date.UTC(2026, 0, 1) }));
  const data = async (
    op: Operation,
    path: string,
    body: Record<string, unknown> = {},
  ): Promise<JsonObject> => {
    const result = await call(op, path, body);
    if (result.kind !== 'data') throw new Error(`expected data, got ${result.kind}`);
    return result.data;
  };
  return { storage, engine, call, data, mount };
}

const b64 = (text: string) => Buffer.from(text).toString('base64');
/** A string field of a response (the test fails on anything else). */
function text(value: unknown): string {
  expect(typeof value).toBe('string');
  return value as string;
}

describe('transit', () => {
  it("encrypts and decrypts with every encryption key type, in Vault's layout", async () => {
    const h = harness();
    for (const type of ['aes128-gcm96', 'aes256-gcm96', 'chacha20-poly1305', 'rsa-2048']) {
      await h.data('update', `keys/k-${type}`, { type });
      const { ciphertext } = await h.data('update', `encrypt/k-${type}`, {
        plaintext: b64('hello'),
      });
      expect(ciphertext).toMatch(/^vault:v1:[A-Za-z0-9+/]+=*$/);
      if (type !== 'rsa-2048') {
        // nonce (12) + plaintext (5) + tag (16)
        expect(Buffer.from(text(ciphertext).slice(9), 'base64')).toHaveLength(12 + 5 + 16);
      }
      const out = await h.data('update', `decrypt/k-${type}`, { ciphertext });
      expect(Buffer.from(text(out.plaintext), 'base64').toString()).toBe('hello');
    }
  });

  it('decrypts old versions after rotation; refuses below min_decryption_version', async () => {
    const h = harness();
    await h.data('update', 'keys/r');
    const v1 = (await h.data('update', 'encrypt/r', { plaintext: b64('one') })).ciphertext;
    await h.data('update', 'keys/r/rotate');
    const v2 = await h.data('update', 'encrypt/r', { plaintext: b64('two') });
    expect(v2.ciphertext).toMatch(/^vault:v2:/);
    expect(v2.key_version).toBe(2);
    expect((await h.data('update', 'decrypt/r', { ciphertext: v1 })).plaintext).toBe(b64('one'));
    const rewrapped = await h.data('update', 'rewrap/r', { ciphertext: v1 });
    expect(rewrapped.ciphertext).toMatch(/^vault:v2:/);
    await h.data('update', 'keys/r/config', { min_decryption_version: 2 });
    await expect(h.call('update', 'decrypt/r', { ciphertext: v1 })).rejects.toMatchObject({
      code: 'invalid_request',
      message: 'ciphertext or signature version is disallowed by policy (too old)',
    });
    expect(
      (await h.data('update', 'decrypt/r', { ciphertext: rewrapped.ciphertext })).plaintext,
    ).toBe(b64('one'));
    await expectCoffer(
      h.call('update', 'encrypt/r', { plaintext: b64('x'), key_version: 3 }),
      'invalid_request',
    );
    await h.data('update', 'keys/r/config', { min_encryption_version: 2 });
    await expectCoffer(
      h.call('update', 'encrypt/r', { plaintext: b64('x'), key_version: 1 }),
      'invalid_request',
    );
    expect((await h.data('read', 'keys/r')).min_decryption_version).toBe(2);
  });

  it('refuses a tampered ciphertext and a wrong context', async () => {
    const h = harness();
    await h.data('update', 'keys/d', { derived: true });
    const { ciphertext } = await h.data('update', 'encrypt/d', {
      plaintext: b64('p'),
      context: b64('ctx-a'),
    });
    await expectCoffer(
      h.call('update', 'decrypt/d', { ciphertext, context: b64('ctx-b') }),
      'invalid_request',
    );
    await expectCoffer(h.call('update', 'decrypt/d', { ciphertext }), 'invalid_request', 'context');
    const raw = Buffer.from(text(ciphertext).slice(9), 'base64');
    raw[14] = raw[14]! ^ 1;
    await expectCoffer(
      h.call('update', 'decrypt/d', {
        ciphertext: `vault:v1:${raw.toString('base64')}`,
        context: b64('ctx-a'),
      }),
      'invalid_request',
    );
  });

  it('convergent encryption: equal plaintext and context give equal ciphertexts', async () => {
    const h = harness();
    await expectCoffer(
      h.call('update', 'keys/c0', { convergent_encryption: true }),
      'invalid_request',
      'convergent_encryption',
    );
    await h.data('update', 'keys/c', { derived: true, convergent_encryption: true });
    const a = await h.data('update', 'encrypt/c', { plaintext: b64('same'), context: b64('u1') });
    const b = await h.data('update', 'encrypt/c', { plaintext: b64('same'), context: b64('u1') });
    const c = await h.data('update', 'encrypt/c', { plaintext: b64('same'), context: b64('u2') });
    expect(a.ciphertext).toBe(b.ciphertext);
    expect(a.ciphertext).not.toBe(c.ciphertext);
  });

  it('batches keep order and carry item errors', async () => {
    const h = harness();
    await h.data('update', 'keys/b');
    const enc = await h.data('update', 'encrypt/b', {
      batch_input: [
        { plaintext: b64('1'), reference: 'r1' },
        { plaintext: 'not base64!' },
        { plaintext: b64('3') },
      ],
    });
    const results = enc.batch_results as JsonObject[];
    expect(results).toHaveLength(3);
    expect(results[0]!.reference).toBe('r1');
    expect(results[1]!.error).toMatch(/^plaintext: /);
    const dec = await h.data('update', 'decrypt/b', {
      batch_input: [{ ciphertext: results[2]!.ciphertext }, { ciphertext: results[0]!.ciphertext }],
    });
    expect((dec.batch_results as JsonObject[]).map((r) => r.plaintext)).toEqual([
      b64('3'),
      b64('1'),
    ]);
  });

  it('upserts a missing key on create only', async () => {
    const h = harness();
    expect(
      await h.engine.exists(
        testRequest('update', 'encrypt/new', {}, h.storage, { mount: h.mount }),
      ),
    ).toBe(false);
    await expectCoffer(h.call('update', 'encrypt/new', { plaintext: b64('x') }), 'invalid_request');
    await h.data('create', 'encrypt/new', { plaintext: b64('x') });
    expect((await h.data('read', 'keys/new')).type).toBe('aes256-gcm96');
  });

  it('datakeys: plaintext and wrapped', async () => {
    const h = harness();
    await h.data('update', 'keys/dk');
    const plain = await h.data('update', 'datakey/plaintext/dk', { bits: 512 });
    expect(Buffer.from(text(plain.plaintext), 'base64')).toHaveLength(64);
    expect((await h.data('update', 'decrypt/dk', { ciphertext: plain.ciphertext })).plaintext).toBe(
      plain.plaintext,
    );
    const wrapped = await h.data('update', 'datakey/wrapped/dk');
    expect(wrapped.plaintext).toBeUndefined();
    await expectCoffer(
      h.call('update', 'datakey/plaintext/dk', { bits: 100 }),
      'invalid_request',
      'bits',
    );
  });

  it('signs and verifies with every signing type and option', async () => {
    const h = harness();
    const input = b64('message');
    const cases: [string, Record<string, unknown>][] = [
      ['ed25519', {}],
      ['ecdsa-p256', {}],
      ['ecdsa-p384', { hash_algorithm: 'sha2-384', marshaling_algorithm: 'jws' }],
      ['rsa-2048', {}],
      ['rsa-2048', { signature_algorithm: 'pkcs1v15', hash_algorithm: 'sha2-512' }],
      ['rsa-3072', { hash_algorithm: 'sha3-256' }],
    ];
    for (const [i, [type, options]] of cases.entries()) {
      await h.data('update', `keys/s${i}`, { type });
      const { signature } = await h.data('update', `sign/s${i}`, { input, ...options });
      expect(signature).toMatch(/^vault:v1:/);
      expect((await h.data('update', `verify/s${i}`, { input, signature, ...options })).valid).toBe(
        true,
      );
      expect(
        (await h.data('update', `verify/s${i}`, { input: b64('other'), signature, ...options }))
          .valid,
      ).toBe(false);
    }
    // The hash in the URL, and a prehashed pkcs1v15 signature.
    await h.data('update', 'keys/rs', { type: 'rsa-2048' });
    const byUrl = await h.data('update', 'sign/rs/sha2-384', { input });
    expect(
      (await h.data('update', 'verify/rs/sha2-384', { input, signature: byUrl.signature })).valid,
    ).toBe(true);
    expect(
      (await h.data('update', 'verify/rs/sha2-256', { input, signature: byUrl.signature })).valid,
    ).toBe(false);
    const digest = (await h.data('update', 'hash', { input, format: 'base64' })).sum;
    const pre = { prehashed: true, signature_algorithm: 'pkcs1v15', input: digest };
    const preSig = await h.data('update', 'sign/rs', pre);
    expect(
      (await h.data('update', 'verify/rs', { ...pre, signature: preSig.signature })).valid,
    ).toBe(true);
    expect(
      (
        await h.data('update', 'verify/rs', {
          input,
          signature_algorithm: 'pkcs1v15',
          signature: preSig.signature,
        })
      ).valid,
    ).toBe(true);
    await expectCoffer(
      h.call('update', 'sign/rs', { input, hash_algorithm: 'md5' }),
      'invalid_request',
    );
    await h.data('update', 'keys/aes');
    await expectCoffer(h.call('update', 'sign/aes', { input }), 'invalid_request');
  });

  it('hmac and verify, hash and random', async () => {
    const h = harness();
    await h.data('update', 'keys/h', { type: 'hmac', key_size: 64 });
    const input = b64('data');
    const { hmac } = await h.data('update', 'hmac/h', { input });
    expect(hmac).toMatch(/^vault:v1:/);
    expect((await h.data('update', 'verify/h', { input, hmac })).valid).toBe(true);
    expect((await h.data('update', 'verify/h', { input: b64('x'), hmac })).valid).toBe(false);
    const sha512 = await h.data('update', 'hmac/h/sha2-512', { input });
    expect((await h.data('update', 'verify/h/sha2-512', { input, hmac: sha512.hmac })).valid).toBe(
      true,
    );
    expect((await h.data('update', 'hash/sha2-256', { input: b64('abc') })).sum).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect((await h.data('update', 'random/16', { format: 'hex' })).random_bytes).toMatch(
      /^[0-9a-f]{32}$/,
    );
    expect(
      Buffer.from(text((await h.data('update', 'random')).random_bytes), 'base64'),
    ).toHaveLength(32);
    await expectCoffer(h.call('update', 'random/0'), 'invalid_request', 'bytes');
  });

  it('exports and backs up only when allowed; deletion only when allowed', async () => {
    const h = harness();
    await h.data('update', 'keys/e');
    await expectCoffer(h.call('read', 'export/encryption-key/e'), 'invalid_request');
    await expectCoffer(h.call('read', 'backup/e'), 'invalid_request');
    await h.data('update', 'keys/e/config', { exportable: true });
    await expectCoffer(
      h.call('update', 'keys/e/config', { exportable: false }),
      'invalid_request',
      'exportable',
    );
    const exported = await h.data('read', 'export/encryption-key/e/1');
    expect(Buffer.from(text((exported.keys as JsonObject)['1']), 'base64')).toHaveLength(32);
    await expectCoffer(h.call('read', 'backup/e'), 'invalid_request');
    await h.data('update', 'keys/e/config', { allow_plaintext_backup: true });
    const { ciphertext } = await h.data('update', 'encrypt/e', { plaintext: b64('kept') });
    const { backup } = await h.data('read', 'backup/e');
    await expectCoffer(h.call('delete', 'keys/e'), 'invalid_request');
    await h.data('update', 'keys/e/config', { deletion_allowed: true });
    await h.call('delete', 'keys/e');
    await expectCoffer(h.call('update', 'decrypt/e', { ciphertext }), 'invalid_request');
    await h.call('update', 'restore/e2', { backup });
    expect((await h.data('update', 'decrypt/e2', { ciphertext })).plaintext).toBe(b64('kept'));
    await expectCoffer(h.call('update', 'restore/e2', { backup }), 'invalid_request');
    await h.call('update', 'restore/e2', { backup, force: true });
  });

  it('reads render no private or symmetric material', async () => {
    const h = harness();
    await h.data('update', 'keys/p', { type: 'ecdsa-p256' });
    await h.data('update', 'keys/q');
    const stored = JSON.stringify(
      [...h.storage.entries.values()].map((v) => Buffer.from(v).toString()),
    );
    const q = JSON.parse(stored) as string[];
    const material = q.map(
      (s) => JSON.parse(s) as { versions: Record<string, { key?: string; privatePem?: string }> },
    );
    const read = JSON.stringify([await h.data('read', 'keys/p'), await h.data('read', 'keys/q')]);
    for (const m of material) {
      for (const v of Object.values(m.versions)) {
        if (v.key !== undefined) expect(read).not.toContain(v.key);
        if (v.privatePem !== undefined) expect(read).not.toContain(v.privatePem.split('\n')[1]);
      }
    }
    expect(read).toContain('BEGIN PUBLIC KEY');
    expect((await h.data('list', 'keys/')).keys).toEqual(['p', 'q']);
  });
});
