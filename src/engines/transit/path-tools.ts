// Transit tools that need no key: `random(/:source)(/:bytes)` and `hash(/:alg)`.
import { createHash, randomBytes } from 'node:crypto';
import { invalidField } from '../../sdk/errors.js';
import { definePath, type PathSpec } from '../../sdk/path.js';
import { base64Field, withOptionalSegment } from './common.js';
import { nodeHash } from './key.js';

const MAX_RANDOM_BYTES = 128 * 1024;

function outputFormat(value: string | undefined, fallback: 'hex' | 'base64'): 'hex' | 'base64' {
  const format = value ?? fallback;
  if (format !== 'hex' && format !== 'base64')
    throw invalidField('format', 'must be "hex" or "base64"');
  return format;
}

export function pathTools(): PathSpec[] {
  const random = definePath({
    pattern: 'random',
    fields: {
      bytes: { type: 'int', description: 'How many bytes; default 32.' },
      format: { type: 'string', description: 'base64 (default) or hex.' },
      source: {
        type: 'string',
        description: 'platform (default), seal or all: all use the OS CSPRNG.',
      },
    },
    operations: {
      update(_req, f, params) {
        // random, random/<bytes>, random/<source>, random/<source>/<bytes>
        let bytes = f.bytes ?? 32;
        let source = f.source ?? 'platform';
        for (const part of [params.source, params.count, params.rest]) {
          if (part === undefined || part === '') continue;
          if (/^\d+$/.test(part)) bytes = Number(part);
          else source = part;
        }
        if (!['platform', 'seal', 'all'].includes(source)) {
          throw invalidField('source', 'must be "platform", "seal" or "all"');
        }
        if (bytes < 1 || bytes > MAX_RANDOM_BYTES) {
          throw invalidField('bytes', `must be between 1 and ${MAX_RANDOM_BYTES}`);
        }
        const out = randomBytes(bytes).toString(outputFormat(f.format, 'base64'));
        return Promise.resolve({ kind: 'data', data: { random_bytes: out } });
      },
    },
    help: 'Random bytes from the operating system CSPRNG.',
  });

  const hash = definePath({
    pattern: 'hash',
    fields: {
      input: { type: 'string', description: 'Base64 input.', required: true },
      algorithm: { type: 'string', description: 'sha2-256 (default), sha2-224/384/512, sha3-*.' },
      format: { type: 'string', description: 'hex (default) or base64.' },
    },
    operations: {
      update(_req, f, params) {
        const algorithm =
          params.alg !== undefined && params.alg !== '' ? params.alg : (f.algorithm ?? 'sha2-256');
        const input = base64Field(f.input, 'input') ?? Buffer.alloc(0);
        const sum = createHash(nodeHash(algorithm, 'algorithm'))
          .update(input)
          .digest(outputFormat(f.format, 'hex'));
        return Promise.resolve({ kind: 'data', data: { sum } });
      },
    },
    help: 'The digest of base64 input.',
  });

  return [
    { ...random, pattern: 'random/:source/:count' },
    ...withOptionalSegment(random, ':rest'),
    ...withOptionalSegment(hash, ':alg'),
  ];
}
