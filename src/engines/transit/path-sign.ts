// Transit signatures and HMACs: `sign/:name(/:hash)`, `verify/:name(/:hash)`,
// `hmac/:name(/:alg)`. Signatures and HMACs are `vault:v<N>:` + base64, and
// min_decryption_version also gates their verification (as Vault).
import { invalidField } from '../../sdk/errors.js';
import type { FieldSpecs } from '../../sdk/fields.js';
import { definePath, type PathSpec } from '../../sdk/path.js';
import { base64Field, keyName, runBatch, withOptionalSegment } from './common.js';
import {
  hmacWith,
  requireKey,
  signWith,
  verifyHmac,
  verifyWith,
  versionForWriting,
  type SignOptions,
  type TransitKey,
} from './key.js';

const INPUT = { type: 'string', description: 'Base64 input.' } as const;
const BATCH = {
  type: 'any',
  description: 'A list of items; results come in batch_results.',
} as const;
const REFERENCE = { type: 'string', description: 'Echoed back in the result.' } as const;

const SIGN_OPTIONS = {
  hash_algorithm: {
    type: 'string',
    description: 'sha2-256 (default), sha1, sha2-224/384/512, sha3-*, none.',
  },
  algorithm: { type: 'string', description: 'Deprecated name of hash_algorithm.' },
  prehashed: { type: 'bool', description: 'The input is already a digest (RSA pkcs1v15).' },
  signature_algorithm: { type: 'string', description: 'RSA: pss (default) or pkcs1v15.' },
  marshaling_algorithm: { type: 'string', description: 'ECDSA: asn1 (default) or jws.' },
  context: { type: 'string', description: 'Accepted; derived signing keys are not supported.' },
  key_version: { type: 'int', description: 'Version to sign with; 0 = latest.' },
} as const satisfies FieldSpecs;

function str(item: Record<string, unknown>, key: string): string | undefined {
  const v = item[key];
  return typeof v === 'string' ? v : undefined;
}

function signOptions(
  f: {
    hash_algorithm?: string | undefined;
    algorithm?: string | undefined;
    prehashed?: boolean | undefined;
    signature_algorithm?: string | undefined;
    marshaling_algorithm?: string | undefined;
  },
  fromUrl: string | undefined,
): SignOptions {
  const hashAlgorithm =
    (fromUrl !== undefined && fromUrl !== '' ? fromUrl : undefined) ??
    f.hash_algorithm ??
    f.algorithm ??
    'sha2-256';
  const signatureAlgorithm = f.signature_algorithm ?? 'pss';
  if (signatureAlgorithm !== 'pss' && signatureAlgorithm !== 'pkcs1v15') {
    throw invalidField('signature_algorithm', 'must be "pss" or "pkcs1v15"');
  }
  const marshaling = f.marshaling_algorithm ?? 'asn1';
  if (marshaling !== 'asn1' && marshaling !== 'jws') {
    throw invalidField('marshaling_algorithm', 'must be "asn1" or "jws"');
  }
  const prehashed = f.prehashed ?? false;
  if (hashAlgorithm === 'none' && (!prehashed || signatureAlgorithm !== 'pkcs1v15')) {
    throw invalidField(
      'hash_algorithm',
      '"none" needs prehashed=true and signature_algorithm=pkcs1v15',
    );
  }
  return { hashAlgorithm, prehashed, signatureAlgorithm, marshaling };
}

function inputOf(item: Record<string, unknown>): Buffer {
  const input = base64Field(str(item, 'input'), 'input');
  if (input === undefined) throw invalidField('input', 'is required');
  return input;
}

export function pathSign(): PathSpec[] {
  const signOne = (
    key: TransitKey,
    o: SignOptions,
    item: Record<string, unknown>,
    version: number,
  ) =>
    Promise.resolve({ signature: signWith(key, version, inputOf(item), o), key_version: version });

  const sign = definePath({
    pattern: 'sign/:name',
    fields: { input: INPUT, ...SIGN_OPTIONS, reference: REFERENCE, batch_input: BATCH },
    operations: {
      async update(req, f, params) {
        const key = await requireKey(req.storage, keyName(params.name));
        const o = signOptions(f, params.hash);
        const version = versionForWriting(key, f.key_version ?? 0);
        const data = await runBatch(
          f.batch_input,
          { input: INPUT, context: SIGN_OPTIONS.context },
          { ...f },
          (item) => signOne(key, o, item, version),
        );
        return { kind: 'data', data };
      },
    },
    help: 'Signs base64 input with the named key; answers vault:v<N>:<signature>.',
  });

  const verify = definePath({
    pattern: 'verify/:name',
    fields: {
      input: INPUT,
      signature: { type: 'string', description: 'A vault:v<N>: signature.' },
      hmac: { type: 'string', description: 'A vault:v<N>: HMAC, instead of a signature.' },
      ...SIGN_OPTIONS,
      reference: REFERENCE,
      batch_input: BATCH,
    },
    operations: {
      async update(req, f, params) {
        const key = await requireKey(req.storage, keyName(params.name));
        const o = signOptions(f, params.hash);
        const item = {
          input: INPUT,
          signature: { type: 'string', description: '' },
          hmac: { type: 'string', description: '' },
        } as const;
        const data = await runBatch(f.batch_input, item, { ...f }, (one) => {
          const signature = str(one, 'signature');
          const hmac = str(one, 'hmac');
          if ((signature === undefined) === (hmac === undefined)) {
            throw invalidField('signature', 'give exactly one of signature and hmac');
          }
          const valid =
            hmac !== undefined
              ? verifyHmac(key, o.hashAlgorithm, inputOf(one), hmac)
              : verifyWith(key, inputOf(one), signature!, o);
          return Promise.resolve({ valid });
        });
        return { kind: 'data', data };
      },
    },
    help: 'Checks a signature (or an HMAC) of base64 input; answers valid.',
  });

  const hmac = definePath({
    pattern: 'hmac/:name',
    fields: {
      input: INPUT,
      algorithm: { type: 'string', description: 'sha2-256 (default) and the other hash names.' },
      key_version: { type: 'int', description: 'Version to use; 0 = latest.' },
      reference: REFERENCE,
      batch_input: BATCH,
    },
    operations: {
      async update(req, f, params) {
        const key = await requireKey(req.storage, keyName(params.name));
        const algorithm =
          params.alg !== undefined && params.alg !== '' ? params.alg : (f.algorithm ?? 'sha2-256');
        const version = versionForWriting(key, f.key_version ?? 0);
        const data = await runBatch(f.batch_input, { input: INPUT }, { ...f }, (item) =>
          Promise.resolve({
            hmac: hmacWith(key, version, algorithm, inputOf(item)),
            key_version: version,
          }),
        );
        return { kind: 'data', data };
      },
    },
    help: "HMAC of base64 input with the key version's HMAC key; answers vault:v<N>:<base64>.",
  });

  return [
    ...withOptionalSegment(sign, ':hash'),
    ...withOptionalSegment(verify, ':hash'),
    ...withOptionalSegment(hmac, ':alg'),
  ];
}
