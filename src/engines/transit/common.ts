// What the transit paths share: key names, base64 inputs, batch_input handling.
import { CofferError, invalidField, isCofferError } from '../../sdk/errors.js';
import { coerceField, type FieldSpecs } from '../../sdk/fields.js';
import { isPlainObject, type JsonObject } from '../../sdk/json.js';
import type { PathSpec } from '../../sdk/path.js';

const NAME = /^[\w.-]{1,256}$/;

/** A key name from the path: letters, digits, "_", "-" and "."; not "." or "..". */
export function keyName(raw: string | undefined): string {
  const name = raw ?? '';
  if (!NAME.test(name) || name === '.' || name === '..') {
    throw invalidField('name', 'must be letters, digits, "_", "-" and "."');
  }
  return name;
}

/** A base64 input (plaintext, context, nonce, input); `undefined` stays undefined. */
export function base64Field(value: string | undefined, field: string): Buffer | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 === 1) {
    throw invalidField(field, 'must be base64');
  }
  return Buffer.from(text, 'base64');
}

/**
 * Runs `one` over `batch_input` items (each checked against `itemFields`), or over the single
 * top-level request. Item errors stay in the item (`error`), as Vault ≤1.9 answers and hvac
 * reads; an item's `reference` is echoed back.
 */
export async function runBatch(
  batch: unknown,
  itemFields: FieldSpecs,
  single: Record<string, unknown>,
  one: (item: Record<string, unknown>) => Promise<JsonObject>,
): Promise<JsonObject> {
  if (batch === undefined || batch === null) return one(single);
  if (!Array.isArray(batch) || batch.length === 0) {
    throw invalidField('batch_input', 'must be a non-empty list of objects');
  }
  if (batch.length > 10_000) throw invalidField('batch_input', 'holds more than 10000 items');
  const results: JsonObject[] = [];
  for (const [i, raw] of batch.entries()) {
    if (!isPlainObject(raw)) throw invalidField(`batch_input[${i}]`, 'must be an object');
    const item: Record<string, unknown> = {};
    for (const [key, spec] of Object.entries(itemFields)) {
      const value = raw[key];
      if (value !== undefined && value !== null) {
        item[key] = coerceField(spec.type, value, `batch_input[${i}].${key}`);
      }
    }
    const reference = typeof raw.reference === 'string' ? raw.reference : '';
    try {
      results.push({ ...(await one(item)), reference });
    } catch (err) {
      if (!isCofferError(err) || err.code !== 'invalid_request') throw err;
      results.push({ error: err.message, reference });
    }
  }
  return { batch_results: results };
}

export function notSupported(what: string): CofferError {
  return new CofferError('invalid_request', what);
}

/**
 * A path with an optional last segment (`sign/:name` and `sign/:name/:hash`): the same spec
 * under both patterns; handlers see the segment's param undefined on the short one.
 */
export function withOptionalSegment<F extends FieldSpecs>(
  spec: PathSpec<F>,
  segment: string,
): PathSpec<F>[] {
  return [{ ...spec, pattern: `${spec.pattern}/${segment}` }, spec];
}
