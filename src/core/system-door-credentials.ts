// `sys/door-credentials/<api>[/<id>]`: issue, list, read and revoke the credentials the cloud
// doors authenticate (AWS access key pairs). Issued credentials carry at most the caller's own
// policies, as child tokens do.
import { CofferError, invalidField } from '../sdk/errors.js';
import type { FieldSpecs } from '../sdk/fields.js';
import { definePath, type PathSpec } from '../sdk/path.js';
import type { Caller } from './caller.js';
import { renderDoorCredential, type DoorCredentialStore } from './door-credentials.js';
import { sanitizePolicies } from './token-store.js';

export interface DoorCredentialPathDeps {
  readonly doorCredentials: DoorCredentialStore;
}

const CREATE_FIELDS = {
  policies: { type: 'string-list', description: 'Coffer policies the credential acts with.' },
  display_name: {
    type: 'string',
    description: 'A name for audit lines and the principal ARN (default: the id).',
  },
  ttl: { type: 'duration', description: 'Lifetime; 0 or absent = until revoked.' },
  id: { type: 'string', description: 'A chosen access key id (root only); random otherwise.' },
  secret_access_key: {
    type: 'string',
    description: 'AWS only: a chosen secret access key (root only); random otherwise.',
  },
  account_id: {
    type: 'string',
    description: 'AWS only: the 12-digit account of the principal ARN (default 000000000000).',
  },
  project_id: {
    type: 'string',
    description: "Google only: the project of the service account's email (default coffer).",
  },
} as const satisfies FieldSpecs;

/** Policies nobody can hand out through a credential. */
const NON_ASSIGNABLE = new Set(['response-wrapping', 'control-group']);

export function doorCredentialPaths(deps: DoorCredentialPathDeps): PathSpec<FieldSpecs, Caller>[] {
  const { doorCredentials } = deps;

  const collection = definePath<typeof CREATE_FIELDS, Caller>({
    pattern: 'door-credentials/:api',
    fields: CREATE_FIELDS,
    help:
      'Issues a credential for a cloud door (POST) or lists the ids of the issued ones (LIST). ' +
      'The secret part is returned once, on creation.',
    operations: {
      async update(_req, fields, params, caller) {
        const api = params.api ?? '';
        const kind = doorCredentials.kind(api);
        const requested = sanitizePolicies(fields.policies ?? [], false);
        if (requested.length === 0)
          throw invalidField('policies', 'at least one policy is required');
        for (const policy of requested) {
          if (NON_ASSIGNABLE.has(policy)) {
            throw invalidField('policies', `cannot assign policy "${policy}"`);
          }
        }
        // SECURITY: a credential is a token in disguise; nobody hands out more than they hold,
        // and only root chooses ids or secrets (the dev key pair) or grants root.
        if (!caller.isRoot) {
          const held = sanitizePolicies(caller.entry.policies, false);
          if (!requested.every((p) => held.includes(p))) {
            throw new CofferError(
              'permission_denied',
              "credential policies must be a subset of the caller's policies",
            );
          }
          if (fields.id !== undefined || fields.secret_access_key !== undefined) {
            throw new CofferError('permission_denied', 'only root may choose the id or secret');
          }
        }
        const kindFields: Record<string, unknown> = {};
        for (const name of kind.fields) {
          const value = (fields as Record<string, unknown>)[name];
          if (value !== undefined) kindFields[name] = value;
        }
        const { record, shown } = await doorCredentials.create(api, {
          ...(fields.id === undefined ? {} : { id: fields.id }),
          policies: requested,
          ...(fields.display_name === undefined ? {} : { displayName: fields.display_name }),
          ...(fields.ttl === undefined ? {} : { ttlSeconds: fields.ttl }),
          fields: kindFields,
        });
        return { kind: 'data', data: { ...renderDoorCredential(record), ...shown } };
      },
      async list(_req, _fields, params) {
        const keys = await doorCredentials.list(params.api ?? '');
        if (keys.length === 0) throw new CofferError('not_found', 'no credentials');
        return { kind: 'data', data: { keys } };
      },
    },
  });

  const item = definePath<Record<string, never>, Caller>({
    pattern: 'door-credentials/:api/:id',
    fields: {},
    help: 'Reads (without its secret) or revokes one door credential.',
    operations: {
      async read(_req, _fields, params) {
        const record = await doorCredentials.lookup(params.api ?? '', params.id ?? '');
        if (record === undefined) throw new CofferError('not_found', 'credential not found');
        return { kind: 'data', data: renderDoorCredential(record) };
      },
      async delete(_req, _fields, params) {
        await doorCredentials.revoke(params.api ?? '', params.id ?? '');
        return { kind: 'empty' };
      },
    },
  });

  return [collection, item];
}
