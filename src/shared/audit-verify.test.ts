import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  chainLine,
  checkpointLine,
  generateCheckpointKeys,
  genesisHash,
  type ChainState,
} from '../core/audit/chain.js';
import {
  AuditLogVerifier,
  auditLineHash,
  parseCheckpointPublicKey,
  verifyAuditLog,
} from './audit-verify.js';
import type { JsonObject } from '../sdk/json.js';

const NOW = Date.UTC(2026, 0, 1);

/** `count` request lines with a checkpoint after every `interval` lines and at the end. */
function buildLog(
  count: number,
  interval: number,
  key: KeyObject,
  start: ChainState = { seq: 0, lastHash: genesisHash() },
  prefix = '',
): { lines: string[]; state: ChainState } {
  const lines: string[] = [];
  let state = start;
  for (let i = 1; i <= count; i++) {
    const line = chainLine(state, { type: 'request', request: { id: `r${i}` } }, prefix);
    lines.push(line.text);
    state = line.state;
    if (i % interval === 0 || i === count) {
      const checkpoint = checkpointLine(state, key, NOW + i, prefix);
      lines.push(checkpoint.text);
      state = checkpoint.state;
    }
  }
  return { lines, state };
}

/** Re-chains `lines` from `from` (0-based) on: what a forger without the key can do. */
function rechain(lines: string[], from: number, forgeKey: KeyObject): string[] {
  const out = lines.slice(0, from);
  const previous = out[out.length - 1];
  let state: ChainState = {
    seq: from,
    lastHash: previous === undefined ? genesisHash() : auditLineHash(previous),
  };
  for (const text of lines.slice(from)) {
    const entry = JSON.parse(text) as JsonObject;
    if (entry['type'] === 'checkpoint') {
      const forged = checkpointLine(state, forgeKey, NOW, '');
      out.push(forged.text);
      state = forged.state;
    } else {
      delete entry['chain'];
      const line = chainLine(state, entry, '');
      out.push(line.text);
      state = line.state;
    }
  }
  return out;
}

const keys = generateCheckpointKeys();
const signingKey = createPrivateKey(keys.privateKeyPem);
const text = (lines: readonly string[]) => `${lines.join('\n')}\n`;

describe('verifyAuditLog', () => {
  const { lines } = buildLog(12, 5, signingKey); // 12 lines + 3 checkpoints = 15 lines

  it('passes an intact log, with and without the public key', () => {
    expect(verifyAuditLog(text(lines), { publicKey: keys.publicKeySpki })).toMatchObject({
      ok: true,
      lines: 15,
      checkpoints: 3,
      signaturesChecked: true,
      firstSeq: 1,
      lastSeq: 15,
      unsignedTrailingLines: 0,
      lastLineHash: auditLineHash(lines[14]!),
    });
    expect(verifyAuditLog(text(lines))).toMatchObject({
      ok: true,
      checkpoints: 3,
      signaturesChecked: false,
    });
    // An empty file proves nothing (a log emptied by its owner looks the same).
    expect(verifyAuditLog('')).toMatchObject({
      ok: false,
      lines: 0,
      problem: expect.stringContaining('empty') as unknown,
    });
  });

  it('pinpoints an edited line', () => {
    const edited = [...lines];
    edited[3] = edited[3]!.replace('"r4"', '"r4-changed"');
    expect(verifyAuditLog(text(edited))).toMatchObject({
      ok: false,
      firstBadLine: 4,
      problem: expect.stringContaining('line 4 was altered') as unknown,
    });
  });

  it('pinpoints a deleted line', () => {
    const deleted = lines.filter((_, i) => i !== 6);
    expect(verifyAuditLog(text(deleted))).toMatchObject({
      ok: false,
      firstBadLine: 7,
      problem: expect.stringContaining('seq 8 where 7 was expected') as unknown,
    });
  });

  it('pinpoints reordered lines', () => {
    const swapped = [...lines];
    [swapped[8], swapped[9]] = [swapped[9]!, swapped[8]!];
    expect(verifyAuditLog(text(swapped))).toMatchObject({ ok: false, firstBadLine: 9 });
    const repeated = [...lines.slice(0, 4), lines[2]!, ...lines.slice(4)];
    expect(verifyAuditLog(text(repeated))).toMatchObject({
      ok: false,
      firstBadLine: 5,
      problem: expect.stringContaining('reordered or repeated') as unknown,
    });
  });

  it('catches a rewritten chain by its forged checkpoint, only with the public key', () => {
    const edited = [...lines];
    edited[1] = edited[1]!.replace('"r2"', '"r2-changed"');
    const forger = generateKeyPairSync('ed25519').privateKey;
    const forged = rechain(edited, 1, forger);
    // The chain itself is consistent again: only the signatures give the forgery away.
    expect(verifyAuditLog(text(forged))).toMatchObject({ ok: true, signaturesChecked: false });
    expect(verifyAuditLog(text(forged), { publicKey: keys.publicKeySpki })).toMatchObject({
      ok: false,
      firstBadLine: 6,
      problem: expect.stringContaining('checkpoint signature is invalid') as unknown,
    });
  });

  it('refuses a checkpoint signed by another key and a wrong previous-file hash', () => {
    const other = generateCheckpointKeys();
    expect(verifyAuditLog(text(lines), { publicKey: other.publicKeySpki })).toMatchObject({
      ok: false,
      firstBadLine: 6,
    });
    expect(verifyAuditLog(text(lines), { previousLastLineHash: 'a'.repeat(64) })).toMatchObject({
      ok: false,
      firstBadLine: 1,
    });
  });

  it('continues across a rotation when given the last line hash of the previous file', () => {
    const first = buildLog(4, 10, signingKey);
    const second = buildLog(3, 10, signingKey, first.state);
    const firstResult = verifyAuditLog(text(first.lines), { publicKey: keys.publicKeySpki });
    expect(firstResult.ok).toBe(true);
    const previousLastLineHash = firstResult.lastLineHash!;
    expect(
      verifyAuditLog(text(second.lines), { publicKey: keys.publicKeySpki, previousLastLineHash }),
    ).toMatchObject({ ok: true, firstSeq: 6, lines: 4 });
  });

  it('flags non-JSON, empty and unchained lines, and a torn last line', () => {
    expect(verifyAuditLog(text([lines[0]!, 'garbage', lines[1]!]))).toMatchObject({
      firstBadLine: 2,
      problem: 'not a JSON audit line',
    });
    expect(verifyAuditLog(text([lines[0]!, '', lines[1]!]))).toMatchObject({ firstBadLine: 2 });
    expect(verifyAuditLog(text([lines[0]!, '{"type":"request"}']))).toMatchObject({
      firstBadLine: 2,
      problem: expect.stringContaining('no chain field') as unknown,
    });
    const torn = `${lines[0]!}\n${lines[1]!.slice(0, 20)}`;
    expect(verifyAuditLog(torn)).toMatchObject({ ok: false, firstBadLine: 2, lines: 2 });
  });

  it('verifies lines with a device prefix and reports unsigned trailing lines', () => {
    const prefixed = buildLog(3, 2, signingKey, undefined, 'coffer-audit: ').lines;
    expect(verifyAuditLog(text(prefixed), { publicKey: keys.publicKeySpki }).ok).toBe(true);
    const tail = buildLog(3, 2, signingKey).lines.slice(0, 4); // 2 lines, checkpoint, 1 line
    expect(verifyAuditLog(text(tail))).toMatchObject({ ok: true, unsignedTrailingLines: 1 });
  });

  it('gives the same verdict whatever the chunking of the input', () => {
    const whole = text(lines);
    const verifier = new AuditLogVerifier({ publicKey: keys.publicKeySpki });
    for (let i = 0; i < whole.length; i += 7) verifier.write(whole.slice(i, i + 7));
    expect(verifier.end()).toMatchObject({ ok: true, lines: 15, checkpoints: 3 });
  });

  it('accepts the public key as PEM or base64 SPKI, and refuses other keys', () => {
    const pem = parseCheckpointPublicKey(keys.publicKeySpki).export({
      format: 'pem',
      type: 'spki',
    });
    expect(verifyAuditLog(text(lines), { publicKey: pem.toString() }).ok).toBe(true);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    expect(() =>
      parseCheckpointPublicKey(rsa.export({ format: 'pem', type: 'spki' }).toString()),
    ).toThrow('must be an Ed25519 key');
    expect(() => parseCheckpointPublicKey('not a key')).toThrow('public key');
    expect(() => verifyAuditLog('', { previousLastLineHash: 'xyz' })).toThrow('64');
  });
});
