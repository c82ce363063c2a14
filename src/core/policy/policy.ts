// The policy model: what a parsed ACL policy is, independent of how it was written (HCL or
// JSON) and of how it is matched (acl.ts).

export type Capability =
  'create' | 'read' | 'update' | 'patch' | 'delete' | 'list' | 'sudo' | 'deny';

export const CAPABILITIES: readonly Capability[] = [
  'create',
  'read',
  'update',
  'patch',
  'delete',
  'list',
  'sudo',
  'deny',
];

/**
 * A value in `allowed_parameters` / `denied_parameters`: the parser admits only these (HCL and
 * JSON lists of objects or lists are refused), so the ACL compares them with `===` and globs.
 */
export type ParameterValue = string | number | boolean;

/**
 * One `path "<pattern>" { ... }` block. The pattern has no leading '/'; a trailing '*' makes
 * it a prefix rule, and '+' matches exactly one path segment.
 */
export interface PathRule {
  readonly pattern: string;
  readonly capabilities: ReadonlySet<Capability>;
  /** Parameter name (lower-cased) → allowed values; an empty list allows any value. */
  readonly allowedParameters?: ReadonlyMap<string, readonly ParameterValue[]>;
  readonly deniedParameters?: ReadonlyMap<string, readonly ParameterValue[]>;
  readonly requiredParameters?: readonly string[];
  readonly minWrappingTtlSeconds?: number;
  readonly maxWrappingTtlSeconds?: number;
  /** Where the block starts in the source text, for `coffer policy explain`. */
  readonly line: number;
}

export interface Policy {
  /** Normalised: trimmed and lower-cased. */
  readonly name: string;
  readonly rules: readonly PathRule[];
  /** The source text as written (returned by reads). */
  readonly raw: string;
}
