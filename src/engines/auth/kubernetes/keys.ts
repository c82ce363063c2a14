// Storage keys of the Kubernetes auth method, inside its mount's view. The one module that
// names them; nothing else assembles a key.

/** The mount's configuration (one JSON entry). */
export const CONFIG_KEY = 'config';

/** Prefix of the role entries; a role named r is stored at `role/r`. */
export const ROLE_PREFIX = 'role/';

export function roleKey(name: string): string {
  return `${ROLE_PREFIX}${name}`;
}
