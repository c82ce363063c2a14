// The engine path framework: an engine is data (patterns, fields, operations, help) and this
// module turns that data into a SecretEngine. Patterns use ':name' for one segment and
// ':name*' for the rest of the path (possibly empty, possibly with slashes).
import { CofferError } from './errors.js';
import {
  withWarnings,
  type EngineRequest,
  type EngineResult,
  type Operation,
  type SecretEngine,
} from './engine.js';
import { parseFields, type FieldSpecs, type FieldValues } from './fields.js';

/**
 * Declared through a method signature so a path with specific fields can be listed among
 * paths with other fields (method parameters are checked bivariantly).
 */
export type PathHandler<F extends FieldSpecs, C = unknown> = {
  handle(
    req: EngineRequest,
    fields: FieldValues<F>,
    params: Readonly<Record<string, string>>,
    context: C,
  ): Promise<EngineResult>;
}['handle'];

/**
 * One endpoint group. `C` is extra context the dispatcher passes to handlers: nothing for
 * engines; the caller for the core's own backends (see createContextPathEngine).
 */
export interface PathSpec<F extends FieldSpecs = FieldSpecs, C = unknown> {
  readonly pattern: string;
  readonly fields: F;
  /** Pass the raw data through unvalidated (KV v1 writes store whatever the body holds). */
  readonly arbitraryFields?: boolean;
  readonly operations: Partial<Record<Operation, PathHandler<F, C>>>;
  readonly exists?: (
    req: EngineRequest,
    params: Readonly<Record<string, string>>,
  ) => Promise<boolean>;
  readonly help: string;
}

/** Identity helper so each path's handlers are typed by its own fields. */
export function definePath<F extends FieldSpecs, C = unknown>(
  spec: PathSpec<F, C>,
): PathSpec<F, C> {
  return spec;
}

interface CompiledPath<C> {
  readonly spec: PathSpec<FieldSpecs, C>;
  readonly regex: RegExp;
  readonly names: readonly string[];
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function compilePattern(pattern: string): { regex: RegExp; names: string[] } {
  const names: string[] = [];
  const source = pattern
    .split('/')
    .map((segment) => {
      const m = /^:([a-z_]+)(\*?)$/.exec(segment);
      if (m === null) return escapeRegex(segment);
      names.push(m[1]!);
      return m[2] === '*' ? '(.*)' : '([^/]+)';
    })
    .join('/');
  // A trailing '/' (list requests) is allowed on every pattern.
  return { regex: new RegExp(`^${source}/?$`), names };
}

function match<C>(
  paths: readonly CompiledPath<C>[],
  path: string,
): { compiled: CompiledPath<C>; params: Record<string, string> } | undefined {
  for (const compiled of paths) {
    const m = compiled.regex.exec(path);
    if (m === null) continue;
    const params: Record<string, string> = {};
    compiled.names.forEach((name, i) => {
      params[name] = m[i + 1] ?? '';
    });
    return { compiled, params };
  }
  return undefined;
}

/** A path engine whose handlers also receive a context value on every call. */
export interface ContextPathEngine<C> {
  handle(req: EngineRequest, context: C): Promise<EngineResult>;
  exists(req: EngineRequest): Promise<boolean | undefined>;
}

/**
 * Assembles a dispatcher from path specs; the first matching pattern wins. The core's own
 * backends use it with the caller as context; engines use createPathEngine.
 */
export function createContextPathEngine<C>(
  specs: readonly PathSpec<FieldSpecs, C>[],
): ContextPathEngine<C> {
  const paths: CompiledPath<C>[] = specs.map((spec) => ({
    spec,
    ...compilePattern(spec.pattern),
  }));
  return {
    async handle(req, context) {
      const found = match(paths, req.path);
      if (found === undefined) throw new CofferError('unsupported_path', 'unsupported path');
      const { spec } = found.compiled;
      // As in Vault's framework: a path without its own create handler treats create as
      // update (the existence check only decides which capability the ACL demands).
      const handler =
        spec.operations[req.operation] ??
        (req.operation === 'create' ? spec.operations.update : undefined);
      if (handler === undefined) {
        throw new CofferError('unsupported_operation', 'unsupported operation');
      }
      const warnings: string[] = [];
      const fields =
        spec.arbitraryFields === true
          ? (req.data as FieldValues<FieldSpecs>)
          : parseFields(spec.fields, req.data, undefined, warnings);
      return withWarnings(await handler(req, fields, found.params, context), warnings);
    },
    async exists(req) {
      const found = match(paths, req.path);
      if (found?.compiled.spec.exists === undefined) return undefined;
      return found.compiled.spec.exists(req, found.params);
    },
  };
}

/** Assembles an engine from path specs; the first matching pattern wins. */
export function createPathEngine(specs: readonly PathSpec[]): SecretEngine {
  const engine = createContextPathEngine<undefined>(specs);
  return {
    handle: (req) => engine.handle(req, undefined),
    exists: (req) => engine.exists(req),
  };
}
