// The CLI's argument parser, Vault style: `-flag=value`, `--flag=value`, `-flag value`, boolean
// `-flag` (or `-flag=false`), flags before or after positional arguments, `--` ends flags, and a
// lone `-` is a positional (it means "read stdin").

/** Kinds of flag: one string, a boolean switch, or a repeatable string (`-custom-metadata`). */
export type FlagKind = 'string' | 'boolean' | 'list';

export interface FlagSpec {
  readonly kind: FlagKind;
  /** One line for the help text. */
  readonly help: string;
  /** Placeholder shown in help, e.g. "<duration>". */
  readonly placeholder?: string;
  /** Left out of the help listing (an alias such as -h). */
  readonly hidden?: boolean;
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

/** Parsed values; a flag that was not given is absent. */
export type FlagValues<S extends FlagSpecs> = {
  -readonly [K in keyof S]?: S[K]['kind'] extends 'boolean'
    ? boolean
    : S[K]['kind'] extends 'list'
      ? string[]
      : string;
};

export interface ParsedArgs<S extends FlagSpecs> {
  readonly flags: FlagValues<S>;
  readonly positionals: string[];
}

/**
 * A mistake in how the command was called (exit code 2).
 * SECURITY: messages name flags and argument positions, never a value: `-token=...` or a
 * `key=value` pair may hold a secret.
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const TRUE_WORDS = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE_WORDS = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** Parses `argv` against `specs`. Throws UsageError for unknown flags or missing values. */
export function parseArgs<S extends FlagSpecs>(argv: readonly string[], specs: S): ParsedArgs<S> {
  const values: Record<string, string | boolean | string[]> = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-' || !arg.startsWith('-')) {
      positionals.push(arg);
      continue;
    }
    const body = arg.startsWith('--') ? arg.slice(2) : arg.slice(1);
    const eq = body.indexOf('=');
    const name = eq === -1 ? body : body.slice(0, eq);
    const spec = Object.hasOwn(specs, name) ? specs[name] : undefined;
    if (name === '' || spec === undefined) {
      throw new UsageError(`flag provided but not defined: -${name}`);
    }
    if (spec.kind === 'boolean') {
      if (eq === -1) {
        values[name] = true;
        continue;
      }
      const word = body.slice(eq + 1);
      if (TRUE_WORDS.has(word)) values[name] = true;
      else if (FALSE_WORDS.has(word)) values[name] = false;
      else throw new UsageError(`invalid boolean value for flag -${name}`);
      continue;
    }
    let value: string;
    if (eq !== -1) {
      value = body.slice(eq + 1);
    } else {
      if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: -${name}`);
      value = argv[++i]!;
    }
    if (spec.kind === 'list') {
      const previous = values[name];
      values[name] = Array.isArray(previous) ? [...previous, value] : [value];
    } else {
      values[name] = value;
    }
  }
  return { flags: values as FlagValues<S>, positionals };
}

/** A whole number flag value (`-version=3`); `min` guards against nonsense like -1 shares. */
export function parseIntFlag(value: string, name: string, min = 0): number {
  if (!/^\d+$/.test(value.trim())) {
    throw new UsageError(`invalid value for flag -${name}: must be a whole number`);
  }
  const n = Number.parseInt(value.trim(), 10);
  if (!Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`invalid value for flag -${name}: must be at least ${min}`);
  }
  return n;
}

/** A comma-separated list of version numbers (`-versions=1,2`). */
export function parseVersionsFlag(value: string, name = 'versions'): number[] {
  const parts = value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  if (parts.length === 0) throw new UsageError(`flag -${name} needs at least one version`);
  return parts.map((part) => parseIntFlag(part, name, 1));
}

/**
 * Splits `key=value` pairs (repeatable flags such as `-custom-metadata=owner=ops`, or `-options`)
 * at the first "=". The value may be empty; the key may not.
 */
export function parseKeyValueFlag(values: readonly string[], name: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of values) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`invalid value for flag -${name}: expected key=value`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/** Help lines for `specs` (hidden ones left out), sorted by name: "  -name=<placeholder>\n      help". */
export function formatFlagHelp(specs: FlagSpecs): string {
  return Object.keys(specs)
    .filter((name) => specs[name]?.hidden !== true)
    .sort()
    .map((name) => {
      const spec = specs[name]!;
      const head =
        spec.kind === 'boolean' ? `  -${name}` : `  -${name}=${spec.placeholder ?? '<string>'}`;
      return `${head}\n      ${spec.help}`;
    })
    .join('\n\n');
}

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};
const DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d)/y;

/**
 * A duration flag (`-increment=1h30m`) in whole seconds, truncated: a bare number is seconds,
 * otherwise a Go duration with the "d" (24 h) unit Vault also accepts.
 */
export function parseDurationSeconds(value: string, name: string): number {
  const text = value.trim();
  const invalid = () =>
    new UsageError(`invalid value for flag -${name}: expected a duration such as 90, 30m or 1h30m`);
  if (/^\d+$/.test(text)) {
    const n = Number.parseInt(text, 10);
    if (!Number.isSafeInteger(n)) throw invalid();
    return n;
  }
  if (text === '') throw invalid();
  let ms = 0;
  DURATION_PART.lastIndex = 0;
  while (DURATION_PART.lastIndex < text.length) {
    const match = DURATION_PART.exec(text);
    if (match === null) throw invalid();
    ms += Number.parseFloat(match[1]!) * DURATION_UNITS_MS[match[2]!]!;
  }
  const seconds = Math.floor(ms / 1000);
  if (!Number.isSafeInteger(seconds)) throw invalid();
  return seconds;
}
