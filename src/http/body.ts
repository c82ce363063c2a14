// Request bodies: size, nesting depth and string-count limits checked on the raw text before
// JSON.parse, so a hostile body costs a linear scan and nothing more.
import { CofferError } from '../sdk/errors.js';
import { isPlainObject } from '../sdk/json.js';

export interface BodyLimits {
  /** Maximum nesting of objects and arrays. */
  readonly maxDepth: number;
  /** Maximum number of JSON strings (keys and values together). */
  readonly maxStrings: number;
}

export const DEFAULT_BODY_LIMITS: BodyLimits = { maxDepth: 64, maxStrings: 100_000 };

/** Linear scan that enforces the limits without building anything. */
export function checkJsonLimits(text: string, limits: BodyLimits): void {
  let depth = 0;
  let strings = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      if (++strings > limits.maxStrings) {
        throw new CofferError(
          'invalid_request',
          `body: more than ${limits.maxStrings} JSON strings`,
          { field: 'body' },
        );
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
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
