// From "which secrets" to environment variables: every key of each whole path (UPPER_SNAKE
// names), explicit NAME=reference mappings and env template lines, with clashes refused.
import type { CofferClient } from './client.js';
import { ClientError } from './errors.js';
import { ENV_NAME } from './env-file.js';
import type { EnvFileEntry } from './env-file.js';
import { formatReference, isReference, parseReference } from './references.js';
import type { SecretReference } from './references.js';
import { describeTarget, readSecrets, ResolveError, targetId, valueText } from './resolve.js';
import type { ReadTarget, SecretRead } from './resolve.js';

/**
 * One explicitly named variable: a reference or a literal value. `source` says where it was
 * given ("--map", ".env.tpl:3") for clash messages.
 */
export interface ExplicitVariable {
  readonly name: string;
  readonly value: string;
  readonly source: string;
}

export interface VariableSources {
  /** Whole secrets: every key becomes a variable named in UPPER_SNAKE case. */
  readonly paths?: readonly string[];
  /** Named references or literals; they win over keys of `paths`. */
  readonly explicit?: readonly ExplicitVariable[];
}

export interface ResolvedVariables {
  readonly vars: Readonly<Record<string, string>>;
  /** Names whose values came from the server (literals excluded): what --mask hides. */
  readonly secretNames: readonly string[];
  /** Every read made, for lease renewal and change watching. */
  readonly reads: readonly SecretRead[];
  /**
   * Variables that came from a key of a whole path (not named explicitly): name → the key's
   * description ("secret/app#path"), so a clash with an inherited variable can name both.
   */
  readonly pathKeys: Readonly<Record<string, string>>;
}

/**
 * The variable name of a secret key: camelCase and kebab-case split into words, anything that
 * is not a letter or digit becomes "_", upper-cased ("db-password", "dbPassword" → DB_PASSWORD).
 * Undefined when nothing usable is left.
 */
export function envNameOf(key: string): string | undefined {
  const name = key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toUpperCase();
  if (name === '') return undefined;
  return /^[0-9]/.test(name) ? `_${name}` : name;
}

/** Turns `--map NAME=value` arguments (and loadEnv's refs) into explicit variables. */
export function explicitFromPairs(
  pairs: readonly (readonly [string, string])[],
  source: string,
): ExplicitVariable[] {
  return pairs.map(([name, value]) => ({ name, value, source }));
}

export function explicitFromEnvFile(
  entries: readonly EnvFileEntry[],
  file: string,
): ExplicitVariable[] {
  return entries.map((e) => ({ name: e.name, value: e.value, source: `${file}:${e.line}` }));
}

/** A stable description of the sources (no values), to tell whether a snapshot matches them. */
export function sourcesFingerprint(sources: VariableSources): string {
  const explicit = (sources.explicit ?? [])
    .map((v) => `${v.name}=${isReference(v.value) ? formatReference(parseReference(v.value)) : ''}`)
    .sort();
  return JSON.stringify({ paths: [...(sources.paths ?? [])].sort(), explicit });
}

/**
 * The literal (non-reference) explicit variables: when a snapshot stands in for the server these
 * still come from the current files and flags, not from the snapshot.
 */
export function literalVariables(sources: VariableSources): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of sources.explicit ?? []) {
    if (!isReference(item.value)) out[item.name] = item.value;
  }
  return out;
}

interface Planned {
  readonly name: string;
  readonly source: string;
  readonly ref?: SecretReference;
  readonly literal?: string;
}

/** Checks names and clashes among explicit variables; parses their references. */
function planExplicit(explicit: readonly ExplicitVariable[]): Map<string, Planned> {
  const planned = new Map<string, Planned>();
  for (const item of explicit) {
    if (!ENV_NAME.test(item.name)) {
      throw new ClientError(
        `${item.source}: variable name must be letters, digits and "_" (not a digit first)`,
      );
    }
    const previous = planned.get(item.name);
    if (previous !== undefined) {
      throw new ClientError(
        `variable ${item.name} is set twice: by ${previous.source} and by ${item.source}`,
      );
    }
    planned.set(
      item.name,
      isReference(item.value)
        ? { name: item.name, source: item.source, ref: parseReference(item.value) }
        : { name: item.name, source: item.source, literal: item.value },
    );
  }
  return planned;
}

function refTarget(ref: SecretReference): ReadTarget {
  return ref.version === undefined
    ? { kind: 'kv', path: ref.path }
    : { kind: 'kv', path: ref.path, version: ref.version };
}

export interface ResolveOptions {
  /** Earlier reads to use instead of reading again, keyed by targetId (see readSecrets). */
  readonly reuse?: ReadonlyMap<string, SecretRead>;
}

/**
 * Reads what `sources` need (each distinct path once) and builds the variables. Keys of two
 * whole paths that map to the same name are an error naming both; an explicit variable wins
 * over a whole-path key silently.
 */
export async function resolveVariables(
  client: CofferClient,
  sources: VariableSources,
  options: ResolveOptions = {},
): Promise<ResolvedVariables> {
  const explicit = planExplicit(sources.explicit ?? []);
  const pathTargets: ReadTarget[] = (sources.paths ?? []).map((path) => {
    const trimmed = path.trim().replace(/^\/+|\/+$/g, '');
    if (trimmed === '') throw new ClientError('a --path must not be empty');
    return { kind: 'kv', path: trimmed };
  });
  const targets = [...pathTargets];
  for (const item of explicit.values())
    if (item.ref !== undefined) targets.push(refTarget(item.ref));
  const reads = await readSecrets(client, targets, options.reuse);

  const vars: Record<string, string> = {};
  const secretNames = new Set<string>();
  const origin = new Map<string, string>();
  for (const target of pathTargets) {
    const read = reads.get(targetId(target))!;
    for (const [key, value] of Object.entries(read.data)) {
      const name = envNameOf(key);
      const source = `${describeTarget(target)}#${key}`;
      if (name === undefined) {
        throw new ResolveError(`${source}: the key gives no usable variable name`);
      }
      if (explicit.has(name)) continue;
      const previous = origin.get(name);
      if (previous !== undefined && previous !== source) {
        throw new ResolveError(`variable ${name} comes from both ${previous} and ${source}`);
      }
      origin.set(name, source);
      vars[name] = valueText(value);
      secretNames.add(name);
    }
  }
  for (const item of explicit.values()) {
    if (item.ref === undefined) {
      vars[item.name] = item.literal ?? '';
      continue;
    }
    const read = reads.get(targetId(refTarget(item.ref)))!;
    if (!Object.hasOwn(read.data, item.ref.key)) {
      throw new ResolveError(
        `${item.source}: no key "${item.ref.key}" in the secret at ${describeTarget(read.target)}`,
      );
    }
    vars[item.name] = valueText(read.data[item.ref.key]);
    secretNames.add(item.name);
  }
  return {
    vars,
    secretNames: [...secretNames].sort(),
    reads: [...reads.values()],
    pathKeys: Object.fromEntries(origin),
  };
}
