// Roles of the Kubernetes auth method: which service accounts (names and namespaces, with
// Vault's globs) may log in, the audience they must carry, how the alias is named, and the
// token settings. Stored form, write merging, validation, read rendering, binding checks.
import { invalidField } from '../../../sdk/errors.js';
import type { FieldValues } from '../../../sdk/fields.js';
import type { JsonObject } from '../../../sdk/json.js';
import type { Storage } from '../../../sdk/storage.js';
import { globMatch } from '../../../sdk/text.js';
import { readStoredRole } from '../record-paths.js';
import {
  DEFAULT_TOKEN_SETTINGS,
  renderTokenSettings,
  TOKEN_FIELDS,
  updateTokenSettings,
  type TokenSettings,
} from '../token-fields.js';
import { roleKey } from './keys.js';

export type AliasNameSource = 'serviceaccount_uid' | 'serviceaccount_name';

export interface KubernetesRole {
  readonly boundServiceAccountNames: readonly string[];
  readonly boundServiceAccountNamespaces: readonly string[];
  /** '' = no audience check (Vault warns about it). */
  readonly audience: string;
  readonly aliasNameSource: AliasNameSource;
  readonly token: TokenSettings;
}

export const ROLE_FIELDS = {
  bound_service_account_names: {
    type: 'string-list',
    description: 'Service account names allowed to log in; "*" for any, globs like "app-*".',
  },
  bound_service_account_namespaces: {
    type: 'string-list',
    description: 'Namespaces allowed to log in; "*" for any, globs like "team-*".',
  },
  audience: { type: 'string', description: 'Audience the service account JWT must carry.' },
  alias_name_source: {
    type: 'string',
    description: '"serviceaccount_uid" (default) or "serviceaccount_name" (namespace/name).',
  },
  ...TOKEN_FIELDS,
} as const;

export type RoleFieldValues = FieldValues<typeof ROLE_FIELDS>;

/**
 * Whether `value` is allowed by a bound list. SECURITY: an empty list allows nothing; an empty
 * value (a token without the claim) matches only a bare "*".
 */
export function boundAllows(bound: readonly string[], value: string): boolean {
  if (bound.length === 1 && bound[0] === '*') return true;
  if (value === '') return false;
  return bound.some((pattern) => globMatch(pattern, value));
}

function checkBoundList(list: readonly string[], field: string): void {
  if (list.length === 0) throw invalidField(field, 'can not be empty');
  if (list.length > 1 && list.includes('*'))
    throw invalidField(field, 'can not mix "*" with values');
}

const EMPTY_ROLE: KubernetesRole = {
  boundServiceAccountNames: [],
  boundServiceAccountNamespaces: [],
  audience: '',
  aliasNameSource: 'serviceaccount_uid',
  token: DEFAULT_TOKEN_SETTINGS,
};

/** Applies a role write (fields left out keep their value); returns the role and warnings. */
export function applyRoleWrite(
  current: KubernetesRole | undefined,
  f: RoleFieldValues,
): { role: KubernetesRole; warnings: string[] } {
  const base = current ?? EMPTY_ROLE;
  const { settings, warnings } = updateTokenSettings(base.token, f);
  const source =
    f.alias_name_source === undefined || f.alias_name_source === ''
      ? base.aliasNameSource
      : f.alias_name_source;
  if (source !== 'serviceaccount_uid' && source !== 'serviceaccount_name') {
    throw invalidField(
      'alias_name_source',
      'must be "serviceaccount_uid" or "serviceaccount_name"',
    );
  }
  const role: KubernetesRole = {
    boundServiceAccountNames: f.bound_service_account_names ?? base.boundServiceAccountNames,
    boundServiceAccountNamespaces:
      f.bound_service_account_namespaces ?? base.boundServiceAccountNamespaces,
    audience: (f.audience ?? base.audience).trim(),
    aliasNameSource: source,
    token: settings,
  };
  checkBoundList(role.boundServiceAccountNames, 'bound_service_account_names');
  checkBoundList(role.boundServiceAccountNamespaces, 'bound_service_account_namespaces');
  if (role.audience === '') {
    warnings.push(
      'This role does not specify an audience. Specifying one is strongly recommended.',
    );
  }
  return { role, warnings };
}

/** Vault's read shape (audience only when set). */
export function renderRole(role: KubernetesRole): JsonObject {
  return {
    bound_service_account_names: [...role.boundServiceAccountNames],
    bound_service_account_namespaces: [...role.boundServiceAccountNamespaces],
    ...(role.audience === '' ? {} : { audience: role.audience }),
    alias_name_source: role.aliasNameSource,
    ...renderTokenSettings(role.token),
  };
}

export async function readRole(
  storage: Storage,
  name: string,
): Promise<KubernetesRole | undefined> {
  return readStoredRole<KubernetesRole>(
    storage,
    roleKey(name),
    (raw) =>
      Array.isArray(raw.boundServiceAccountNames) &&
      Array.isArray(raw.boundServiceAccountNamespaces),
  );
}
