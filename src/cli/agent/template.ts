// Agent templates: Handlebars with a `secret` helper. Every `secret` call is found in the parsed
// template first (its arguments must be string literals), all of them are read in one pass, and
// the template is then rendered synchronously from those reads.
//
//   {{secret "secret/data/app" "password"}}     one key of the secret at that API path
//   {{secret "coffer://secret/app#password"}}   a reference, as `coffer run` takes them
//   {{#with (secret "secret/data/app")}}{{user}}:{{password}}{{/with}}   the whole key map
import Handlebars from 'handlebars';
import { isReference, parseReference, targetId, valueText } from '../../client/index.js';
import type { ReadTarget, SecretRead } from '../../client/index.js';

export interface CompiledTemplate {
  /** Every secret the template reads, each once. */
  readonly targets: readonly ReadTarget[];
  /** Renders from reads made for `targets` (keyed by targetId). Throws TemplateError. */
  render(reads: ReadonlyMap<string, SecretRead>): string;
}

/** A template that cannot be compiled or rendered; the message never holds a secret value. */
export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

/** One `secret` call: what to read, and which key (undefined: the whole map). */
interface SecretCall {
  readonly target: ReadTarget;
  readonly key: string | undefined;
}

function callOf(args: readonly string[], where: string): SecretCall {
  const [first, second] = args;
  if (first === undefined || args.length > 2) {
    throw new TemplateError(`${where}: secret takes a path and an optional key`);
  }
  if (isReference(first)) {
    if (second !== undefined) {
      throw new TemplateError(`${where}: a coffer:// reference already names its key`);
    }
    const ref = parseReference(first);
    const target: ReadTarget =
      ref.version === undefined
        ? { kind: 'kv', path: ref.path }
        : { kind: 'kv', path: ref.path, version: ref.version };
    return { target, key: ref.key };
  }
  const path = first.trim().replace(/^\/+|\/+$/g, '');
  if (path === '') throw new TemplateError(`${where}: secret needs a path`);
  return { target: { kind: 'api', path }, key: second };
}

type Node = hbs.AST.Node;

/** Walks the template, collecting `secret` calls and refusing partials and decorators. */
function collectCalls(program: hbs.AST.Program, where: string): SecretCall[] {
  const calls: SecretCall[] = [];
  const visitHash = (hash: hbs.AST.Hash | undefined) => {
    for (const pair of hash?.pairs ?? []) visit(pair.value);
  };
  const visitCall = (node: {
    path: hbs.AST.PathExpression | hbs.AST.Literal;
    params: hbs.AST.Expression[];
    hash: hbs.AST.Hash;
  }) => {
    const path = node.path as Partial<hbs.AST.PathExpression>;
    if (path.type === 'PathExpression' && path.original === 'secret') {
      const args = node.params.map((param) => {
        if (param.type !== 'StringLiteral') {
          throw new TemplateError(`${where}: the arguments of secret must be quoted strings`);
        }
        return (param as hbs.AST.StringLiteral).value;
      });
      if ((node.hash?.pairs ?? []).length > 0) {
        throw new TemplateError(`${where}: secret takes no name=value arguments`);
      }
      calls.push(callOf(args, where));
      return;
    }
    for (const param of node.params) visit(param);
    visitHash(node.hash);
  };
  function visit(node: Node | undefined): void {
    if (node === undefined || node === null) return;
    switch (node.type) {
      case 'Program':
        for (const statement of (node as hbs.AST.Program).body) visit(statement);
        return;
      case 'MustacheStatement':
      case 'SubExpression':
        visitCall(node as hbs.AST.MustacheStatement);
        return;
      case 'BlockStatement': {
        const block = node as hbs.AST.BlockStatement;
        visitCall(block);
        visit(block.program);
        visit(block.inverse);
        return;
      }
      case 'PartialStatement':
      case 'PartialBlockStatement':
        throw new TemplateError(`${where}: partials are not supported`);
      case 'Decorator':
      case 'DecoratorBlock':
        throw new TemplateError(`${where}: decorators are not supported`);
      default:
        return;
    }
  }
  visit(program);
  return calls;
}

/** Handlebars' messages quote the template around the error; keep the first line only. */
function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : 'invalid template';
  return text.split('\n')[0] ?? 'invalid template';
}

/**
 * Compiles `text`. Output is not HTML-escaped (these are configuration files) and the template
 * is strict: a name that is not in the data is an error, not an empty string.
 */
export function compileTemplate(text: string, where: string): CompiledTemplate {
  let program: hbs.AST.Program;
  try {
    program = Handlebars.parse(text);
  } catch (error) {
    throw new TemplateError(`${where}: ${firstLine(error)}`);
  }
  const calls = collectCalls(program, where);
  const targets = new Map<string, ReadTarget>();
  for (const call of calls) targets.set(targetId(call.target), call.target);

  const hb = Handlebars.create();
  let active: ReadonlyMap<string, SecretRead> | undefined;
  hb.registerHelper('secret', (...args: unknown[]) => {
    // The last argument is Handlebars' options object.
    const strings = args.slice(0, -1).map((a) => (typeof a === 'string' ? a : ''));
    const call = callOf(strings, where);
    const read = active?.get(targetId(call.target));
    if (read === undefined) {
      throw new TemplateError(`${where}: the secret at ${call.target.path} was not read`);
    }
    if (call.key === undefined) return Object.freeze({ ...read.data });
    if (!Object.hasOwn(read.data, call.key)) {
      throw new TemplateError(
        `${where}: no key "${call.key}" in the secret at ${call.target.path}`,
      );
    }
    return valueText(read.data[call.key]);
  });
  const options = {
    noEscape: true,
    strict: true,
    knownHelpers: { secret: true },
    knownHelpersOnly: true,
  };
  let template: HandlebarsTemplateDelegate;
  try {
    // compile() is lazy; precompile() reports unknown helpers and the like now, not at render.
    hb.precompile(program, options);
    template = hb.compile(program, options);
  } catch (error) {
    throw new TemplateError(`${where}: ${firstLine(error)}`);
  }
  return {
    targets: [...targets.values()],
    render(reads) {
      active = reads;
      try {
        return template({});
      } catch (error) {
        if (error instanceof TemplateError) throw error;
        throw new TemplateError(`${where}: ${firstLine(error)}`);
      } finally {
        active = undefined;
      }
    },
  };
}

/** Marks only Handlebars has: blocks, closings, comments, partials, triple and `~` mustaches. */
const HANDLEBARS_ONLY = /\{\{(?:#|\/(?!\*)|!|>|~|\{)|~\}\}/;
/** Marks only Go templates have: fields, variables, Go keywords, `-` trims, comments. */
const GO_ONLY =
  /\{\{-?\s*(?:\.|\$|\/\*|(?:with|range|if|end|define|template|block)\b)|\s-\}\}|\{\{-\s/;

/**
 * Which syntax a template is written in: `explicit` when the config says, else from its text:
 * Go when it has a Go-only mark (`{{ .Field }}`, `{{ with`, `{{ range`, `{{ if`, `{{ end }}`,
 * `$var`, `{{-`/`-}}`, Go comments) and no Handlebars-only one (`{{#`, `{{/`, `{{!`, `{{>`,
 * `{{~`, `{{{`), otherwise Handlebars (so existing templates keep working). Both kinds of mark
 * at once is an error asking for `syntax`.
 */
export function templateSyntax(
  text: string,
  where: string,
  explicit?: 'go' | 'handlebars',
): 'go' | 'handlebars' {
  if (explicit !== undefined) return explicit;
  const go = GO_ONLY.test(text);
  const handlebars = HANDLEBARS_ONLY.test(text);
  if (go && handlebars) {
    throw new TemplateError(
      `${where}: the template mixes Go and Handlebars syntax; set syntax = "go" or "handlebars"`,
    );
  }
  return go ? 'go' : 'handlebars';
}
