// Small helpers shared by the database engine's paths: object names, the LIST and named-record
// paths (the SDK's, with the engine's name rule), allowed_roles globs, and the statement-list
// field coercion.
import { CofferError, invalidField } from '../../sdk/errors.js';
import type { FieldSpecs } from '../../sdk/fields.js';
import { globMatch } from '../../sdk/text.js';
import type { PathSpec } from '../../sdk/path.js';
import {
  pathNameList as sharedNameList,
  pathNamedRecord,
  type NamedRecordSpec,
} from '../../sdk/record-paths.js';

/**
 * Vault's GenericNameRegex: word characters, '-' and '.', not starting or ending with '-'
 * or '.'. A name outside it is not a path Vault would route, so it is refused the same way.
 */
const NAME = /^\w(?:[\w.-]*\w)?$/;

/** A connection name given in a field (db_name): refused as that field, not as a path. */
export function checkNameField(name: string, field: string): string {
  if (!NAME.test(name)) throw invalidField(field, 'is not a valid connection name');
  return name;
}

export function checkName(name: string): string {
  if (!NAME.test(name)) throw new CofferError('unsupported_path', 'unsupported path');
  return name;
}

/** LIST `<pattern>/` of the records under `prefix`; 404 saying "no <noun>" when none. */
export function pathNameList(
  pattern: string,
  prefix: string,
  noun: string,
  help: string,
): PathSpec {
  return sharedNameList({ pattern, prefix, noun, help });
}

/** A named record's endpoint (`<kind>/:name`), names checked by checkName. */
export function pathRecord<R, F extends FieldSpecs>(
  spec: Omit<NamedRecordSpec<R, F>, 'param' | 'canonicalName' | 'read'> & {
    readonly load: NamedRecordSpec<R, F>['read'];
  },
): PathSpec {
  const { load, ...rest } = spec;
  return pathNamedRecord({ ...rest, read: load, param: 'name', canonicalName: checkName });
}

/**
 * Vault's `StrListContainsGlob` over go-glob: each `*` matches any run of characters
 * (including none); everything else is literal.
 */
export function globListContains(patterns: readonly string[], value: string): boolean {
  return patterns.some((pattern) => globMatch(pattern, value));
}

/**
 * A statements field as Vault's TypeStringSlice decodes it: a JSON list of strings, or one
 * string taken as a single entry (never split on commas: SQL is full of them). Empty entries
 * are dropped.
 */
export function parseStatementList(value: unknown, field: string): string[] {
  if (value === undefined || value === null) return [];
  const items = Array.isArray(value) ? (value as unknown[]) : [value];
  return items
    .map((item, i) => {
      if (typeof item !== 'string') throw invalidField(`${field}[${i}]`, 'must be a string');
      return item.trim();
    })
    .filter((item) => item !== '');
}

/**
 * Serialises work per key inside one engine instance (rotation of one static role, rotate-root
 * of one connection). Not a cross-node lock: rotation runs only on the active node.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.catch(() => undefined).then(fn);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await result;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
