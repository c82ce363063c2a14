// Endpoint shapes many engines share: LIST of named records stored under one prefix (roles,
// users, connections), and one named record's read, create/update and delete with its
// existence check. Engines supply storage, Vault's read shape and their write rules.
import { CofferError } from './errors.js';
import type { EngineRequest, EngineResult } from './engine.js';
import type { FieldSpecs, FieldValues } from './fields.js';
import type { JsonObject } from './json.js';
import { definePath, type PathSpec } from './path.js';
import type { Storage } from './storage.js';

export interface NameListSpec {
  /** The path listed, without its trailing slash ("role"). */
  readonly pattern: string;
  /** The storage prefix the records live under ("role/"). */
  readonly prefix: string;
  /** What a list of none says it has none of ("roles" gives "no roles"). */
  readonly noun: string;
  readonly help: string;
}

/** LIST `<pattern>/`: the names stored under `prefix` (sub-folders left out); 404 when none. */
export function pathNameList(spec: NameListSpec): PathSpec {
  return definePath({
    pattern: spec.pattern,
    fields: {},
    operations: {
      async list(req) {
        const keys = (await req.storage.list(spec.prefix)).filter((k) => !k.endsWith('/'));
        if (keys.length === 0) throw new CofferError('not_found', `no ${spec.noun}`);
        return { kind: 'data', data: { keys } };
      },
    },
    help: spec.help,
  });
}

/** One named record's endpoint: the engine supplies storage and its write and delete rules. */
export interface NamedRecordSpec<R, F extends FieldSpecs> {
  /** E.g. "role/:name"; `param` names the segment that holds the record's name. */
  readonly pattern: string;
  readonly param: string;
  readonly fields: F;
  /** The stored form of a name from the path; throws for one it cannot be. */
  readonly canonicalName: (raw: string) => string;
  readonly read: (storage: Storage, name: string) => Promise<R | undefined>;
  /** Vault's read shape. SECURITY: never a credential of the record. */
  readonly render: (record: R, req: EngineRequest) => JsonObject;
  /** What a read of a missing record says ("role not found"). */
  readonly notFound: string;
  /** Creates or updates the record named `name` (already canonical). */
  readonly write: (
    req: EngineRequest,
    fields: FieldValues<F>,
    name: string,
  ) => Promise<EngineResult>;
  /** Removes the record and what belongs to it; a missing record is success. */
  readonly delete: (req: EngineRequest, name: string) => Promise<void>;
  readonly help: string;
}

/** Read, create/update and delete of one named record, with its existence check. */
export function pathNamedRecord<R, F extends FieldSpecs>(spec: NamedRecordSpec<R, F>): PathSpec {
  const nameOf = (params: Readonly<Record<string, string>>): string =>
    spec.canonicalName(params[spec.param] ?? '');
  async function write(
    req: EngineRequest,
    fields: FieldValues<F>,
    params: Readonly<Record<string, string>>,
  ): Promise<EngineResult> {
    return spec.write(req, fields, nameOf(params));
  }
  return definePath({
    pattern: spec.pattern,
    fields: spec.fields,
    operations: {
      async read(req, _fields, params) {
        const record = await spec.read(req.storage, nameOf(params));
        if (record === undefined) throw new CofferError('not_found', spec.notFound);
        return { kind: 'data', data: spec.render(record, req) };
      },
      create: write,
      update: write,
      async delete(req, _fields, params) {
        await spec.delete(req, nameOf(params));
        return { kind: 'empty' };
      },
    },
    exists: async (req, params) => (await spec.read(req.storage, nameOf(params))) !== undefined,
    help: spec.help,
  });
}
