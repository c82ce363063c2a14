// Every audit-log tamper case we know, each one reported: by the file alone where the file can
// show it (offline, with the checkpoint key), and against the server's chain head otherwise (a
// cut at the end, an edited or forged last line). An intact log passes both ways.
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  chainLine,
  checkpointLine,
  generateCheckpointKeys,
  genesisHash,
  type ChainState,
} from '../core/audit/chain.js';
import type { JsonObject } from '../sdk/json.js';
import { AuditLogVerifier, auditLineHash, type ChainHead } from './audit-verify.js';

const NOW = Date.UTC(2026, 0, 1);
const keys = generateCheckpointKeys();
const signingKey = createPrivateKey(keys.privateKeyPem);
const forgerKey = generateKeyPairSync('ed25519').privateKey;

/** 12 request lines, a checkpoint after every 4th: 15 lines, the last one a checkpoint. */
function buildLog(start: ChainState = { seq: 0, lastHash: genesisHash() }): string[] {
  const lines: string[] = [];
  let state = start;
  for (let i = 1; i <= 12; i++) {
    const line = chainLine(state, { type: 'request', request: { id: `r${i}` } }, '');
    lines.push(line.text);
    state = line.state;
    if (i % 4 === 0) {
      const checkpoint = checkpointLine(state, signingKey, NOW + i, '');
      lines.push(checkpoint.text);
      state = checkpoint.state;
    }
  }
  return lines;
}

/** The log plus two unsigned lines after its last checkpoint, as a live device has. */
const pristine = (() => {
  const lines = buildLog();
  let state: ChainState = { seq: lines.length, lastHash: auditLineHash(lines.at(-1)!) };
  for (const id of ['r13', 'r14']) {
    const line = chainLine(state, { type: 'request', request: { id } }, '');
    lines.push(line.text);
    state = line.state;
  }
  return lines;
})();
const serverHead: ChainHead = { seq: pristine.length, hash: auditLineHash(pristine.at(-1)!) };

/** Re-chains lines from index `from` on, as a forger without the checkpoint key can. */
function rechain(lines: readonly string[], from: number): string[] {
  const out = lines.slice(0, from);
  const previous = out.at(-1);
  let state: ChainState = {
    seq: from,
    lastHash: previous === undefined ? genesisHash() : auditLineHash(previous),
  };
  for (const text of lines.slice(from)) {
    const entry = JSON.parse(text) as JsonObject;
    if (entry['type'] === 'checkpoint') {
      const forged = checkpointLine(state, forgerKey, NOW, '');
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

const text = (lines: readonly string[]): string =>
  lines.length === 0 ? '' : `${lines.join('\n')}\n`;
const without = (lines: readonly string[], index: number): string[] =>
  lines.filter((_, i) => i !== index);
const edit = (lines: readonly string[], index: number, from: string, to: string): string[] =>
  lines.map((l, i) => (i === index ? l.replace(from, to) : l));

interface Case {
  readonly name: string;
  readonly file: string;
  /** Shown by the file alone (with the key); false = only against the server's head. */
  readonly offline: boolean;
}

const CASES: readonly Case[] = [
  // Shown by the file alone.
  {
    name: 'a flipped byte in a middle line',
    file: text(edit(pristine, 5, 'r5', 'r6')),
    offline: true,
  },
  {
    name: 'a middle line edited into other valid JSON',
    file: text(edit(pristine, 2, '"request":{', '"request":{"x":1,')),
    offline: true,
  },
  { name: 'a middle line deleted', file: text(without(pristine, 6)), offline: true },
  { name: 'a checkpoint deleted', file: text(without(pristine, 4)), offline: true },
  {
    name: 'two lines swapped',
    file: text([...pristine.slice(0, 2), pristine[3]!, pristine[2]!, ...pristine.slice(4)]),
    offline: true,
  },
  {
    name: 'a line repeated',
    file: text([...pristine.slice(0, 3), pristine[2]!, ...pristine.slice(3)]),
    offline: true,
  },
  {
    name: 'a line moved to the end',
    file: text([...without(pristine, 1), pristine[1]!]),
    offline: true,
  },
  { name: 'a cut at the start (first line)', file: text(pristine.slice(1)), offline: true },
  {
    name: 'a cut at the start through the first checkpoint',
    file: text(pristine.slice(5)),
    offline: true,
  },
  { name: 'a contiguous slice from the middle', file: text(pristine.slice(3, 9)), offline: true },
  { name: 'an empty file', file: '', offline: true },
  {
    name: 'a torn last line (no newline)',
    file: text(pristine).slice(0, -20),
    offline: true,
  },
  {
    name: 'an empty line inserted',
    file: text([...pristine.slice(0, 4), '', ...pristine.slice(4)]),
    offline: true,
  },
  {
    name: 'a non-JSON line inserted',
    file: text([...pristine.slice(0, 4), 'hello', ...pristine.slice(4)]),
    offline: true,
  },
  {
    name: 'the chain field removed from a line',
    file: text(pristine.map((l, k) => (k === 7 ? l.replace(/,"chain":\{[^}]*\}/, '') : l))),
    offline: true,
  },
  {
    name: 'a line deleted and the rest re-chained (forged checkpoints)',
    file: text(rechain(without(pristine, 2), 2)),
    offline: true,
  },
  {
    name: 'a forged line inserted and the rest re-chained',
    file: text(
      rechain(
        [
          ...pristine.slice(0, 6),
          '{"type":"request","request":{"id":"forged"}}',
          ...pristine.slice(6),
        ],
        6,
      ),
    ),
    offline: true,
  },
  {
    name: 'the whole log re-written from a new genesis',
    file: text(rechain(pristine, 0)),
    offline: true,
  },
  {
    name: 'a checkpoint signature replaced by another key',
    file: text(
      pristine.map((l, i) => {
        if (i !== 9) return l;
        const entry = JSON.parse(l) as JsonObject;
        const forged = checkpointLine(
          { seq: i, lastHash: entry['chain_hash'] as string },
          forgerKey,
          NOW,
          '',
        );
        return forged.text;
      }),
    ),
    offline: true,
  },
  {
    name: 'a second log appended (seq restarts at 1)',
    file: text([...pristine, ...buildLog()]),
    offline: true,
  },
  // Shown only against the server's chain head.
  { name: 'a cut at the end (unsigned lines)', file: text(pristine.slice(0, -1)), offline: false },
  {
    name: 'a cut at the end exactly after a checkpoint',
    file: text(pristine.slice(0, -2)),
    offline: false,
  },
  {
    name: 'the last line edited',
    file: text(edit(pristine, pristine.length - 1, 'r14', 'r99')),
    offline: false,
  },
  {
    name: 'a forged line appended after the last',
    file: text(
      rechain([...pristine, '{"type":"request","request":{"id":"forged"}}'], pristine.length),
    ),
    offline: false,
  },
  {
    name: 'an unsigned trailing line edited and re-chained',
    file: text(rechain(edit(pristine, pristine.length - 2, 'r13', 'r77'), pristine.length - 2)),
    offline: false,
  },
];

function offline(file: string) {
  const verifier = new AuditLogVerifier({ publicKey: keys.publicKeySpki });
  verifier.write(file);
  return verifier.end();
}

function againstServer(file: string) {
  const verifier = new AuditLogVerifier({ publicKey: keys.publicKeySpki, contains: serverHead });
  verifier.write(file);
  return verifier.end(serverHead);
}

describe('audit log tamper cases', () => {
  it('the intact log passes offline and against the server head', () => {
    expect(offline(text(pristine))).toMatchObject({ ok: true, lines: 17, checkpoints: 3 });
    expect(againstServer(text(pristine))).toMatchObject({ ok: true, headChecked: true });
  });

  it.each(CASES.filter((c) => c.offline))('offline: $name', ({ file }) => {
    const result = offline(file);
    expect(result.ok).toBe(false);
    expect(result.problem).toBeDefined();
    expect(againstServer(file).ok).toBe(false);
  });

  it.each(CASES.filter((c) => !c.offline))(
    'passes offline but is caught against the server head: $name',
    ({ file }) => {
      expect(offline(file).ok).toBe(true);
      const result = againstServer(file);
      expect(result.ok).toBe(false);
      expect(result.problem).toMatch(
        /cut from the end|not the line the server wrote|past the last line/,
      );
    },
  );

  it('each head check works alone: the head before the read, the head after it', () => {
    const cut = text(pristine.slice(0, -1));
    const edited = text(edit(pristine, pristine.length - 1, 'r14', 'r99'));
    for (const file of [cut, edited]) {
      const before = new AuditLogVerifier({ contains: serverHead });
      before.write(file);
      expect(before.end().ok).toBe(false);
    }
    const after = new AuditLogVerifier({});
    after.write(edited);
    expect(after.end(serverHead).ok).toBe(false);
    // A live file may hold lines the server wrote after the first head, up to the second.
    const more = chainLine(
      { seq: serverHead.seq, lastHash: serverHead.hash },
      { type: 'response', request: { id: 'r14' } },
      '',
    );
    const live = new AuditLogVerifier({ contains: serverHead });
    live.write(text([...pristine, more.text]));
    expect(live.end({ seq: more.state.seq, hash: more.state.lastHash }).ok).toBe(true);
  });

  it('counts the cases', () => {
    expect(CASES.length).toBe(25);
  });
});
