import { describe, expect, it } from 'vitest';
import { auditLineHash, verifyAuditLog } from '../../shared/audit-verify.js';
import {
  chainLine,
  chainSeqOf,
  checkpointLine,
  generateCheckpointKeys,
  genesisHash,
  type ChainState,
} from './chain.js';
import { createPrivateKey } from 'node:crypto';
import { FIXED_NOW } from './testing.js';

describe('audit hash chain', () => {
  it('numbers lines from 1 and links each to the hash of the line before', () => {
    const genesis = genesisHash();
    expect(genesis).toMatch(/^[0-9a-f]{64}$/);
    const first = chainLine({ seq: 0, lastHash: genesis }, { type: 'request' }, '');
    expect(JSON.parse(first.text)).toEqual({ type: 'request', chain: { seq: 1, prev: genesis } });
    expect(first.state).toEqual({ seq: 1, lastHash: auditLineHash(first.text) });
    const second = chainLine(first.state, { type: 'response' }, 'coffer: ');
    expect(second.text.startsWith('coffer: {')).toBe(true);
    expect(chainSeqOf(second.text)).toBe(2);
    expect(JSON.parse(second.text.slice('coffer: '.length))).toMatchObject({
      chain: { seq: 2, prev: first.state.lastHash },
    });
  });

  it('writes exactly the bytes of the entry with chain appended as its last key', () => {
    const state = { seq: 41, lastHash: genesisHash() };
    const entries = [
      { type: 'request', auth: { policies: ['a', 'b'] }, error: '' },
      JSON.parse('{"__proto__": {"x": 1}, "type": "response"}') as Record<string, never>,
      {},
      { type: 'request', chain: 'planted' },
    ];
    for (const entry of entries) {
      const chain = { seq: 42, prev: state.lastHash };
      expect(chainLine(state, entry, 'p:').text).toBe(`p:${JSON.stringify({ ...entry, chain })}`);
    }
  });

  it('signs checkpoints that the verifier accepts with the public key', () => {
    const keys = generateCheckpointKeys();
    const key = createPrivateKey(keys.privateKeyPem);
    let state: ChainState = { seq: 0, lastHash: genesisHash() };
    const lines: string[] = [];
    for (let i = 0; i < 3; i++) {
      const line = chainLine(state, { type: 'request', n: i }, '');
      lines.push(line.text);
      state = line.state;
    }
    const checkpoint = checkpointLine(state, key, FIXED_NOW, '');
    lines.push(checkpoint.text);
    expect(JSON.parse(checkpoint.text)).toMatchObject({
      type: 'checkpoint',
      seq: 4,
      chain_hash: state.lastHash,
      time: '2026-01-02T03:04:05.67Z',
    });
    expect(chainSeqOf(checkpoint.text)).toBe(4);
    const result = verifyAuditLog(`${lines.join('\n')}\n`, { publicKey: keys.publicKeySpki });
    expect(result).toMatchObject({ ok: true, lines: 4, checkpoints: 1, signaturesChecked: true });
    expect(result.lastLineHash).toBe(checkpoint.state.lastHash);
  });

  it('reads no seq from lines that are not chained', () => {
    expect(chainSeqOf('plain text')).toBeUndefined();
    expect(chainSeqOf('{"type":"request"}')).toBeUndefined();
    expect(chainSeqOf('{"type":"request","chain":{"seq":0}}')).toBeUndefined();
    expect(chainSeqOf('{broken')).toBeUndefined();
    expect(chainSeqOf('{"chain":"x"}')).toBeUndefined();
    expect(chainSeqOf('{"chain":null}')).toBeUndefined();
    expect(chainSeqOf('{"chain":{"seq":"3"}}')).toBeUndefined();
    expect(chainSeqOf('{"chain":{"seq":1.5}}')).toBeUndefined();
    expect(chainSeqOf('{"chain":{"seq":-2}}')).toBeUndefined();
    expect(chainSeqOf('{"chain":{"seq":9007199254740993}}')).toBeUndefined();
    expect(chainSeqOf('{"type":"checkpoint","chain":{"seq":4}}')).toBeUndefined();
    expect(chainSeqOf('{"type":"checkpoint","seq":0}')).toBeUndefined();
  });

  it('reads the seq of a chained line or a checkpoint, after any prefix', () => {
    expect(chainSeqOf('coffer: {"type":"request","chain":{"seq":7,"prev":"x"}}')).toBe(7);
    expect(chainSeqOf('{"chain":{"seq":1}}')).toBe(1);
    expect(chainSeqOf('p{"chain":{"seq":3}}')).toBe(3);
    expect(chainSeqOf('p {"type":"checkpoint","seq":9,"chain":{"seq":3}}')).toBe(9);
  });
});
