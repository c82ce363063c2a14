// The `sys/audit*` paths of the system backend: list, enable and disable audit devices (all
// sudo-protected, see sudo-paths.ts) and `sys/audit-hash/:path`, built with the path framework.
import { invalidField } from '../../sdk/errors.js';
import type { FieldSpecs } from '../../sdk/fields.js';
import { isPlainObject } from '../../sdk/json.js';
import { definePath, type PathSpec } from '../../sdk/path.js';
import type { Caller } from '../caller.js';
import { normaliseAuditPath, type AuditBroker } from './audit-broker.js';

export interface AuditPathDeps {
  readonly audit: AuditBroker;
}

/** Vault sends options as a map of strings; numbers and booleans are taken as their text. */
function optionStrings(raw: unknown): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (!isPlainObject(raw)) throw invalidField('options', 'must be an object');
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value === 'string') out[key] = value;
    else if (typeof value === 'number' || typeof value === 'boolean') out[key] = String(value);
    else throw invalidField(`options.${key}`, 'must be a string');
  }
  return out;
}

const ENABLE_FIELDS = {
  // Checked in the handler: DELETE shares these fields and sends no type.
  type: { type: 'string', description: 'The device type: "file" or "socket".' },
  description: { type: 'string', description: 'Free text.' },
  options: {
    type: 'any',
    description: 'Device options, e.g. {"file_path": "/var/log/coffer/audit.log"}.',
  },
  local: { type: 'bool', description: 'Accepted for compatibility (single cluster).' },
  name: {
    type: 'string',
    description: 'node-vault repeats the device path in the body; it must equal the path.',
  },
} as const satisfies FieldSpecs;

const HASH_FIELDS = {
  input: { type: 'string', description: 'The value to hash.', required: true },
} as const satisfies FieldSpecs;

export function auditPaths(deps: AuditPathDeps): PathSpec<FieldSpecs, Caller>[] {
  const { audit } = deps;

  const list = definePath<FieldSpecs, Caller>({
    pattern: 'audit',
    fields: {},
    help: 'Lists the enabled audit devices, with the public key that signs their checkpoints.',
    operations: {
      read: () => Promise.resolve({ kind: 'data', data: audit.list() }),
    },
  });

  const device = definePath<typeof ENABLE_FIELDS, Caller>({
    pattern: 'audit/:path*',
    fields: ENABLE_FIELDS,
    help: 'Enables (PUT/POST) or disables (DELETE) an audit device at a path.',
    operations: {
      update: async (_req, fields, params) => {
        const path = params.path ?? '';
        if (
          fields.name !== undefined &&
          normaliseAuditPath(fields.name) !== normaliseAuditPath(path)
        ) {
          throw invalidField('name', 'does not match the device path in the URL');
        }
        if (fields.type === undefined || fields.type === '') {
          throw invalidField('type', 'is required');
        }
        await audit.enable(path, {
          type: fields.type,
          options: optionStrings(fields.options),
          ...(fields.description === undefined ? {} : { description: fields.description }),
          ...(fields.local === undefined ? {} : { local: fields.local }),
        });
        return { kind: 'empty' };
      },
      delete: async (_req, _fields, params) => {
        await audit.disable(params.path ?? '');
        return { kind: 'empty' };
      },
    },
  });

  const hash = definePath<typeof HASH_FIELDS, Caller>({
    pattern: 'audit-hash/:path*',
    fields: HASH_FIELDS,
    help: 'The HMAC an audit device writes for a value, to find it in the log.',
    operations: {
      update: (_req, fields, params) =>
        Promise.resolve({
          kind: 'data',
          data: { hash: audit.hash(params.path ?? '', fields.input ?? '') },
        }),
    },
  });

  return [list, hash, device];
}
