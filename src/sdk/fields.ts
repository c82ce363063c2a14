// Field schemas for engine paths, with the weak coercion Vault clients rely on: numbers and
// booleans as strings, durations as ints or Go strings, lists as arrays or comma-separated.
import { invalidField } from './errors.js';
import { parseDurationSeconds } from './duration.js';
import { isPlainObject, type JsonObject } from './json.js';

export type FieldType =
  | 'string'
  | 'int'
  | 'bool'
  | 'duration'
  | 'map'
  | 'string-map'
  | 'string-list'
  | 'int-list'
  | 'any';

export interface FieldSpec {
  readonly type: FieldType;
  readonly description: string;
  readonly required?: boolean;
}

export type FieldSpecs = Readonly<Record<string, FieldSpec>>;

type ValueOf<T extends FieldType> = T extends 'string'
  ? string
  : T extends 'int' | 'duration'
    ? number
    : T extends 'bool'
      ? boolean
      : T extends 'map'
        ? JsonObject
        : T extends 'string-map'
          ? Record<string, string>
          : T extends 'string-list'
            ? string[]
            : T extends 'int-list'
              ? number[]
              : unknown;

/** Values after coercion; a field the caller did not send is `undefined`. */
export type FieldValues<F extends FieldSpecs> = {
  readonly [K in keyof F]: ValueOf<F[K]['type']> | undefined;
};

const TRUE_WORDS = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE_WORDS = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** Go strconv.ParseBool, the rule Vault uses for boolean query parameters and fields. */
export function parseBool(value: unknown, field: string): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number' && (value === 0 || value === 1)) return value === 1;
  if (typeof value === 'string') {
    if (TRUE_WORDS.has(value)) return true;
    if (FALSE_WORDS.has(value)) return false;
  }
  throw invalidField(field, 'must be a boolean');
}

export function parseInt64(value: unknown, field: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) {
    const n = Number.parseInt(value.trim(), 10);
    if (Number.isSafeInteger(n)) return n;
  }
  throw invalidField(field, 'must be an integer');
}

function parseStringList(value: unknown, field: string): string[] {
  if (Array.isArray(value)) {
    return value.map((item) => {
      if (typeof item === 'string') return item.trim();
      if (typeof item === 'number' || typeof item === 'boolean') return String(item);
      throw invalidField(field, 'must be a list of strings');
    });
  }
  if (typeof value === 'string') {
    return value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }
  throw invalidField(field, 'must be a list of strings or a comma-separated string');
}

/** An object's members as strings (numbers and booleans written out); others refused by name. */
export function parseStringMap(
  value: Readonly<Record<string, unknown>>,
  field: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v === 'string') out[k] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
    else throw invalidField(`${field}.${k}`, 'must be a string');
  }
  return out;
}

export function coerceField(type: FieldType, value: unknown, field: string): unknown {
  switch (type) {
    case 'string':
      if (typeof value === 'string') return value;
      if (typeof value === 'number' || typeof value === 'boolean') return String(value);
      throw invalidField(field, 'must be a string');
    case 'int':
      return parseInt64(value, field);
    case 'bool':
      return parseBool(value, field);
    case 'duration':
      return parseDurationSeconds(value, field);
    case 'map':
      if (isPlainObject(value)) return value;
      if (typeof value === 'string' && value.trim().startsWith('{')) {
        try {
          const parsed: unknown = JSON.parse(value);
          if (isPlainObject(parsed)) return parsed;
        } catch {
          // fall through to the error below
        }
      }
      throw invalidField(field, 'must be an object');
    case 'string-map':
      if (!isPlainObject(value)) throw invalidField(field, 'must be an object of strings');
      return parseStringMap(value, field);
    case 'string-list':
      return parseStringList(value, field);
    case 'int-list':
      if (Array.isArray(value)) return value.map((v, i) => parseInt64(v, `${field}[${i}]`));
      return parseStringList(value, field).map((v) => parseInt64(v, field));
    case 'any':
      return value;
  }
}

/**
 * Edit distance with adjacent transpositions (optimal string alignment): how many single
 * insertions, deletions, substitutions or swaps of neighbours turn `a` into `b`. Stops early
 * once every cell of a row is above `limit` (the caller only asks "within two?").
 */
export function editDistance(a: string, b: string, limit = Number.POSITIVE_INFINITY): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let prev2: number[] = [];
  let prev: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row: number[] = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, prev2[j - 2]! + 1);
      }
      row.push(d);
      best = Math.min(best, d);
    }
    if (best > limit) return limit + 1;
    prev2 = prev;
    prev = row;
  }
  return prev[b.length]!;
}

/** How far (in edits) an unknown field may be from a known one and still count as its typo. */
const TYPO_DISTANCE = 2;

/** Vault's warning for fields an endpoint does not know. */
export function unknownFieldsWarning(names: readonly string[]): string {
  return `Endpoint ignored these unrecognized parameters: [${names.join(' ')}]`;
}

/**
 * The request fields `specs` does not know, as Vault treats them: ignored with a warning
 * (older clients send fields newer servers dropped). SECURITY: a field within two edits of
 * a known one is a likely typo ("polices", "tll") and a silently ignored typo could leave a
 * policy-relevant setting at its default, so that is a 400 naming the field meant.
 */
export function unknownFields(
  specs: FieldSpecs,
  data: Readonly<Record<string, unknown>>,
  ignore: ReadonlySet<string> = new Set(),
): string[] {
  const unknown: string[] = [];
  const known = Object.keys(specs);
  for (const key of Object.keys(data)) {
    if (Object.hasOwn(specs, key) || ignore.has(key)) continue;
    let meant: string | undefined;
    let meantDistance = TYPO_DISTANCE + 1;
    for (const name of known) {
      const d = editDistance(key, name, TYPO_DISTANCE);
      if (d < meantDistance) {
        meant = name;
        meantDistance = d;
      }
    }
    if (meant !== undefined) throw invalidField(key, `unknown field; did you mean "${meant}"?`);
    unknown.push(key);
  }
  return unknown;
}

/**
 * Validates and coerces raw request data against a schema. Unknown fields: with `warnings`
 * given, each is ignored and named in one warning there (Vault's behaviour, for endpoints
 * whose result carries warnings back); without it they are refused (fail closed, for the
 * few inputs that have no response to warn in). A likely typo is always a 400.
 */
export function parseFields<F extends FieldSpecs>(
  specs: F,
  data: Readonly<Record<string, unknown>>,
  ignore: ReadonlySet<string> = new Set(),
  warnings?: string[],
): FieldValues<F> {
  const out: Record<string, unknown> = {};
  const unknown = unknownFields(specs, data, ignore);
  if (unknown.length > 0) {
    if (warnings === undefined) throw invalidField(unknown[0]!, 'unknown field');
    warnings.push(unknownFieldsWarning(unknown));
  }
  for (const [key, spec] of Object.entries(specs)) {
    const raw = data[key];
    if (raw === undefined || raw === null) {
      if (spec.required === true) throw invalidField(key, 'is required');
      out[key] = undefined;
      continue;
    }
    out[key] = coerceField(spec.type, raw, key);
  }
  return out as FieldValues<F>;
}
