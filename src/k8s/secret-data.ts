// From the reads of a CofferSecret's sources to the Secret's data: keys picked and renamed per
// source, key templates rendered over the result, and the HMAC that says whether anything
// changed (kept on the Secret and in the resource's status; a plain hash of secret values would
// let anyone who can read a Deployment guess weak values offline).
import { createHmac } from 'node:crypto';
import Handlebars from 'handlebars';
import { targetId, valueText } from '../client/index.js';
import type { ReadTarget, SecretRead } from '../client/index.js';
import { SpecError } from './crd.js';
import type { CofferSecretSpec, SourceSpec } from './crd.js';

/** Kubernetes refuses Secrets above 1 MiB. */
export const MAX_SECRET_BYTES = 1024 * 1024;

export function sourceTarget(source: SourceSpec): ReadTarget {
  return source.version === undefined
    ? { kind: 'kv', path: source.path }
    : { kind: 'kv', path: source.path, version: source.version };
}

/**
 * The Secret's string data. Throws SpecError (naming the source or key, never a value) when a
 * key is missing, given twice, or a template fails.
 */
export function buildSecretData(
  spec: CofferSecretSpec,
  reads: ReadonlyMap<string, SecretRead>,
): Record<string, string> {
  const data: Record<string, string> = {};
  const put = (key: string, value: string, where: string) => {
    if (Object.hasOwn(data, key)) throw new SpecError(`${where}: key "${key}" is given twice`);
    data[key] = value;
  };
  spec.sources.forEach((source, i) => {
    const where = `spec.sources[${i}]`;
    const read = reads.get(targetId(sourceTarget(source)));
    if (read === undefined) throw new SpecError(`${where}: ${source.path} was not read`);
    if (source.keys === undefined) {
      for (const [key, value] of Object.entries(read.data)) {
        if (!/^[-._a-zA-Z0-9]{1,253}$/.test(key)) {
          throw new SpecError(
            `${where}: the secret has key "${key}", not valid in a Secret; map it with keys`,
          );
        }
        put(key, valueText(value), where);
      }
      return;
    }
    for (const [targetKey, sourceKey] of Object.entries(source.keys)) {
      if (!Object.hasOwn(read.data, sourceKey)) {
        throw new SpecError(`${where}: no key "${sourceKey}" in the secret at ${source.path}`);
      }
      put(targetKey, valueText(read.data[sourceKey]), where);
    }
  });
  const context = Object.freeze({ ...data });
  for (const [key, text] of Object.entries(spec.target.templates)) {
    put(
      key,
      renderTemplate(text, context, `spec.target.templates.${key}`),
      'spec.target.templates',
    );
  }
  const size = Object.entries(data).reduce((n, [k, v]) => n + k.length + Buffer.byteLength(v), 0);
  if (size > MAX_SECRET_BYTES) throw new SpecError('the Secret would exceed 1 MiB');
  return data;
}

/** Strict, unescaped Handlebars with only the built-in helpers; the data is the merged keys. */
function renderTemplate(text: string, context: Readonly<Record<string, string>>, where: string) {
  const options = { noEscape: true, strict: true, knownHelpersOnly: true };
  try {
    const hb = Handlebars.create();
    hb.precompile(text, options);
    return hb.compile(text, options)(context);
  } catch (error) {
    // Handlebars quotes the template around the error: keep its first line only.
    const first = (error instanceof Error ? error.message : 'invalid template').split('\n')[0];
    throw new SpecError(`${where}: ${first ?? 'invalid template'}`);
  }
}

/** HMAC-SHA256 over the type and the sorted keys and values, hex. */
export function dataMac(key: Buffer, type: string, data: Readonly<Record<string, string>>): string {
  const mac = createHmac('sha256', key);
  mac.update(`type\0${type}\0`);
  for (const k of Object.keys(data).sort()) mac.update(`${k}\0${data[k]!}\0`);
  return mac.digest('hex');
}
