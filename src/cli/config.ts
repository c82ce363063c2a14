// Where the CLI finds its server address and token: flags, then COFFER_* then VAULT_*
// environment variables, then (token only) the token file ~/.coffer-token.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_ADDRESS } from '../client/index.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** The token file's name inside the home directory. */
export const TOKEN_FILE_NAME = '.coffer-token';

/** The first of `names` set to a non-empty value (an empty variable counts as unset). */
function firstEnv(env: Env, names: readonly string[]): string | undefined {
  for (const name of names) {
    const value = env[name];
    if (value !== undefined && value.trim() !== '') return value.trim();
  }
  return undefined;
}

export function resolveAddress(flag: string | undefined, env: Env): string {
  if (flag !== undefined && flag.trim() !== '') return flag.trim();
  return firstEnv(env, ['COFFER_ADDR', 'VAULT_ADDR']) ?? DEFAULT_ADDRESS;
}

/**
 * The token to send, or undefined to send none. The token file is read only when neither the
 * flag nor the environment gives one; a missing file is not an error.
 * SECURITY: errors name the file, never its content.
 */
export function resolveToken(flag: string | undefined, env: Env): string | undefined {
  if (flag !== undefined && flag.trim() !== '') return flag.trim();
  const fromEnv = firstEnv(env, ['COFFER_TOKEN', 'VAULT_TOKEN']);
  if (fromEnv !== undefined) return fromEnv;
  const home = env['HOME'];
  if (home === undefined || home === '') return undefined;
  const file = join(home, TOKEN_FILE_NAME);
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new Error(`cannot read token file ${file}: ${typeof code === 'string' ? code : 'error'}`);
  }
  const token = content.trim();
  return token === '' ? undefined : token;
}
