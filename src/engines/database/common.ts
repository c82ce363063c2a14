// Small helpers shared by the database engine's paths: object names, the LIST paths and the
// read/write/delete paths of named records,
// allowed_roles globs, Vault's time format, and the statement-list field coercion.
import type { EngineRequest, EngineResult } from '../../sdk/engine.js';
import { CofferError, invalidField } from '../../sdk/errors.js';
import type { FieldSpecs, FieldValues } from '../../sdk/fields.js';
import type { JsonObject } from '../../sdk/json.js';
import { globMatch } from '../../sdk/text.js';
import { definePath, type PathSpec } from '../../sdk/path.js';
import type { Storage } from '../../sdk/storage.js';

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

/** LIST `<pattern>/`: the names stored under `prefix`; 404 saying "no <noun>" when none. */
export function pathNameList(
  pattern: string,
  prefix: string,
  noun: string,
  help: string,
): PathSpec {
  return definePath({
    pattern,
    fields: {},
    operations: {
      async list(req) {
        const keys = await req.storage.list(prefix);
        if (keys.length === 0) throw new CofferError('not_found', `no ${noun}`);
        return { kind: 'data', data: { keys } };
      },
    },
    help,
  });
}

/** A named record's endpoint (`<kind>/:name`): the path supplies storage and its rules. */
export interface RecordPathSpec<R, F extends FieldSpecs> {
  readonly pattern: string;
  readonly fields: F;
  readonly load: (storage: Storage, name: string) => Promise<R | undefined>;
  /** What a read of a missing record says ("role not found"). */
  readonly notFound: string;
  /** Vault's read shape. SECURITY: never a password. */
  readonly render: (record: R, req: EngineRequest) => JsonObject;
  /** Creates or updates the record; `name` has passed checkName. */
  readonly write: (
    req: EngineRequest,
    fields: FieldValues<F>,
    name: string,
  ) => Promise<EngineResult>;
  /** Removes the record; a missing one is success. */
  readonly delete: (req: EngineRequest, name: string) => Promise<void>;
  readonly help: string;
}

/** Read, create/update and delete of `<kind>/:name`, with its existence check. */
export function pathRecord<R, F extends FieldSpecs>(spec: RecordPathSpec<R, F>): PathSpec {
  async function write(
    req: EngineRequest,
    fields: FieldValues<F>,
    params: Readonly<Record<string, string>>,
  ): Promise<EngineResult> {
    return spec.write(req, fields, checkName(params.name!));
  }
  return definePath({
    pattern: spec.pattern,
    fields: spec.fields,
    operations: {
      async read(req, _fields, params) {
        const record = await spec.load(req.storage, checkName(params.name!));
        if (record === undefined) throw new CofferError('not_found', spec.notFound);
        return { kind: 'data', data: spec.render(record, req) };
      },
      create: write,
      update: write,
      async delete(req, _fields, params) {
        await spec.delete(req, checkName(params.name!));
        return { kind: 'empty' };
      },
    },
    exists: async (req, params) =>
      (await spec.load(req.storage, checkName(params.name!))) !== undefined,
    help: spec.help,
  });
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
