// The key-holder ceremonies: generating a new root token from unseal key shares
// (`sys/generate-root`, with Vault's OTP encoding) and rekeying (`sys/rekey`: new unseal
// shares and threshold, with optional verification of the new shares). Both are authorised
// by a threshold of the current shares, not by a token; each attempt has a nonce.
// SECURITY: shares, the OTP and the root token are never logged; submitted shares are zeroed
// once used; an attempt keeps only what it needs in memory.
import { randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import { CofferError, invalidField } from '../sdk/errors.js';
import { combineShares, validateShareConfig } from './shamir.js';
import type { SealManager } from './seal-manager.js';

/** Coffer service tokens are `cfs.` + 44 base62 characters (ADR 0003): the OTP's length. */
export const ROOT_TOKEN_LENGTH = 48;

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function base62(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += BASE62.charAt(randomInt(62));
  return out;
}

/**
 * Vault ≥ 1.10's encoding, which `vault operator generate-root -decode -otp` reverses:
 * base64 without padding of token XOR otp (equal lengths).
 */
export function encodeRootToken(token: string, otp: string): string {
  const t = Buffer.from(token, 'utf8');
  const o = Buffer.from(otp, 'utf8');
  if (t.length !== o.length) throw new CofferError('internal', 'OTP and token lengths differ');
  const x = Buffer.alloc(t.length);
  for (let i = 0; i < t.length; i++) x[i] = t[i]! ^ o[i]!;
  return x.toString('base64').replace(/=+$/, '');
}

export function decodeRootToken(encoded: string, otp: string): string {
  const x = Buffer.from(encoded, 'base64');
  const o = Buffer.from(otp, 'utf8');
  if (x.length !== o.length) throw invalidField('otp', 'length does not match the encoded token');
  const t = Buffer.alloc(x.length);
  for (let i = 0; i < x.length; i++) t[i] = x[i]! ^ o[i]!;
  return t.toString('utf8');
}

/** Collected shares of one attempt (duplicates refused, as Vault). */
class ShareProgress {
  readonly nonce = randomUUID();
  #shares: Uint8Array[] = [];

  get count(): number {
    return this.#shares.length;
  }

  add(share: Uint8Array, nonce: string | undefined): void {
    if (
      nonce === undefined ||
      nonce.length !== this.nonce.length ||
      !timingSafeEqual(Buffer.from(nonce), Buffer.from(this.nonce))
    ) {
      throw invalidField('nonce', 'incorrect nonce supplied; the attempt may have been restarted');
    }
    if (this.#shares.some((s) => Buffer.compare(s, share) === 0)) {
      throw invalidField('key', 'given key has already been provided during this attempt');
    }
    this.#shares.push(Uint8Array.from(share));
  }

  /** The shares, handed over once; the caller zeroes them. */
  take(): Uint8Array[] {
    const out = this.#shares;
    this.#shares = [];
    return out;
  }

  clear(): void {
    for (const s of this.#shares) s.fill(0);
    this.#shares = [];
  }
}

interface RootAttempt {
  readonly progress: ShareProgress;
  readonly otp: string;
}

interface RekeyAttempt {
  readonly progress: ShareProgress;
  readonly secretShares: number;
  readonly secretThreshold: number;
  readonly requireVerification: boolean;
  /** Set once the old shares reached the threshold and verification is required. */
  pending?: {
    readonly rootKey: Uint8Array;
    readonly unsealKey: Uint8Array;
    verify: ShareProgress;
  };
}

export class KeyCeremonies {
  readonly #seal: SealManager;
  readonly #mintRootToken: () => Promise<string>;
  #root: RootAttempt | undefined;
  #rekey: RekeyAttempt | undefined;

  constructor(deps: { seal: SealManager; mintRootToken: () => Promise<string> }) {
    this.#seal = deps.seal;
    this.#mintRootToken = deps.mintRootToken;
  }

  // ---- generate-root -----------------------------------------------------------------------

  async rootStatus(extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const config = await this.#seal.shamirConfig();
    return {
      started: this.#root !== undefined,
      nonce: this.#root?.progress.nonce ?? '',
      progress: this.#root?.progress.count ?? 0,
      required: config.secretThreshold,
      complete: false,
      encoded_token: '',
      encoded_root_token: '',
      pgp_fingerprint: '',
      otp: '',
      otp_length: ROOT_TOKEN_LENGTH,
      ...extra,
    };
  }

  /** Starts an attempt; without an `otp` one is generated and returned once. */
  async startRoot(
    otp: string | undefined,
    pgpKey: string | undefined,
  ): Promise<Record<string, unknown>> {
    await this.#seal.shamirConfig();
    if (pgpKey !== undefined && pgpKey !== '') {
      throw invalidField('pgp_key', 'PGP-encrypted root tokens are not supported; use an OTP');
    }
    if (this.#root !== undefined) {
      throw new CofferError('invalid_request', 'root generation already in progress');
    }
    const given = otp !== undefined && otp !== '';
    if (given && otp.length !== ROOT_TOKEN_LENGTH)
      throw invalidField('otp', 'OTP string is wrong length');
    const chosen = given ? otp : base62(ROOT_TOKEN_LENGTH);
    this.#root = { progress: new ShareProgress(), otp: chosen };
    return this.rootStatus(given ? {} : { otp: chosen });
  }

  cancelRoot(): void {
    this.#root?.progress.clear();
    this.#root = undefined;
  }

  async updateRoot(share: Uint8Array, nonce: string | undefined): Promise<Record<string, unknown>> {
    const attempt = this.#root;
    if (attempt === undefined)
      throw new CofferError('invalid_request', 'no root generation in progress');
    await this.#seal.checkShare(share);
    attempt.progress.add(share, nonce);
    const config = await this.#seal.shamirConfig();
    if (attempt.progress.count < config.secretThreshold) return this.rootStatus();
    const shares = attempt.progress.take();
    this.#root = undefined;
    try {
      const rootKey = await this.#seal.rootKeyFromShares(shares);
      rootKey.fill(0);
    } finally {
      for (const s of shares) s.fill(0);
    }
    const token = await this.#mintRootToken();
    const encoded = encodeRootToken(token, attempt.otp);
    return {
      started: true,
      nonce: attempt.progress.nonce,
      progress: config.secretThreshold,
      required: config.secretThreshold,
      complete: true,
      encoded_token: encoded,
      encoded_root_token: encoded,
      pgp_fingerprint: '',
      otp: '',
      otp_length: ROOT_TOKEN_LENGTH,
    };
  }

  // ---- rekey -------------------------------------------------------------------------------

  async rekeyStatus(): Promise<Record<string, unknown>> {
    const config = await this.#seal.shamirConfig();
    const a = this.#rekey;
    return {
      nonce: a?.progress.nonce ?? '',
      started: a !== undefined,
      t: a?.secretThreshold ?? 0,
      n: a?.secretShares ?? 0,
      progress: a?.progress.count ?? 0,
      required: config.secretThreshold,
      pgp_fingerprints: null,
      backup: false,
      verification_required: a?.requireVerification ?? false,
      ...(a?.pending === undefined ? {} : { verification_nonce: a.pending.verify.nonce }),
    };
  }

  async startRekey(o: {
    secretShares: number | undefined;
    secretThreshold: number | undefined;
    requireVerification: boolean;
    pgpKeys: readonly string[];
    backup: boolean;
  }): Promise<Record<string, unknown>> {
    await this.#seal.shamirConfig();
    if (o.pgpKeys.length > 0 || o.backup) {
      throw invalidField('pgp_keys', 'PGP-encrypted shares and backups are not supported');
    }
    if (this.#rekey !== undefined)
      throw new CofferError('invalid_request', 'rekey already in progress');
    const secretShares = o.secretShares ?? 0;
    const secretThreshold = o.secretThreshold ?? 0;
    validateShareConfig(secretShares, secretThreshold);
    this.#rekey = {
      progress: new ShareProgress(),
      secretShares,
      secretThreshold,
      requireVerification: o.requireVerification,
    };
    return this.rekeyStatus();
  }

  cancelRekey(): void {
    const a = this.#rekey;
    a?.progress.clear();
    a?.pending?.rootKey.fill(0);
    a?.pending?.unsealKey.fill(0);
    a?.pending?.verify.clear();
    this.#rekey = undefined;
  }

  async updateRekey(
    share: Uint8Array,
    nonce: string | undefined,
  ): Promise<Record<string, unknown>> {
    const a = this.#rekey;
    if (a === undefined) throw new CofferError('invalid_request', 'no rekey in progress');
    if (a.pending !== undefined) {
      throw new CofferError(
        'invalid_request',
        'rekey is waiting for verification of the new shares',
      );
    }
    await this.#seal.checkShare(share);
    a.progress.add(share, nonce);
    const config = await this.#seal.shamirConfig();
    if (a.progress.count < config.secretThreshold) return this.rekeyStatus();
    const shares = a.progress.take();
    let rootKey: Uint8Array;
    try {
      rootKey = await this.#seal.rootKeyFromShares(shares);
    } catch (err) {
      this.cancelRekey();
      throw err;
    } finally {
      for (const s of shares) s.fill(0);
    }
    const { unsealKey, shares: fresh } = await this.#seal.newUnsealKey(
      a.secretShares,
      a.secretThreshold,
    );
    const keys = fresh.map((s) => Buffer.from(s).toString('hex'));
    const keysBase64 = fresh.map((s) => Buffer.from(s).toString('base64'));
    const answer = {
      nonce: a.progress.nonce,
      complete: true,
      keys,
      keys_base64: keysBase64,
      pgp_fingerprints: null,
      backup: false,
      verification_required: a.requireVerification,
    };
    if (a.requireVerification) {
      a.pending = { rootKey, unsealKey, verify: new ShareProgress() };
      return { ...answer, verification_nonce: a.pending.verify.nonce };
    }
    try {
      await this.#seal.installUnsealKey(rootKey, unsealKey, a.secretShares, a.secretThreshold);
    } finally {
      rootKey.fill(0);
      unsealKey.fill(0);
      this.#rekey = undefined;
    }
    return answer;
  }

  verifyStatus(): Record<string, unknown> {
    const a = this.#rekey;
    if (a?.pending === undefined)
      throw new CofferError('invalid_request', 'no rekey configuration found');
    return {
      nonce: a.pending.verify.nonce,
      started: true,
      t: a.secretThreshold,
      n: a.secretShares,
      progress: a.pending.verify.count,
    };
  }

  /** Restarts verification with a new nonce (Vault's DELETE sys/rekey/verify). */
  resetVerify(): Record<string, unknown> {
    const a = this.#rekey;
    if (a?.pending === undefined)
      throw new CofferError('invalid_request', 'no rekey configuration found');
    a.pending.verify.clear();
    a.pending.verify = new ShareProgress();
    return this.verifyStatus();
  }

  /** Takes one of the new shares; at the new threshold they must rebuild the new key. */
  async verifyRekey(
    share: Uint8Array,
    nonce: string | undefined,
  ): Promise<Record<string, unknown>> {
    const a = this.#rekey;
    if (a?.pending === undefined)
      throw new CofferError('invalid_request', 'no rekey configuration found');
    const { pending } = a;
    const expected = a.secretShares === 1 ? 32 : 33;
    if (share.length !== expected)
      throw invalidField('key', `must be ${expected} bytes (hex or base64 encoded)`);
    pending.verify.add(share, nonce);
    if (pending.verify.count < a.secretThreshold) return this.verifyStatus();
    const shares = pending.verify.take();
    let rebuilt: Uint8Array | undefined;
    try {
      rebuilt = await combineShares(shares);
      if (
        rebuilt.length !== pending.unsealKey.length ||
        !timingSafeEqual(rebuilt, pending.unsealKey)
      ) {
        pending.verify = new ShareProgress();
        throw new CofferError(
          'invalid_request',
          'the new unseal keys do not rebuild the new key; verification restarted',
        );
      }
    } finally {
      rebuilt?.fill(0);
      for (const s of shares) s.fill(0);
    }
    const nonceOut = pending.verify.nonce;
    try {
      await this.#seal.installUnsealKey(
        pending.rootKey,
        pending.unsealKey,
        a.secretShares,
        a.secretThreshold,
      );
    } finally {
      this.cancelRekey();
    }
    return { nonce: nonceOut, complete: true };
  }
}
