// `sys/tools/random` and `sys/tools/hash`: random bytes from the system CSPRNG and digests of
// caller-supplied input, as Vault serves them.
import { createHash, randomBytes } from 'node:crypto';
import { invalidField } from '../sdk/errors.js';
import type { FieldSpecs } from '../sdk/fields.js';
import { definePath, type PathSpec } from '../sdk/path.js';
import type { Caller } from './caller.js';

/** Vault's upper bound for one request. */
const MAX_RANDOM_BYTES = 128 * 1024;
const SOURCES = new Set(['platform', 'seal', 'all']);

/** Vault's algorithm names → node:crypto's. */
const ALGORITHMS: Readonly<Record<string, string>> = {
  'sha2-224': 'sha224',
  'sha2-256': 'sha256',
  'sha2-384': 'sha384',
  'sha2-512': 'sha512',
  'sha3-224': 'sha3-224',
  'sha3-256': 'sha3-256',
  'sha3-384': 'sha3-384',
  'sha3-512': 'sha3-512',
};

function encode(bytes: Buffer, format: string | undefined): string {
  const chosen = format ?? 'base64';
  if (chosen === 'base64') return bytes.toString('base64');
  if (chosen === 'hex') return bytes.toString('hex');
  throw invalidField('format', 'must be "base64" or "hex"');
}

const RANDOM_FIELDS = {
  bytes: { type: 'int', description: 'How many bytes (default 32, at most 131072).' },
  format: { type: 'string', description: '"base64" (default) or "hex".' },
  source: {
    type: 'string',
    description: '"platform" (default), "seal" or "all": all the OS CSPRNG here.',
  },
} as const satisfies FieldSpecs;

const HASH_FIELDS = {
  input: { type: 'string', description: 'The data to hash, base64-encoded.', required: true },
  algorithm: {
    type: 'string',
    description: 'sha2-256 (default), sha2-224/384/512, sha3-224/256/384/512.',
  },
  format: { type: 'string', description: '"hex" (default) or "base64".' },
} as const satisfies FieldSpecs;

export function toolPaths(): PathSpec<FieldSpecs, Caller>[] {
  const random = definePath<typeof RANDOM_FIELDS, Caller>({
    // One or two optional segments: `random/<source>/<bytes>`, `random/<source>` or `random/<bytes>`.
    pattern: 'tools/random/:urlsource*',
    fields: RANDOM_FIELDS,
    help: 'Random bytes from the operating system CSPRNG.',
    operations: {
      update: (_req, fields, params) => {
        const segments = (params.urlsource ?? '').split('/').filter((s) => s !== '');
        if (segments.length > 2)
          throw invalidField('path', 'expected tools/random[/source][/bytes]');
        let source = fields.source;
        let count = fields.bytes;
        for (const segment of segments) {
          if (/^\d+$/.test(segment)) count = Number.parseInt(segment, 10);
          else source = segment;
        }
        if (source !== undefined && !SOURCES.has(source)) {
          throw invalidField('source', 'must be "platform", "seal" or "all"');
        }
        const bytes = count ?? 32;
        if (!Number.isSafeInteger(bytes) || bytes < 1 || bytes > MAX_RANDOM_BYTES) {
          throw invalidField('bytes', `must be between 1 and ${MAX_RANDOM_BYTES}`);
        }
        return Promise.resolve({
          kind: 'data',
          data: { random_bytes: encode(randomBytes(bytes), fields.format) },
        });
      },
    },
  });

  const hash = definePath<typeof HASH_FIELDS, Caller>({
    pattern: 'tools/hash/:urlalgorithm*',
    fields: HASH_FIELDS,
    help: 'A digest of base64-encoded input.',
    operations: {
      update: (_req, fields, params) => {
        const fromPath = params.urlalgorithm ?? '';
        const algorithm = ALGORITHMS[fromPath !== '' ? fromPath : (fields.algorithm ?? 'sha2-256')];
        if (algorithm === undefined)
          throw invalidField('algorithm', 'is not a supported algorithm');
        const text = fields.input ?? '';
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw invalidField('input', 'must be base64');
        const digest = createHash(algorithm).update(Buffer.from(text, 'base64')).digest();
        const format = fields.format ?? 'hex';
        if (format !== 'hex' && format !== 'base64') {
          throw invalidField('format', 'must be "hex" or "base64"');
        }
        return Promise.resolve({ kind: 'data', data: { sum: digest.toString(format) } });
      },
    },
  });

  // The same endpoints without the optional path segments.
  return [
    random,
    definePath({ ...random, pattern: 'tools/random' }),
    hash,
    definePath({ ...hash, pattern: 'tools/hash' }),
  ];
}
