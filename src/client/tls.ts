// TLS settings of a client in Node (not the browser): which CAs to trust (a file or a folder),
// a client certificate, the server name to verify, or no verification at all. They become a
// fetch that connects through an undici Agent with those settings; Node's own fetch is undici,
// and the pinned undici version is the one Node 20 bundles. undici is loaded on the first
// request that needs it, so a program (or CLI command) without TLS settings never loads it.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Agent } from 'undici';
import { ClientError } from './errors.js';

/** Vault's names: -ca-cert, -ca-path, -client-cert, -client-key, -tls-server-name, -tls-skip-verify. */
export interface TlsSettings {
  /** A PEM file of CA certificates to trust instead of the system's. */
  readonly caCert?: string;
  /** A folder of PEM files of CA certificates to trust (each file read). */
  readonly caPath?: string;
  /** A PEM client certificate (and its key) presented to the server. */
  readonly clientCert?: string;
  readonly clientKey?: string;
  /** The name to send (SNI) and to verify the server certificate against. */
  readonly serverName?: string;
  /** SECURITY: trusts any certificate; for tests against a throwaway server only. */
  readonly skipVerify?: boolean;
}

export function hasTlsSettings(settings: TlsSettings): boolean {
  return Object.values(settings).some((v) => v !== undefined && v !== false);
}

/** SECURITY: errors name the file and the errno code, never any of its content. */
function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new ClientError(
      `cannot read ${what} ${file} (${typeof code === 'string' ? code : 'error'})`,
    );
  }
}

function readCaFolder(folder: string): Buffer[] {
  let names: string[];
  try {
    names = readdirSync(folder).sort();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new ClientError(
      `cannot read the CA folder ${folder} (${typeof code === 'string' ? code : 'error'})`,
    );
  }
  const pems = names
    .map((name) => join(folder, name))
    .filter((file) => statSync(file, { throwIfNoEntry: false })?.isFile() === true)
    .map((file) => readPem(file, 'the CA file'))
    .filter((pem) => pem.includes('-----BEGIN CERTIFICATE-----'));
  if (pems.length === 0) throw new ClientError(`the CA folder ${folder} holds no PEM certificate`);
  return pems;
}

/** The undici connect options for `settings`; reads the files now, so errors come early. */
export function tlsConnectOptions(settings: TlsSettings): Record<string, unknown> {
  if ((settings.clientCert === undefined) !== (settings.clientKey === undefined)) {
    throw new ClientError('a client certificate needs both -client-cert and -client-key');
  }
  const ca: Buffer[] = [];
  if (settings.caCert !== undefined) ca.push(readPem(settings.caCert, 'the CA file'));
  if (settings.caPath !== undefined) ca.push(...readCaFolder(settings.caPath));
  return {
    ...(ca.length === 0 ? {} : { ca }),
    ...(settings.clientCert === undefined
      ? {}
      : {
          cert: readPem(settings.clientCert, 'the client certificate'),
          key: readPem(settings.clientKey!, 'the client key'),
        }),
    ...(settings.serverName === undefined ? {} : { servername: settings.serverName }),
    rejectUnauthorized: settings.skipVerify !== true,
  };
}

/**
 * A fetch with these TLS settings for every https:// request it makes (http:// ones are not
 * affected). `base` is the fetch to call with the dispatcher; default the global one.
 */
export function tlsFetch(
  settings: TlsSettings,
  base: typeof fetch = globalThis.fetch,
): typeof fetch {
  const connect = tlsConnectOptions(settings);
  let dispatcher: Promise<Agent> | undefined;
  // The npm Agent and Node's bundled undici are the same code, but their types are separate.
  const withTls: typeof fetch = async (input, init) => {
    dispatcher ??= import('undici').then(({ Agent }) => new Agent({ connect }));
    // A dispatcher already in init (an outer tlsFetch) wins: the outermost settings apply.
    return base(input, { dispatcher: await dispatcher, ...init } as unknown as RequestInit);
  };
  return withTls;
}

/** Each setting's variables, Coffer's first (as for COFFER_ADDR/VAULT_ADDR). */
export const TLS_VARIABLES = {
  caCert: ['COFFER_CACERT', 'VAULT_CACERT'],
  caPath: ['COFFER_CAPATH', 'VAULT_CAPATH'],
  clientCert: ['COFFER_CLIENT_CERT', 'VAULT_CLIENT_CERT'],
  clientKey: ['COFFER_CLIENT_KEY', 'VAULT_CLIENT_KEY'],
  serverName: ['COFFER_TLS_SERVER_NAME', 'VAULT_TLS_SERVER_NAME'],
  skipVerify: ['COFFER_SKIP_VERIFY', 'VAULT_SKIP_VERIFY'],
} as const;

type Env = Readonly<Record<string, string | undefined>>;

function firstSet(env: Env, names: readonly string[]): [string, string] | undefined {
  for (const name of names) {
    const value = env[name]?.trim();
    if (value !== undefined && value !== '') return [name, value];
  }
  return undefined;
}

/** Go's strconv.ParseBool, which Vault uses for VAULT_SKIP_VERIFY. */
function parseBool(name: string, value: string): boolean {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(value)) return false;
  throw new ClientError(`${name} must be true or false`);
}

/**
 * The settings from flags (those given win) and then the environment. Flag values are already
 * typed; variables are read by TLS_VARIABLES.
 */
export function resolveTlsSettings(flags: TlsSettings, env: Env): TlsSettings {
  const out: { -readonly [K in keyof TlsSettings]: TlsSettings[K] } = {};
  for (const key of ['caCert', 'caPath', 'clientCert', 'clientKey', 'serverName'] as const) {
    const value = flags[key] ?? firstSet(env, TLS_VARIABLES[key])?.[1];
    if (value !== undefined) out[key] = value;
  }
  if (flags.skipVerify === true) out.skipVerify = true;
  else {
    const found = firstSet(env, TLS_VARIABLES.skipVerify);
    if (found !== undefined && parseBool(found[0], found[1])) out.skipVerify = true;
  }
  return out;
}
