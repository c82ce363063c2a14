// Tamper evidence for audit devices (beyond Vault): every line carries `chain: {seq, prev}`
// (prev = SHA-256 of the previous line's exact bytes) and signed checkpoint lines commit to the
// chain so far. The format is checked offline by src/shared/audit-verify.ts.
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import type { JsonObject } from '../../sdk/json.js';
import { auditLineHash, checkpointMessage } from '../../shared/audit-verify.js';
import { rfc3339Nano } from '../../sdk/text.js';

/** Where a device's chain stands: the last line written and its hash. */
export interface ChainState {
  /** seq of the last line written; 0 before the first line. */
  readonly seq: number;
  /** SHA-256 hex of the last line; before the first line, the device's random genesis value. */
  readonly lastHash: string;
}

export interface ChainedLine {
  /** The line without its newline. */
  readonly text: string;
  readonly state: ChainState;
}

/** Lines between two checkpoints when the device options do not say otherwise. */
export const DEFAULT_CHECKPOINT_INTERVAL = 100;

/** A random start value, so the first line of a new device commits to nothing guessable. */
export function genesisHash(): string {
  return randomBytes(32).toString('hex');
}

/** Appends `entry` to the chain: adds `chain: {seq, prev}` and computes the line's hash. */
export function chainLine(state: ChainState, entry: JsonObject, prefix: string): ChainedLine {
  const seq = state.seq + 1;
  const chain = { seq, prev: state.lastHash };
  const body = JSON.stringify(entry);
  // The same bytes as JSON.stringify({ ...entry, chain }) without copying the entry: its
  // text with `"chain":…` appended as the last key (an entry that has keys and no `chain`).
  const text =
    body.length > 2 && !Object.hasOwn(entry, 'chain')
      ? `${prefix}${body.slice(0, -1)},"chain":${JSON.stringify(chain)}}`
      : prefix + JSON.stringify({ ...entry, chain });
  return { text, state: { seq, lastHash: auditLineHash(text) } };
}

/**
 * A checkpoint line `{type:"checkpoint", time, seq, chain_hash, signature}`: it takes the next
 * seq, chain_hash is the previous line's hash, and the Ed25519 signature covers
 * checkpointMessage(seq, chain_hash, time), so it vouches for every line before it.
 */
export function checkpointLine(
  state: ChainState,
  signingKey: KeyObject,
  epochMs: number,
  prefix: string,
): ChainedLine {
  const seq = state.seq + 1;
  const time = rfc3339Nano(epochMs);
  const signature = sign(null, checkpointMessage(seq, state.lastHash, time), signingKey);
  const text =
    prefix +
    JSON.stringify({
      type: 'checkpoint',
      time,
      seq,
      chain_hash: state.lastHash,
      signature: signature.toString('base64'),
    });
  return { text, state: { seq, lastHash: auditLineHash(text) } };
}

export interface CheckpointKeys {
  /** PKCS#8 PEM. SECURITY: stored only behind the barrier, never returned by any API. */
  readonly privateKeyPem: string;
  /** Base64 of the DER SubjectPublicKeyInfo: what operators pin and `audit verify` takes. */
  readonly publicKeySpki: string;
}

/** A fresh Ed25519 key pair for one device's checkpoints. */
export function generateCheckpointKeys(): CheckpointKeys {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKeySpki: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
  };
}

/**
 * The chain position a line records (its own seq), whether a normal line or a checkpoint;
 * undefined when the text is not a chained line. Used to resume a file's chain at startup.
 */
export function chainSeqOf(line: string): number | undefined {
  const brace = line.indexOf('{');
  if (brace === -1) return undefined;
  let entry: unknown;
  try {
    entry = JSON.parse(line.slice(brace));
  } catch {
    return undefined;
  }
  if (typeof entry !== 'object' || entry === null) return undefined;
  const record = entry as Record<string, unknown>;
  const chain = record['chain'];
  const seq =
    record['type'] === 'checkpoint'
      ? record['seq']
      : typeof chain === 'object' && chain !== null
        ? (chain as Record<string, unknown>)['seq']
        : undefined;
  return typeof seq === 'number' && Number.isSafeInteger(seq) && seq > 0 ? seq : undefined;
}
