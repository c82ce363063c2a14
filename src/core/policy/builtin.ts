// The built-in policies: `root` (everything; never stored), `default` (written to storage on
// first open, editable, never deletable) and `response-wrapping` (never stored, immutable).
import { parsePolicy } from './parse.js';
import type { Policy } from './policy.js';

export const ROOT_POLICY_NAME = 'root';
export const DEFAULT_POLICY_NAME = 'default';
export const RESPONSE_WRAPPING_POLICY_NAME = 'response-wrapping';

/**
 * The text of the `default` policy as first written (vault-api.md §3.2, OpenBao
 * `policy_store.go`), including the reads of the caller's own identity entity through
 * templated paths.
 */
export const DEFAULT_POLICY_TEXT = `# The default policy. Every token gets it unless it was created with no_default_policy.
# It may be edited (PUT sys/policies/acl/default) but never deleted.

# A token may look up its own properties.
path "auth/token/lookup-self" {
  capabilities = ["read"]
}

# A token may renew itself.
path "auth/token/renew-self" {
  capabilities = ["update"]
}

# A token may revoke itself.
path "auth/token/revoke-self" {
  capabilities = ["update"]
}

# A token may ask which capabilities it has on a path.
path "sys/capabilities-self" {
  capabilities = ["update"]
}

# A token may ask which of its own policy rules decide a path (coffer policy explain).
path "sys/policies/explain" {
  capabilities = ["update"]
}

# A token may read the ACL its policies add up to. UIs use this; the format is internal and
# may change.
path "sys/internal/ui/resultant-acl" {
  capabilities = ["read"]
}

# A token may renew a lease it knows the id of (sys/renew is the legacy route).
path "sys/renew" {
  capabilities = ["update"]
}
path "sys/leases/renew" {
  capabilities = ["update"]
}

# A token may look up a lease it knows the id of; the answer holds nothing secret.
path "sys/leases/lookup" {
  capabilities = ["update"]
}

# A token owns its cubbyhole.
path "cubbyhole/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}

# A token may wrap values in a response-wrapping token, and look up and unwrap such tokens.
path "sys/wrapping/wrap" {
  capabilities = ["update"]
}
path "sys/wrapping/lookup" {
  capabilities = ["update"]
}
path "sys/wrapping/unwrap" {
  capabilities = ["update"]
}

# A token may hash data with the server's hash tool (no key involved).
path "sys/tools/hash" {
  capabilities = ["update"]
}
path "sys/tools/hash/*" {
  capabilities = ["update"]
}

# A token may read the identity entity it acts for (as in Vault).
path "identity/entity/id/{{identity.entity.id}}" {
  capabilities = ["read"]
}
path "identity/entity/name/{{identity.entity.name}}" {
  capabilities = ["read"]
}
`;

/**
 * The policy of a response-wrapping token: it may write and read the one cubbyhole entry that
 * holds the wrapped response, and unwrap itself (as in Vault).
 */
export const RESPONSE_WRAPPING_POLICY_TEXT = `# The policy of response-wrapping tokens. Built in; cannot be changed.
path "cubbyhole/response" {
  capabilities = ["create", "read"]
}

path "sys/wrapping/unwrap" {
  capabilities = ["update"]
}
`;

/**
 * The root policy has no rules: the ACL layer recognises it by name and allows everything.
 * SECURITY: only this exact name makes a root ACL; the store refuses to write it.
 */
export const ROOT_POLICY: Policy = Object.freeze({
  name: ROOT_POLICY_NAME,
  rules: Object.freeze([]),
  raw: '',
});

export const RESPONSE_WRAPPING_POLICY: Policy = Object.freeze(
  parsePolicy(RESPONSE_WRAPPING_POLICY_NAME, RESPONSE_WRAPPING_POLICY_TEXT),
);

/** The default policy as first written, parsed (the store may hold an edited version). */
export function builtinDefaultPolicy(): Policy {
  return parsePolicy(DEFAULT_POLICY_NAME, DEFAULT_POLICY_TEXT);
}

/** Policies that can be neither written nor deleted. */
export function isImmutablePolicy(name: string): boolean {
  return name === ROOT_POLICY_NAME || name === RESPONSE_WRAPPING_POLICY_NAME;
}
