// Request bodies: size, nesting depth, string, number and element-count limits checked on the
// raw text before JSON.parse, so a hostile body costs a linear scan and nothing more.
import { CofferError } from '../sdk/errors.js';
import { isPlainObject } from '../sdk/json.js';

export interface BodyLimits {
  /** Maximum nesting of objects and arrays. */
  readonly maxDepth: number;
  /** Maximum number of JSON strings (keys and values together). */
  readonly maxStrings: number;
  /** Maximum number of JSON numbers. */
  readonly maxNumbers: number;
  /** Maximum number of array elements plus object members, over the whole body. */
  readonly maxElements: number;
}

export const DEFAULT_BODY_LIMITS: BodyLimits = {
  maxDepth: 64,
  maxStrings: 100_000,
  maxNumbers: 100_000,
  maxElements: 200_000,
};

/** Bytes a request without a live token may send (login paths excepted); see app.ts. */
export const UNAUTHENTICATED_BODY_LIMIT_BYTES = 64 * 1024;

function tooMany(what: string, limit: number): CofferError {
  return new CofferError('invalid_request', `body: more than ${limit} ${what}`, { field: 'body' });
}

/** Characters that may continue a JSON number once one has started. */
function isNumberChar(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d
  );
}

/** Linear scan that enforces the limits without building anything. */
export function checkJsonLimits(text: string, limits: BodyLimits): void {
  let depth = 0;
  let strings = 0;
  let numbers = 0;
  // Separators plus opened containers: at least the number of elements and members.
  let elements = 0;
  let inString = false;
  let inNumber = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (inNumber && isNumberChar(c)) continue;
    inNumber = false;
    if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      inNumber = true;
      if (++numbers > limits.maxNumbers) throw tooMany('JSON numbers', limits.maxNumbers);
    } else if (c === 0x2c /* , */) {
      if (++elements > limits.maxElements) {
        throw tooMany('array elements and object members', limits.maxElements);
      }
    } else if (c === 0x22) {
      inString = true;
      if (++strings > limits.maxStrings) throw tooMany('JSON strings', limits.maxStrings);
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++elements > limits.maxElements) {
        throw tooMany('array elements and object members', limits.maxElements);
      }
      if (++depth > limits.maxDepth) {
        throw new CofferError(
          'invalid_request',
          `body: JSON nested deeper than ${limits.maxDepth}`,
          {
            field: 'body',
          },
        );
      }
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
}

/**
 * Parses a request body into request data. Empty → {}. JSON must be an object; a form body
 * (application/x-www-form-urlencoded not starting with "{") becomes string fields.
 */
export function parseBody(
  text: string,
  contentType: string | undefined,
  limits: BodyLimits,
): Record<string, unknown> {
  const trimmed = text.trimStart();
  if (trimmed === '') return {};
  const isForm =
    contentType?.toLowerCase().startsWith('application/x-www-form-urlencoded') === true &&
    !trimmed.startsWith('{') &&
    !trimmed.startsWith('[');
  if (isForm) {
    const out: Record<string, unknown> = {};
    const params = new URLSearchParams(text);
    if ([...params.keys()].length > limits.maxStrings) {
      throw new CofferError('invalid_request', `body: more than ${limits.maxStrings} fields`);
    }
    for (const [k, v] of params) out[k] = v;
    return out;
  }
  checkJsonLimits(trimmed, limits);
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    // SECURITY: the parser's message quotes the body; never echo it.
    throw new CofferError('invalid_request', 'body: malformed JSON', { field: 'body' });
  }
  if (!isPlainObject(parsed)) {
    throw new CofferError('invalid_request', 'body: must be a JSON object', { field: 'body' });
  }
  return parsed;
}
