// The non-root token of the read bench: ten realistic ACL policies (exact paths, `*` globs, `+`
// segments, denies), written through the Vault API, and one token holding them plus `default`.

/**
 * The one rule that grants read on `secret/data/bench` (in policy `bench-reader`). It is a `+`
 * rule whose first wildcard comes early (byte 7), so it ranks below every other `secret/` glob:
 * the matcher finds no exact rule, then tries each higher-ranked `secret/` glob (all miss)
 * before it reaches this one. No exact rule and no higher-ranked glob matches the bench path.
 */
export const GRANTING_RULE = 'secret/+/bench';

/** @type {ReadonlyArray<{ name: string, hcl: string }>} */
export const POLICIES = Object.freeze([
  {
    name: 'app-web',
    hcl: `# Web frontend: its own secrets, shared TLS material, never the admin credentials.
path "secret/data/web/*" {
  capabilities = ["create", "read", "update", "patch", "delete"]
}
path "secret/metadata/web/*" {
  capabilities = ["list", "read"]
}
path "secret/data/shared/tls/+" {
  capabilities = ["read"]
}
path "secret/data/web/admin" {
  capabilities = ["deny"]
}
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
`,
  },
  {
    name: 'app-billing',
    hcl: `# Billing service: per-environment config and the payment provider key.
path "secret/data/billing/+/config" {
  capabilities = ["read"]
}
path "secret/data/billing/stripe" {
  capabilities = ["read", "update"]
}
path "secret/metadata/billing/*" {
  capabilities = ["list"]
}
path "secret/data/billing/root-keys/*" {
  capabilities = ["deny"]
}
path "transit/encrypt/billing" {
  capabilities = ["update"]
}
`,
  },
  {
    name: 'ci-deploy',
    hcl: `# CI: writes build secrets, reads deploy keys, must never touch production.
path "secret/data/ci/+/deploy-key" {
  capabilities = ["read"]
}
path "secret/data/ci/*" {
  capabilities = ["create", "update"]
}
path "secret/metadata/ci/*" {
  capabilities = ["list", "read", "delete"]
}
path "secret/data/prod/*" {
  capabilities = ["deny"]
}
path "sys/mounts" {
  capabilities = ["read"]
}
`,
  },
  {
    name: 'monitoring',
    hcl: `# Monitoring agents: health, metrics and their own credentials.
path "sys/health" {
  capabilities = ["read", "sudo"]
}
path "sys/metrics" {
  capabilities = ["read"]
}
path "secret/data/monitoring/+" {
  capabilities = ["read"]
}
path "secret/metadata/+" {
  capabilities = ["list"]
}
path "secret/data/monitoring/admin-*" {
  capabilities = ["deny"]
}
`,
  },
  {
    name: 'team-payments',
    hcl: `# Payments team: full access to its tree except PCI material; reads benchmark fixtures.
path "secret/data/payments/*" {
  capabilities = ["create", "read", "update", "patch", "delete"]
}
path "secret/data/payments/+/pci/*" {
  capabilities = ["deny"]
}
path "secret/metadata/payments/*" {
  capabilities = ["list", "read"]
}
path "secret/data/benchmarks/*" {
  capabilities = ["read"]
}
`,
  },
  {
    name: 'team-platform',
    hcl: `# Platform team: service configs, its own policies, child tokens; no break-glass.
path "secret/data/platform/+/+/config" {
  capabilities = ["read", "update"]
}
path "secret/data/platform/*" {
  capabilities = ["read", "list"]
}
path "sys/policies/acl/platform-*" {
  capabilities = ["read", "update"]
}
path "secret/data/platform/break-glass" {
  capabilities = ["deny"]
}
path "auth/token/create" {
  capabilities = ["update"]
}
`,
  },
  {
    name: 'bench-reader',
    hcl: `# The benchmarked secret: data and metadata read-only, nothing private below it.
path "${GRANTING_RULE}" {
  capabilities = ["read"]
}
path "secret/data/bench/*" {
  capabilities = ["read", "list"]
}
path "secret/data/bench/private" {
  capabilities = ["deny"]
}
path "secret/metadata/bench/+" {
  capabilities = ["list"]
}
`,
  },
  {
    name: 'ops-oncall',
    hcl: `# On-call: lease triage and runbooks; service credentials stay out of reach.
path "sys/leases/lookup/*" {
  capabilities = ["list", "sudo"]
}
path "sys/leases/revoke/+" {
  capabilities = ["update"]
}
path "secret/data/oncall/+/runbook" {
  capabilities = ["read"]
}
path "secret/data/+/credentials" {
  capabilities = ["deny"]
}
path "secret/metadata/*" {
  capabilities = ["list"]
}
`,
  },
  {
    name: 'audit-readonly',
    hcl: `# Auditors: read policies and metadata, audit reports; raw storage is off limits.
path "sys/audit" {
  capabilities = ["read", "sudo"]
}
path "sys/policies/acl/*" {
  capabilities = ["read", "list"]
}
path "secret/metadata/*" {
  capabilities = ["read", "list"]
}
path "secret/data/audit/+/+" {
  capabilities = ["read"]
}
path "sys/raw/*" {
  capabilities = ["deny"]
}
`,
  },
  {
    name: 'shared-config',
    hcl: `# Configuration shared by every service, except per-service private parts.
path "secret/data/shared/*" {
  capabilities = ["read"]
}
path "secret/data/shared/+/private" {
  capabilities = ["deny"]
}
path "secret/data/+/shared-config" {
  capabilities = ["read"]
}
path "secret/data/bench-*" {
  capabilities = ["read"]
}
`,
  },
]);

/** Number of `path` blocks over the ten policies. */
export const RULE_COUNT = POLICIES.reduce(
  (sum, policy) => sum + (policy.hcl.match(/^path "/gm) ?? []).length,
  0,
);

/** @param {Response} response @param {string} what */
async function expectOk(response, what) {
  const text = await response.text();
  if (!response.ok)
    throw new Error(`${what} failed: HTTP ${response.status} ${text.slice(0, 300)}`);
  return text === '' ? undefined : JSON.parse(text);
}

/**
 * Writes the ten policies with the root token, creates one service token holding them and
 * `default` (ttl 1h), and checks through `sys/policies/explain` that `readPath` ("secret/data/
 * bench") is readable by that token only through GRANTING_RULE, and that a denied path is
 * refused, so the bench cannot silently measure a token that is more (or less) powerful.
 * @param {{ url: string, rootToken: string }} server
 * @param {string} readPath logical path without a leading '/'
 * @returns {Promise<{ token: string, policies: string[], rules: number, matchingRules: number }>}
 */
export async function createLimitedToken(server, readPath) {
  const root = { 'x-vault-token': server.rootToken, 'content-type': 'application/json' };
  for (const policy of POLICIES) {
    await expectOk(
      await fetch(`${server.url}/v1/sys/policies/acl/${policy.name}`, {
        method: 'PUT',
        headers: root,
        body: JSON.stringify({ policy: policy.hcl }),
      }),
      `writing policy ${policy.name}`,
    );
  }
  const created = await expectOk(
    await fetch(`${server.url}/v1/auth/token/create`, {
      method: 'POST',
      headers: root,
      body: JSON.stringify({
        policies: POLICIES.map((policy) => policy.name),
        no_default_policy: false,
        ttl: '1h',
      }),
    }),
    'creating the token',
  );
  const token = created.auth.client_token;
  const policies = [...created.auth.policies].sort();
  const expected = ['default', ...POLICIES.map((policy) => policy.name)].sort();
  if (JSON.stringify(policies) !== JSON.stringify(expected)) {
    throw new Error(`the token holds ${policies.join(', ')}, expected ${expected.join(', ')}`);
  }

  const headers = { 'x-vault-token': token, 'content-type': 'application/json' };
  const explained = await expectOk(
    await fetch(`${server.url}/v1/sys/policies/explain`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ path: readPath, operation: 'read' }),
    }),
    'explaining the bench path',
  );
  const used = explained.data.matches.filter((match) => match.used).map((m) => m.pattern);
  if (explained.data.allowed !== true || used.length !== 1 || used[0] !== GRANTING_RULE) {
    throw new Error(
      `read on ${readPath} should be allowed by ${GRANTING_RULE} alone; explain says ` +
        `allowed=${explained.data.allowed}, decided by ${used.join(', ') || 'nothing'}`,
    );
  }
  const denied = await fetch(`${server.url}/v1/secret/data/prod/db`, { headers });
  await denied.arrayBuffer();
  if (denied.status !== 403) {
    throw new Error(`the limited token read secret/data/prod/db: HTTP ${denied.status}, not 403`);
  }
  return { token, policies, rules: RULE_COUNT, matchingRules: explained.data.matches.length };
}
