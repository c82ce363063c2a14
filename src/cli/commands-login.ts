// `coffer login [-method=M] [K=V ...]`: obtains a token (checks a given token with
// auth/token/lookup-self, or logs in with userpass, AppRole, JWT, Kubernetes or the OIDC browser
// flow) and stores it in the token helper file, so later commands use it without -token or
// COFFER_TOKEN.
// SECURITY: the token never appears in the table output; only -format=json (the whole auth
// block, as Vault prints it) and -token-only print it, and only for a login that made it.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import {
  CofferClient,
  KUBERNETES_SA_TOKEN_PATH,
  login,
  newClientNonce,
  OIDC_CALLBACK_PATH,
  OIDC_DEFAULT_LISTEN_ADDRESS,
  OIDC_DEFAULT_PORT,
  oidcAuthUrl,
  oidcCallback,
  startOidcListener,
} from '../client/index.js';
import type { AuthInfo, LoginRequest, TokenAuth, TokenLookup } from '../client/index.js';
import { parseIntFlag, UsageError } from './args.js';
import type { FlagValues } from './args.js';
import { defineCommand, parseDataArgs } from './command.js';
import type { RunContext } from './command.js';
import { resolveAddress } from './config.js';
import { authRows, formatKeyValueTable } from './format.js';
import { tokenFilePath, writeTokenFile } from './token-file.js';

/** The auth methods `login -method` knows, and the K=V keys each one takes. */
const METHOD_KEYS = {
  token: ['token'],
  userpass: ['username', 'password'],
  approle: ['role_id', 'secret_id'],
  jwt: ['role', 'jwt'],
  kubernetes: ['role', 'jwt'],
  oidc: [
    'role',
    'listenaddress',
    'port',
    'callbackhost',
    'callbackmethod',
    'callbackport',
    'skip_browser',
  ],
} as const satisfies Record<string, readonly string[]>;

type Method = keyof typeof METHOD_KEYS;

function isMethod(name: string): name is Method {
  return Object.hasOwn(METHOD_KEYS, name);
}

const LOGIN_FLAGS = {
  method: {
    kind: 'string',
    placeholder: '<type>',
    help: 'The auth method: token (the default), userpass, approle, jwt, oidc or kubernetes.',
  },
  path: {
    kind: 'string',
    placeholder: '<mount>',
    help: 'Where the auth method is enabled (auth/<mount>/). Defaults to the method name.',
  },
  'no-store': {
    kind: 'boolean',
    help: 'Do not write the token to the token file.',
  },
  'no-print': {
    kind: 'boolean',
    help: 'Print nothing on success.',
  },
  'token-only': {
    kind: 'boolean',
    help: 'Print only the token, raw, and do not store it (Vault: -field=token -no-store).',
  },
  listenaddress: {
    kind: 'string',
    placeholder: '<host>',
    help: `OIDC: address the callback listener binds (default ${OIDC_DEFAULT_LISTEN_ADDRESS}).`,
  },
  port: {
    kind: 'string',
    placeholder: '<port>',
    help: `OIDC: port of the callback listener (default ${OIDC_DEFAULT_PORT}; 0 picks a free one).`,
  },
} as const;

type LoginFlags = FlagValues<typeof LOGIN_FLAGS>;

const SUCCESS_STORED =
  'Success! You are now authenticated. The token is stored in the token file; later\n' +
  'commands use it without "coffer login" again.\n';

/** Listen addresses that are no host a browser can be sent back to. */
const WILDCARD_ADDRESSES = new Set(['', '0.0.0.0', '::', '[::]']);

/** The lookup as an auth block for the Vault-style table (the token row is never printed). */
function authFromLookup(found: TokenLookup): AuthInfo {
  const info = found.info;
  const identity = Array.isArray(info.identity_policies) ? info.identity_policies : [];
  return {
    client_token: '',
    accessor: info.accessor,
    policies: [...info.policies, ...identity.filter((p) => !info.policies.includes(p))],
    token_policies: info.policies,
    identity_policies: identity,
    metadata: info.meta ?? null,
    lease_duration: info.ttl,
    renewable: info.renewable === true,
  };
}

/**
 * The lookup answer without the token itself (`data.id`), for `-format=json`.
 * SECURITY: login never prints the token it was given.
 */
function redactedLookup(found: TokenLookup): Record<string, unknown> {
  const data: Record<string, unknown> = { ...(found.response.data ?? {}) };
  delete data['id'];
  return { ...found.response, data };
}

/** The token argument: "TOKEN", "token=TOKEN" (Vault's key=value form), or "-" / none (stdin). */
function tokenArgument(arg: string | undefined): string | undefined {
  if (arg === undefined || arg === '-') return undefined;
  return arg.startsWith('token=') ? arg.slice('token='.length) : arg;
}

/** The token file to write, checked before any login so a missing HOME wastes no login. */
function tokenFileOf(ctx: RunContext): string {
  const home = ctx.io.env['HOME'];
  if (home === undefined || home.trim() === '') {
    throw new UsageError('HOME is not set, so there is no token file; use -no-store');
  }
  return tokenFilePath(home);
}

function warnIfOverridden(ctx: RunContext): void {
  const overriding = ['COFFER_TOKEN', 'VAULT_TOKEN'].find((name) => {
    const value = ctx.io.env[name];
    return value !== undefined && value.trim() !== '';
  });
  if (overriding !== undefined) {
    ctx.err(
      `WARNING! The ${overriding} environment variable is set; it takes precedence over the ` +
        `stored token. Unset it to use the token from this login.\n`,
    );
  }
}

/** Prints `token` raw, as Vault's -token-only does (a newline only on a terminal). */
function printTokenOnly(ctx: RunContext, token: string): number {
  ctx.io.stdout(token + (ctx.io.stdoutIsTty === true ? '\n' : ''));
  return 0;
}

/** `-method=token`: verify the token with lookup-self, then store it. */
async function loginWithToken(
  ctx: RunContext,
  flags: LoginFlags & { address?: string },
  args: readonly string[],
): Promise<number> {
  if (args.length > 1) {
    throw new UsageError(`too many arguments (expected at most 1, got ${args.length})`);
  }
  let token = tokenArgument(args[0]);
  if (token === undefined) {
    if (ctx.io.stdinIsTty === true) ctx.io.stderr('Token (will be hidden): ');
    token = await ctx.readStdin('token');
  }
  token = token.trim();
  if (token === '') throw new UsageError('missing token');

  const io = ctx.io;
  const client = new CofferClient({
    address: resolveAddress(flags.address, io.env),
    token,
    ...(io.fetch === undefined ? {} : { fetch: io.fetch }),
  });
  const found = await client.lookupSelf();
  if (flags['token-only'] === true) return printTokenOnly(ctx, token);

  let stored = false;
  if (flags['no-store'] !== true) {
    writeTokenFile(tokenFileOf(ctx), token);
    stored = true;
  }
  if (flags['no-print'] === true) return 0;
  if (stored) warnIfOverridden(ctx);
  if (ctx.format === 'json') {
    ctx.json(redactedLookup(found));
    return 0;
  }
  ctx.out(
    stored
      ? SUCCESS_STORED
      : 'Success! You are now authenticated. The token was NOT stored (-no-store): pass it\n' +
          'with -token or COFFER_TOKEN to later commands.\n',
  );
  ctx.out(formatKeyValueTable(authRows(authFromLookup(found), { withToken: false })));
  return 0;
}

/**
 * The K=V arguments as strings. `k=@file` and `k=-` work as in `coffer write`; a lone "-"
 * reads a JSON object from standard input.
 * SECURITY: errors name keys, never values.
 */
async function methodArgs(
  ctx: RunContext,
  method: Method,
  args: readonly string[],
): Promise<Record<string, string>> {
  const allowed: readonly string[] = METHOD_KEYS[method];
  const raw = await parseDataArgs(ctx, args);
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!allowed.includes(key)) {
      throw new UsageError(
        `-method=${method} does not take "${key}"; it takes ${allowed.map((k) => `${k}=`).join(', ')}`,
      );
    }
    if (typeof value === 'string') out[key] = value;
    else if (typeof value === 'number' || typeof value === 'boolean') out[key] = String(value);
    else throw new UsageError(`the value of ${key} must be a string`);
  }
  return out;
}

/** Drops the one line ending a piped value carries ("pass\n" from `echo pass |`). */
function withoutLineEnd(text: string): string {
  return text.replace(/\r?\n$/, '');
}

/**
 * A secret K=V value, or, when it was not given, one read from standard input: hidden after a
 * prompt on a terminal, otherwise everything piped in. This keeps it out of argv and the shell
 * history.
 */
async function secretArg(
  ctx: RunContext,
  given: string | undefined,
  key: string,
  prompt: string,
): Promise<string> {
  if (given !== undefined) return given;
  if (ctx.io.stdinIsTty === true) ctx.io.stderr(`${prompt} (will be hidden): `);
  const value = withoutLineEnd(await ctx.readStdin(key));
  if (value === '') throw new UsageError(`missing ${key}`);
  return value;
}

function required(pairs: Record<string, string>, key: string): string {
  const value = pairs[key];
  if (value === undefined || value.trim() === '') throw new UsageError(`missing ${key}=...`);
  return value;
}

/** The login request of a K=V method, filling in what Vault's CLI fills in. */
async function loginRequestOf(
  ctx: RunContext,
  method: Exclude<Method, 'token' | 'oidc'>,
  mount: string,
  pairs: Record<string, string>,
): Promise<LoginRequest> {
  switch (method) {
    case 'userpass': {
      // As Vault's CLI: the login name defaults to the local user's.
      const username = pairs['username'] ?? ctx.io.env['USER'] ?? ctx.io.env['LOGNAME'];
      if (username === undefined || username.trim() === '') {
        throw new UsageError('missing username=...');
      }
      const password = await secretArg(ctx, pairs['password'], 'password', 'Password');
      return { method, mount, username, password };
    }
    case 'approle': {
      const roleId = required(pairs, 'role_id');
      // A role with bind_secret_id=false needs no secret id, so none is asked for off a terminal.
      let secretId = pairs['secret_id'];
      if (secretId === undefined && ctx.io.stdinIsTty === true) {
        secretId = await secretArg(ctx, undefined, 'secret_id', 'SecretID');
      }
      return { method, mount, roleId, ...(secretId === undefined ? {} : { secretId }) };
    }
    case 'jwt': {
      const jwt = (await secretArg(ctx, pairs['jwt'], 'jwt', 'JWT')).trim();
      const role = pairs['role'];
      return { method, mount, jwt, ...(role === undefined ? {} : { role }) };
    }
    case 'kubernetes': {
      const role = required(pairs, 'role');
      const jwt = pairs['jwt'] ?? readServiceAccountToken();
      return { method, mount, role, jwt: jwt.trim() };
    }
  }
}

/** The pod's service account token, the Kubernetes method's default JWT. */
function readServiceAccountToken(): string {
  try {
    return readFileSync(KUBERNETES_SA_TOKEN_PATH, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new UsageError(
      `no jwt=... given and the service account token ${KUBERNETES_SA_TOKEN_PATH} cannot be ` +
        `read (${typeof code === 'string' ? code : 'error'})`,
    );
  }
}

const TRUE_WORDS = new Set(['1', 't', 'true', 'yes']);

/** A host as it goes into a URL: IPv6 literals in brackets. */
function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** `$BROWSER URL`, without a shell; a failure to start it is a warning, not an error. */
function openBrowser(ctx: RunContext, browser: string, url: string): void {
  const child = spawn(browser, [url], { stdio: 'ignore', detached: true });
  child.on('error', (error: NodeJS.ErrnoException) => {
    ctx.err(
      `WARNING! The browser from $BROWSER could not be started (${error.code ?? 'error'}); ` +
        'open the URL above yourself.',
    );
  });
  child.unref();
}

/**
 * The OIDC browser flow, as Vault's CLI runs it: listen on a loopback port, ask the server for
 * the provider URL with that callback as redirect_uri, send the user there, and trade the
 * state and code the provider redirects back with for a token.
 */
async function oidcLogin(
  ctx: RunContext,
  flags: LoginFlags,
  client: CofferClient,
  mount: string,
  pairs: Record<string, string>,
): Promise<TokenAuth> {
  const listenAddress =
    flags.listenaddress ?? pairs['listenaddress'] ?? OIDC_DEFAULT_LISTEN_ADDRESS;
  const port = parseIntFlag(flags.port ?? pairs['port'] ?? String(OIDC_DEFAULT_PORT), 'port');
  if (port > 65_535) throw new UsageError('invalid value for flag -port: must be at most 65535');
  const callbackMethod = pairs['callbackmethod'] ?? 'http';
  if (callbackMethod !== 'http' && callbackMethod !== 'https') {
    throw new UsageError('callbackmethod must be "http" or "https"');
  }
  const listener = await startOidcListener({ host: listenAddress, port });
  try {
    const callbackHost =
      pairs['callbackhost'] ??
      (WILDCARD_ADDRESSES.has(listenAddress) ? 'localhost' : listenAddress);
    const callbackPort = pairs['callbackport'] ?? String(listener.port);
    const redirectUri = `${callbackMethod}://${urlHost(callbackHost)}:${callbackPort}${OIDC_CALLBACK_PATH}`;
    const clientNonce = newClientNonce();
    const role = pairs['role'];
    const authUrl = await oidcAuthUrl(client, {
      mount,
      redirectUri,
      clientNonce,
      ...(role === undefined ? {} : { role }),
    });
    const waiting = listener.waitForCallback((params) =>
      oidcCallback(client, { ...params, mount, clientNonce }),
    );
    const browser = ctx.io.env['BROWSER'];
    const skipBrowser = TRUE_WORDS.has((pairs['skip_browser'] ?? '').toLowerCase());
    if (browser !== undefined && browser.trim() !== '' && !skipBrowser) {
      ctx.err(
        `Complete the login via your OIDC provider. Launching browser to:\n\n    ${authUrl}\n`,
      );
      openBrowser(ctx, browser.trim(), authUrl);
    } else {
      ctx.err(
        `Complete the login via your OIDC provider. Open this URL in a browser:\n\n    ${authUrl}\n`,
      );
    }
    ctx.err('Waiting for OIDC authentication to complete...');
    return await waiting;
  } finally {
    await listener.close();
  }
}

/** Stores (unless told not to) and prints the token a method login returned. */
function finishLogin(
  ctx: RunContext,
  flags: LoginFlags,
  tokenFile: string | undefined,
  result: TokenAuth,
): number {
  const token = result.auth.client_token;
  if (flags['token-only'] === true) return printTokenOnly(ctx, token);
  if (tokenFile !== undefined) writeTokenFile(tokenFile, token);
  if (flags['no-print'] === true) return 0;
  if (tokenFile !== undefined) warnIfOverridden(ctx);
  if (ctx.format === 'json') {
    // As Vault: the whole answer, token included (the caller asked for machine output).
    ctx.json(result.response);
    return 0;
  }
  ctx.warn(result.response);
  ctx.out(SUCCESS_STORED);
  ctx.out(formatKeyValueTable(authRows(result.auth, { withToken: false })));
  return 0;
}

export const loginCommand = defineCommand({
  summary: 'Log in (token, userpass, AppRole, JWT, OIDC, Kubernetes) and store the token',
  usage: '[options] [TOKEN | K=V ...]',
  description:
    '  -method=token (the default) checks TOKEN with auth/token/lookup-self. Without TOKEN, or\n' +
    '  with "-", the token is read from standard input (hidden on a terminal).\n' +
    '\n' +
    '  Other methods log in at auth/<path>/... with K=V pairs (K=@FILE reads a file, K=- stdin):\n' +
    '    userpass    username=NAME [password=...]   (prompted, hidden, or read from stdin)\n' +
    '    approle     role_id=ID [secret_id=...]     (prompted on a terminal when missing)\n' +
    '    jwt         [role=NAME] [jwt=...]          (read from stdin when missing)\n' +
    '    kubernetes  role=NAME [jwt=...]            (default: the pod service account token)\n' +
    '    oidc        [role=NAME] [listenaddress=H] [port=P] [callbackhost=H] [skip_browser=true]\n' +
    '  OIDC prints the provider URL (and opens $BROWSER when set), then waits on\n' +
    `  http://localhost:${OIDC_DEFAULT_PORT}${OIDC_CALLBACK_PATH} for the provider's redirect.\n` +
    '\n' +
    '  The token is written to ~/.coffer-token (mode 0600), where every later command finds it;\n' +
    '  COFFER_TOKEN and VAULT_TOKEN, when set, still take precedence. The table output never\n' +
    '  shows the token; -token-only prints just the token (and does not store it), and\n' +
    '  -format=json prints the whole auth answer of a method login, token included.',
  flags: LOGIN_FLAGS,
  args: { min: 0, max: Infinity },
  async run(ctx, flags, args) {
    const method = (flags.method ?? 'token').trim().toLowerCase();
    if (!isMethod(method)) {
      throw new UsageError(
        `unknown auth method "${method}"; use one of ${Object.keys(METHOD_KEYS).join(', ')}`,
      );
    }
    if (flags['token-only'] === true && flags['no-print'] === true) {
      throw new UsageError('-token-only and -no-print cannot be used together');
    }
    if (method === 'token') return loginWithToken(ctx, flags, args);

    const noStore = flags['no-store'] === true || flags['token-only'] === true;
    if (noStore && flags['no-print'] === true) {
      throw new UsageError(
        '-no-store and -no-print cannot be used together: the token would be lost',
      );
    }
    if (noStore && flags['token-only'] !== true && ctx.format !== 'json') {
      throw new UsageError(
        'with -no-store the token is only printed by -token-only or -format=json; add one of them',
      );
    }
    const tokenFile = noStore ? undefined : tokenFileOf(ctx);
    const pairs = await methodArgs(ctx, method, args);
    const mount = (flags.path ?? method).trim();
    if (mount.replace(/^\/+|\/+$/g, '') === '') throw new UsageError('-path must not be empty');

    // Login paths need no token; a stale one from the token file is not sent.
    const client = new CofferClient({
      address: resolveAddress(flags.address, ctx.io.env),
      ...(ctx.io.fetch === undefined ? {} : { fetch: ctx.io.fetch }),
    });
    const result =
      method === 'oidc'
        ? await oidcLogin(ctx, flags, client, mount, pairs)
        : await login(client, await loginRequestOf(ctx, method, mount, pairs));
    return finishLogin(ctx, flags, tokenFile, result);
  },
});
