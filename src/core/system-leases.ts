// The `sys/` paths about leases: lookup (one lease, or LIST by id prefix), renew, revoke,
// revoke-prefix and revoke-force, the legacy sys/renew, sys/revoke, sys/revoke-prefix
// aliases, and the list of irrevocable leases. Built with the same path framework as engines.
import type { EngineResult } from '../sdk/engine.js';
import { CofferError, invalidField } from '../sdk/errors.js';
import type { FieldSpecs } from '../sdk/fields.js';
import type { JsonObject } from '../sdk/json.js';
import { definePath, type PathSpec } from '../sdk/path.js';
import type { Caller } from './caller.js';
import { renewRefusal, type LeaseManager, type LeaseRecord } from './lease-manager.js';

export interface LeasePathDeps {
  readonly leases: LeaseManager;
}

/** Irrevocable leases listed without an explicit `limit` (Vault's cap). */
const DEFAULT_IRREVOCABLE_LIMIT = 10_000;

const LEASE_ID = {
  type: 'string',
  description: 'The lease ID, e.g. "database/creds/app/<random>".',
} as const;

const LOOKUP_FIELDS = { lease_id: LEASE_ID } as const satisfies FieldSpecs;

const RENEW_FIELDS = {
  lease_id: LEASE_ID,
  increment: { type: 'duration', description: 'Requested TTL from now; 0 = the default.' },
} as const satisfies FieldSpecs;

const REVOKE_FIELDS = {
  lease_id: LEASE_ID,
  sync: {
    type: 'bool',
    description: 'Default true: revoke before answering; false: revoke in the background.',
  },
} as const satisfies FieldSpecs;

const PREFIX_FIELD = {
  type: 'string',
  description: 'The prefix again (hvac sends it in the body); must equal the one in the URL.',
} as const;

const PREFIX_FIELDS = {
  prefix: PREFIX_FIELD,
  sync: { type: 'bool', description: 'Default true; false marks the leases due now instead.' },
} as const satisfies FieldSpecs;

const IRREVOCABLE_FIELDS = {
  type: { type: 'string', description: 'Must be "irrevocable".', required: true },
  limit: { type: 'int', description: 'At most this many leases; default 10000.' },
  include_child_namespaces: { type: 'bool', description: 'Accepted; Coffer has no namespaces.' },
} as const satisfies FieldSpecs;

/** Go's RFC3339Nano rendering of an epoch-ms time (trailing fraction zeros dropped). */
function rfc3339(epochMs: number): string {
  const iso = new Date(epochMs).toISOString();
  const dot = iso.indexOf('.');
  const fraction = iso.slice(dot + 1, -1).replace(/0+$/, '');
  return fraction === '' ? `${iso.slice(0, dot)}Z` : `${iso.slice(0, dot)}.${fraction}Z`;
}

/** `sys/leases/lookup`'s data, as Vault renders it. `ttl` counts from the nearest second. */
export function renderLeaseLookup(lease: LeaseRecord, now: number): JsonObject {
  const fromSecond = Math.round(now / 1000) * 1000;
  return {
    id: lease.id,
    issue_time: rfc3339(lease.issuedAt),
    expire_time: rfc3339(lease.expiresAt),
    last_renewal: lease.lastRenewalAt === undefined ? null : rfc3339(lease.lastRenewalAt),
    renewable: renewRefusal(lease, now) === undefined,
    ttl: Math.max(0, Math.trunc((lease.expiresAt - fromSecond) / 1000)),
  };
}

/** The lease id from the body, else from the URL (`…/renew/<id>`); required. */
function leaseIdOf(
  fields: { readonly lease_id: string | undefined },
  params: Readonly<Record<string, string>>,
): string {
  const fromBody = fields.lease_id ?? '';
  const id = fromBody !== '' ? fromBody : (params.url_lease_id ?? '').replace(/\/+$/, '');
  if (id === '') throw invalidField('lease_id', 'is required');
  return id;
}

/**
 * The prefix from the URL; hvac also sends it as a body field `prefix`, which must then be the
 * same (a different one would make which leases go ambiguous).
 */
function prefixOf(fromBody: string | undefined, params: Readonly<Record<string, string>>): string {
  const fromUrl = params.prefix ?? '';
  const trimmed = (p: string) => p.replace(/\/+$/, '');
  // hvac's URL join drops a trailing slash the body keeps.
  if (fromBody === undefined || trimmed(fromBody) === trimmed(fromUrl)) return fromUrl;
  if (fromUrl === '' && fromBody !== '') return fromBody;
  throw invalidField('prefix', 'does not match the prefix in the URL');
}

export function leasePaths(deps: LeasePathDeps): PathSpec<FieldSpecs, Caller>[] {
  const { leases } = deps;

  const listUnder = async (prefix: string): Promise<EngineResult> => {
    const keys = await leases.listByPrefix(prefix);
    if (keys.length === 0) throw new CofferError('not_found', 'no leases under that prefix');
    return { kind: 'data', data: { keys } };
  };

  const lookup = definePath<typeof LOOKUP_FIELDS, Caller>({
    pattern: 'leases/lookup',
    fields: LOOKUP_FIELDS,
    help: 'Reads the times of one lease (PUT/POST), or lists lease IDs at the top (LIST).',
    operations: {
      update: async (req, fields) => {
        const id = fields.lease_id ?? '';
        if (id === '') throw invalidField('lease_id', 'is required');
        const lease = await leases.lookup(id);
        if (lease === undefined) throw new CofferError('invalid_request', 'invalid lease');
        return { kind: 'data', data: renderLeaseLookup(lease, req.now()) };
      },
      list: () => listUnder(''),
    },
  });

  const lookupPrefix = definePath<FieldSpecs, Caller>({
    pattern: 'leases/lookup/:prefix*',
    fields: {},
    help: 'Lists lease IDs under a prefix; folders end with "/". Needs sudo.',
    operations: {
      list: (_req, _fields, params) => listUnder(params.prefix ?? ''),
    },
  });

  // Rendered as Vault does: lease_id, renewable and lease_duration at the top level of the
  // envelope, with data null.
  const renew = definePath<typeof RENEW_FIELDS, Caller>({
    pattern: 'leases/renew',
    fields: RENEW_FIELDS,
    help: 'Renews a lease by an increment, never past its maximum TTL.',
    operations: {
      update: async (_req, fields, params) => {
        const id = leaseIdOf(fields, params);
        const renewed = await leases.renew(id, fields.increment ?? 0);
        return {
          kind: 'data',
          data: {},
          leaseId: id,
          renewable: renewed.lease.renewable,
          leaseDurationSeconds: renewed.ttlSeconds,
          ...(renewed.warnings.length === 0 ? {} : { warnings: renewed.warnings }),
        };
      },
    },
  });

  // Vault answers `sync: false` with 202; the core has no such status, so this is 204.
  const revoke = definePath<typeof REVOKE_FIELDS, Caller>({
    pattern: 'leases/revoke',
    fields: REVOKE_FIELDS,
    help: 'Revokes a lease now (its engine first); unknown IDs succeed.',
    operations: {
      update: async (_req, fields, params) => {
        await leases.revoke(leaseIdOf(fields, params), { sync: fields.sync ?? true });
        return { kind: 'empty' };
      },
    },
  });

  const revokePrefix = definePath<typeof PREFIX_FIELDS, Caller>({
    pattern: 'leases/revoke-prefix/:prefix*',
    fields: PREFIX_FIELDS,
    help: 'Revokes every lease whose ID starts with the prefix. Needs sudo.',
    operations: {
      update: async (_req, fields, params) => {
        await leases.revokePrefix(prefixOf(fields.prefix, params), { sync: fields.sync ?? true });
        return { kind: 'empty' };
      },
    },
  });

  const revokeForce = definePath<{ prefix: typeof PREFIX_FIELD }, Caller>({
    pattern: 'leases/revoke-force/:prefix*',
    fields: { prefix: PREFIX_FIELD },
    help: 'Removes every lease under the prefix even when its engine fails to revoke. Needs sudo.',
    operations: {
      update: async (_req, fields, params) => {
        await leases.revokePrefix(prefixOf(fields.prefix, params), { force: true });
        return { kind: 'empty' };
      },
    },
  });

  const irrevocable = definePath<typeof IRREVOCABLE_FIELDS, Caller>({
    pattern: 'leases',
    fields: IRREVOCABLE_FIELDS,
    help: 'Lists the leases whose revocation gave up (type=irrevocable). Needs sudo.',
    operations: {
      read: async (_req, fields, _params, caller) => {
        // SECURITY: fail closed; the list names every mount with failing revocations.
        if (!caller.sudoOn('sys/leases')) {
          throw new CofferError('permission_denied', 'permission denied');
        }
        if (fields.type !== 'irrevocable') throw invalidField('type', 'must be "irrevocable"');
        const limit = fields.limit ?? DEFAULT_IRREVOCABLE_LIMIT;
        if (limit <= 0) throw invalidField('limit', 'must be a positive integer');
        const found = await leases.irrevocable(limit + 1);
        const shown = found.slice(0, limit);
        return {
          kind: 'data',
          data: {
            lease_count: shown.length,
            leases: shown.map((lease) => ({
              lease_id: lease.id,
              mount_path: lease.mountPath,
              error: lease.lastError ?? 'unknown',
              expire_time: rfc3339(lease.expiresAt),
            })),
          },
          ...(found.length > limit
            ? { warnings: [`more than ${limit} irrevocable leases; raise limit to see them all`] }
            : {}),
        };
      },
    },
  });

  return [
    irrevocable,
    lookup,
    lookupPrefix,
    renew,
    definePath({ ...renew, pattern: 'leases/renew/:url_lease_id*' }),
    revoke,
    definePath({ ...revoke, pattern: 'leases/revoke/:url_lease_id*' }),
    revokePrefix,
    revokeForce,
    // Legacy aliases that node-vault still calls.
    definePath({ ...renew, pattern: 'renew' }),
    definePath({ ...renew, pattern: 'renew/:url_lease_id*' }),
    definePath({ ...revoke, pattern: 'revoke' }),
    definePath({ ...revoke, pattern: 'revoke/:url_lease_id*' }),
    definePath({ ...revokePrefix, pattern: 'revoke-prefix/:prefix*' }),
    definePath({ ...revokeForce, pattern: 'revoke-force/:prefix*' }),
  ];
}
