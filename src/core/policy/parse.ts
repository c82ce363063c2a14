// The ACL policy language: policy text (HCL v1, its JSON form, or base64 of either) into the
// policy model of policy.ts, with every error naming its line and column; and policy names.
import { hasTemplate, templateError } from './template.js';
import { Buffer } from 'node:buffer';
import { parseDurationSeconds } from '../../sdk/duration.js';
import { CofferError, invalidField, isCofferError } from '../../sdk/errors.js';
import {
  isHclBody,
  isHclList,
  parseHcl,
  type HclBody,
  type HclItem,
  type HclValue,
} from '../../shared/hcl.js';
import {
  CAPABILITIES,
  type Capability,
  type ParameterValue,
  type PathRule,
  type Policy,
} from './policy.js';

/** Longest accepted policy name, in UTF-16 code units. Vault has no limit; names are keys. */
export const MAX_POLICY_NAME_LENGTH = 256;

/**
 * The canonical form of a policy name: trimmed of all surrounding whitespace (tabs, newlines
 * and Unicode spaces included) and lower-cased, as Vault does before storing or matching.
 * Rejects (invalid_request, field `name`) an empty name, a '/', and control or invisible
 * format characters (zero-width spaces, bidi overrides), which would make two names that look
 * alike differ.
 * SECURITY: `ROOT`, ` root` and `root\t` all become `root`, which the store refuses to write, so
 * no user policy can ever be named like the root policy.
 */
export function normalisePolicyName(raw: string): string {
  const name = raw.trim().toLowerCase();
  if (name === '') throw invalidField('name', 'must not be empty');
  if (name.includes('/')) throw invalidField('name', 'must not contain "/"');
  if (/[\p{Cc}\p{Cf}]/u.test(name)) {
    throw invalidField('name', 'must not contain control or invisible characters');
  }
  if (name.length > MAX_POLICY_NAME_LENGTH) {
    throw invalidField('name', `must be at most ${MAX_POLICY_NAME_LENGTH} characters`);
  }
  return name;
}

/**
 * Parses one policy. `name` is normalised (normalisePolicyName). `text` is HCL v1 or its JSON
 * form; text that is valid standard base64 decoding to UTF-8 text that parses is decoded first
 * (Vault accepts base64 policies), and then `raw` is the decoded text.
 *
 * Top level: optional `name` (ignored: the name comes from the API) and repeated
 * `path "<pattern>" { ... }` blocks; repeated patterns stay separate rules here (each with its
 * line, for explain) and merge in the ACL exactly as identical patterns of different policies
 * do. Block keys: `capabilities`, legacy `policy`, `allowed_parameters`, `denied_parameters`,
 * `required_parameters`, `min_wrapping_ttl`, `max_wrapping_ttl`, `comment`.
 *
 * Deliberate differences from Vault, all stricter, each a clear error: the capabilities
 * `subscribe`, `scan` and `recover` and the Enterprise keys `mfa_methods` and `control_group`
 * are rejected (nothing here would enforce them); a templated path (`{{identity...}}`, see
 * template.ts) with unbalanced braces or an unknown parameter is rejected; an empty pattern is
 * rejected; a key set twice in one block is rejected.
 *
 * Throws CofferError('invalid_request', '<line>:<col>: ...'). Messages name keys, patterns and
 * capability words, never parameter values.
 */
export function parsePolicy(name: string, text: string): Policy {
  const normalised = normalisePolicyName(name);
  const { body, raw } = parseSource(text);
  return { name: normalised, rules: readPolicyBody(body), raw };
}

// ---- source: base64 or text ----

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** Control characters other than tab, line feed and carriage return: decoded bytes, not text. */
const BINARY = /[^\P{Cc}\t\n\r]/u;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** The text base64 stands for, or undefined when `text` is not base64 of UTF-8 text. */
function decodeBase64(text: string): string | undefined {
  const compact = text.replace(/[\r\n]/g, '').trim();
  if (compact === '' || !BASE64.test(compact)) return undefined;
  let decoded: string;
  try {
    decoded = utf8.decode(Buffer.from(compact, 'base64'));
  } catch {
    return undefined;
  }
  return BINARY.test(decoded) ? undefined : decoded;
}

function parseSource(text: string): { body: HclBody; raw: string } {
  const decoded = decodeBase64(text);
  let decodedError: unknown;
  if (decoded !== undefined) {
    try {
      return { body: parseHcl(decoded), raw: decoded };
    } catch (error) {
      decodedError = error;
    }
  }
  try {
    return { body: parseHcl(text), raw: text };
  } catch (error) {
    // Text that is base64 of UTF-8 text was meant as base64: its error is the useful one.
    throw decodedError ?? error;
  }
}

// ---- the policy body ----

interface Position {
  readonly line: number;
  readonly column: number;
}

function errorAt(at: Position, message: string): CofferError {
  return new CofferError('invalid_request', `${at.line}:${at.column}: ${message}`);
}

/** A key or pattern as it appears in a message: quoted, escaped, and cut short. */
function quote(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 77)}...` : text);
}

function unknownKey(item: HclItem): CofferError {
  return errorAt(item, `unknown key ${quote(item.key)}`);
}

function readPolicyBody(body: HclBody): PathRule[] {
  const rules: PathRule[] = [];
  let sawName = false;
  for (const item of body.items) {
    if (item.key === 'path') {
      for (const block of pathBlocks(item)) rules.push(readPathBlock(block));
    } else if (item.key === 'name') {
      if (sawName) throw errorAt(item, 'name: set more than once');
      if (item.labels.length > 0 || typeof item.value !== 'string') {
        throw errorAt(item, 'name: must be a string');
      }
      sawName = true;
    } else {
      throw unknownKey(item);
    }
  }
  return rules;
}

interface PathBlock {
  readonly rawPattern: string;
  readonly body: HclBody;
  readonly at: Position;
}

/**
 * The blocks one `path` item stands for. `path "p" { ... }` is one; `path = { "p" = {...} }`
 * gives one per member. Extra labels are keys inside the block: HCL v1's JSON form turns
 * `{"path": {"p": {"allowed_parameters": {...}}}}` into `path "p" "allowed_parameters" {...}`
 * when every value of the block is an object, and this folds it back.
 */
function pathBlocks(item: HclItem): PathBlock[] {
  if (item.labels.length === 0) {
    if (!isHclBody(item.value)) throw errorAt(item, 'path: expected path "<pattern>" { ... }');
    return item.value.items.map((member) =>
      pathBlock(member.key, member.labels, member.value, member),
    );
  }
  const [pattern, ...rest] = item.labels;
  return [pathBlock(pattern!, rest, item.value, item)];
}

function pathBlock(
  rawPattern: string,
  rest: readonly string[],
  value: HclValue,
  at: HclItem,
): PathBlock {
  if (rest.length > 0) {
    const inner: HclItem = {
      key: rest[0]!,
      labels: rest.slice(1),
      value,
      line: at.line,
      column: at.column,
    };
    return { rawPattern, body: { items: [inner] }, at };
  }
  if (!isHclBody(value)) {
    throw errorAt(at, `path ${quote(rawPattern)}: expected a block { ... }`);
  }
  return { rawPattern, body: value, at };
}

const GRANTABLE: ReadonlySet<string> = new Set<Capability>(CAPABILITIES);

/** Capabilities Vault or OpenBao know but Coffer does not enforce. */
const UNSUPPORTED_CAPABILITIES: ReadonlySet<string> = new Set(['subscribe', 'scan', 'recover']);

/** Legacy `policy = "..."` words (vault-api.md §4.1): write has no patch, as in Vault. */
const LEGACY_POLICIES: ReadonlyMap<string, readonly Capability[]> = new Map([
  ['deny', ['deny']],
  ['read', ['read', 'list']],
  ['write', ['create', 'read', 'update', 'delete', 'list']],
  ['sudo', ['create', 'read', 'update', 'delete', 'list', 'sudo']],
]);

type ParameterMap = Map<string, readonly ParameterValue[]>;

function emptyParameters(): ParameterMap {
  return new Map<string, readonly ParameterValue[]>();
}

function readPathBlock(block: PathBlock): PathRule {
  const pattern = normalisePattern(block.rawPattern, block.at);
  const capabilities = new Set<Capability>();
  const seen = new Set<string>();
  let allowed: ParameterMap | undefined;
  let denied: ParameterMap | undefined;
  let required: string[] | undefined;
  let minWrap = 0;
  let maxWrap = 0;
  let maxWrapAt: Position | undefined;

  for (const item of block.body.items) {
    const repeatable = item.key === 'allowed_parameters' || item.key === 'denied_parameters';
    if (!repeatable && seen.has(item.key)) throw errorAt(item, `${item.key}: set more than once`);
    seen.add(item.key);
    // A label on a known key is a misplaced block; an unknown key is reported as such below.
    if (item.labels.length > 0 && KNOWN_BLOCK_KEYS.has(item.key)) {
      throw errorAt(item, `${item.key}: unexpected label ${quote(item.labels[0]!)}`);
    }
    switch (item.key) {
      case 'capabilities':
        for (const capability of readCapabilities(item)) capabilities.add(capability);
        break;
      case 'policy': {
        if (typeof item.value !== 'string') throw errorAt(item, 'policy: must be a string');
        const granted = LEGACY_POLICIES.get(item.value);
        if (granted === undefined) {
          throw errorAt(item, 'policy: must be one of "deny", "read", "write", "sudo"');
        }
        for (const capability of granted) capabilities.add(capability);
        break;
      }
      case 'allowed_parameters':
        allowed = readParameters(item, allowed ?? emptyParameters());
        break;
      case 'denied_parameters':
        denied = readParameters(item, denied ?? emptyParameters());
        break;
      case 'required_parameters':
        required = readStringList(item).map((name) => name.toLowerCase());
        break;
      case 'min_wrapping_ttl':
        minWrap = readDuration(item);
        break;
      case 'max_wrapping_ttl':
        maxWrap = readDuration(item);
        maxWrapAt = item;
        break;
      case 'comment':
        if (typeof item.value !== 'string') throw errorAt(item, 'comment: must be a string');
        break;
      default:
        throw unknownKey(item);
    }
  }

  if (minWrap > 0 && maxWrap > 0 && maxWrap < minWrap) {
    throw errorAt(
      maxWrapAt ?? block.at,
      'max_wrapping_ttl: must not be less than min_wrapping_ttl',
    );
  }

  // `deny` wipes everything else the block says, as in Vault.
  if (capabilities.has('deny')) {
    return { pattern, capabilities: new Set<Capability>(['deny']), line: block.at.line };
  }
  return {
    pattern,
    capabilities,
    ...(allowed === undefined ? {} : { allowedParameters: allowed }),
    ...(denied === undefined ? {} : { deniedParameters: denied }),
    ...(required === undefined ? {} : { requiredParameters: required }),
    ...(minWrap > 0 ? { minWrappingTtlSeconds: minWrap } : {}),
    ...(maxWrap > 0 ? { maxWrappingTtlSeconds: maxWrap } : {}),
    line: block.at.line,
  };
}

const KNOWN_BLOCK_KEYS: ReadonlySet<string> = new Set([
  'capabilities',
  'policy',
  'allowed_parameters',
  'denied_parameters',
  'required_parameters',
  'min_wrapping_ttl',
  'max_wrapping_ttl',
  'comment',
]);

/**
 * A pattern without its leading '/'s, checked: `*` only as the last character, no `+*`, no
 * templating, not empty, no control characters.
 */
function normalisePattern(raw: string, at: Position): string {
  const pattern = raw.replace(/^\/+/, '');
  const shown = quote(raw);
  if (pattern === '') {
    throw errorAt(at, `path ${shown}: the pattern is empty (use "*" to match every path)`);
  }
  if (/\p{Cc}/u.test(pattern))
    throw errorAt(at, `path ${shown}: control characters in the pattern`);
  if (hasTemplate(pattern)) {
    const why = templateError(pattern);
    if (why !== undefined) throw errorAt(at, `path ${shown}: ${why}`);
  }
  if (pattern.includes('+*')) throw errorAt(at, `path ${shown}: "+*" is forbidden`);
  const star = pattern.indexOf('*');
  if (star !== -1 && star !== pattern.length - 1) {
    throw errorAt(at, `path ${shown}: "*" is allowed only as the last character`);
  }
  return pattern;
}

function readCapabilities(item: HclItem): Capability[] {
  const out: Capability[] = [];
  for (const word of readStringList(item)) {
    if (UNSUPPORTED_CAPABILITIES.has(word)) {
      throw errorAt(item, `capabilities: capability ${quote(word)} is not supported`);
    }
    if (!GRANTABLE.has(word))
      throw errorAt(item, `capabilities: unknown capability ${quote(word)}`);
    out.push(word as Capability);
  }
  return out;
}

function readStringList(item: HclItem): string[] {
  const value = item.value;
  if (!isHclList(value)) throw errorAt(item, `${item.key}: must be a list of strings`);
  const out: string[] = [];
  for (const element of value) {
    if (typeof element !== 'string') throw errorAt(item, `${item.key}: must be a list of strings`);
    out.push(element);
  }
  return out;
}

/**
 * `allowed_parameters` / `denied_parameters`: parameter name → list of allowed (denied) values,
 * `[]` meaning any value; `"*"` as a name stands for every parameter. Both `= { ... }` and the
 * block form parse the same. Names are lower-cased; a name given twice is an error.
 */
function readParameters(item: HclItem, into: ParameterMap): ParameterMap {
  if (!isHclBody(item.value)) throw errorAt(item, `${item.key}: must be a map of parameter lists`);
  for (const entry of item.value.items) {
    const name = entry.key.toLowerCase();
    if (entry.labels.length > 0 || !isHclList(entry.value)) {
      throw errorAt(entry, `${item.key}: ${quote(entry.key)} must be a list of values`);
    }
    if (into.has(name))
      throw errorAt(entry, `${item.key}: ${quote(entry.key)} is set more than once`);
    const values: ParameterValue[] = [];
    for (const value of entry.value) {
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
        throw errorAt(
          entry,
          `${item.key}: ${quote(entry.key)} values must be strings, numbers or booleans`,
        );
      }
      values.push(value);
    }
    into.set(name, values);
  }
  return into;
}

function readDuration(item: HclItem): number {
  try {
    return parseDurationSeconds(item.value, item.key);
  } catch (error) {
    if (isCofferError(error)) throw errorAt(item, error.message);
    throw error;
  }
}
