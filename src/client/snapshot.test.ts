import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ClientError } from './errors.js';
import {
  formatAge,
  openSnapshot,
  parseFallbackKey,
  readSnapshot,
  sealSnapshot,
  writeSnapshot,
} from './snapshot.js';
import type { Snapshot } from './snapshot.js';

const dir = mkdtempSync(join(tmpdir(), 'coffer-snapshot-test-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const SNAPSHOT: Snapshot = {
  createdAt: 1_700_000_000_000,
  fingerprint: '{"paths":["secret/app"]}',
  vars: { DB_PASSWORD: 'snapshot-canary-value', USER: 'admin' },
  secretNames: ['DB_PASSWORD', 'USER'],
};

describe('the fallback snapshot', () => {
  it('round-trips, is written 0600 by rename, and holds no value in clear', async () => {
    const key = randomBytes(32);
    const file = join(dir, 'snap.bin');
    await writeSnapshot(file, key, SNAPSHOT);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file).includes(Buffer.from('snapshot-canary-value'))).toBe(false);
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect(await readSnapshot(file, key)).toEqual(SNAPSHOT);
  });

  it('refuses a wrong key and any flipped byte alike', () => {
    const key = randomBytes(32);
    const sealed = sealSnapshot(SNAPSHOT, key);
    expect(() => openSnapshot(sealed, randomBytes(32), 'f')).toThrow(/cannot be decrypted/);
    for (const index of [9, 20, sealed.length - 20, sealed.length - 1]) {
      const bad = Buffer.from(sealed);
      bad[index] = bad[index]! ^ 1;
      expect(() => openSnapshot(bad, key, 'f'), `byte ${index}`).toThrow(/cannot be decrypted/);
    }
    const wrongMagic = Buffer.from(sealed);
    wrongMagic[0] = 0x41;
    expect(() => openSnapshot(wrongMagic, key, 'f')).toThrow(/not a Coffer snapshot/);
  });

  it('says when the file cannot be read', async () => {
    await expect(readSnapshot(join(dir, 'missing'), randomBytes(32))).rejects.toThrow(
      /cannot read the snapshot .*missing \(ENOENT\)/,
    );
    writeFileSync(join(dir, 'short'), 'x');
    await expect(readSnapshot(join(dir, 'short'), randomBytes(32))).rejects.toThrow(
      /not a Coffer snapshot/,
    );
  });

  it('takes the key as base64 of exactly 32 bytes, never echoing it', () => {
    const key = randomBytes(32);
    expect(parseFallbackKey(key.toString('base64'))).toEqual(key);
    expect(() => parseFallbackKey(undefined)).toThrow(/COFFER_FALLBACK_KEY is not set/);
    const short = randomBytes(16).toString('base64');
    expect(() => parseFallbackKey(short)).toThrow(ClientError);
    try {
      parseFallbackKey(short);
    } catch (error) {
      expect((error as Error).message).not.toContain(short);
    }
    expect(() => parseFallbackKey('not base64 at all!')).toThrow(/exactly 32 bytes/);
  });

  it('prints ages in the largest sensible units', () => {
    expect(formatAge(5_400)).toBe('5s');
    expect(formatAge(125_000)).toBe('2m');
    expect(formatAge(2 * 3_600_000 + 4 * 60_000)).toBe('2h 4m');
    expect(formatAge(3 * 86_400_000 + 3_600_000)).toBe('3d 1h');
    expect(formatAge(-10)).toBe('0s');
  });
});
