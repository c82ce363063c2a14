// A connection's stored details (Vault's field names: connection_url, username, password,
// max_open_connections, host, port, tls, ...) turned into checked driver settings: the
// PostgreSQL URL, the MySQL DSN (Go driver form or mysql:// URL), the Redis endpoint.
import { invalidField } from '../../sdk/errors.js';
import type { JsonObject } from '../../sdk/json.js';
import {
  driverKind,
  type DriverSettings,
  type MysqlSettings,
  type MysqlTls,
  type PluginName,
  type PoolSettings,
  type RootCredentials,
  PASSWORD_PLACEHOLDER,
  USER_PLACEHOLDERS,
} from '../../shared/db/driver.js';

export { renderUrl } from '../../shared/db/driver.js';

/** Sentinels that stand in for the placeholders while a URL's structure is parsed. */
const USER_SENTINEL = 'cofferusernamesentinel';
const PASSWORD_SENTINEL = 'cofferpasswordsentinel';

function str(details: JsonObject, key: string): string {
  const v = details[key];
  return typeof v === 'string' ? v : '';
}

function num(details: JsonObject, key: string, fallback: number): number {
  const v = details[key];
  return typeof v === 'number' ? v : fallback;
}

function bool(details: JsonObject, key: string): boolean {
  return details[key] === true;
}

function withSentinels(template: string): string {
  let out = template.split(PASSWORD_PLACEHOLDER).join(PASSWORD_SENTINEL);
  for (const p of USER_PLACEHOLDERS) out = out.split(p).join(USER_SENTINEL);
  return out;
}

function usesUserPlaceholder(template: string): boolean {
  return USER_PLACEHOLDERS.some((p) => template.includes(p));
}

const LITERAL_PASSWORD =
  'must not hold a password; write {{password}} in it and give the password field';

function poolSettings(details: JsonObject): PoolSettings {
  const maxOpen = num(details, 'max_open_connections', 4);
  if (maxOpen < 1) throw invalidField('max_open_connections', 'must be at least 1');
  return {
    maxOpenConnections: maxOpen,
    maxIdleConnections: num(details, 'max_idle_connections', 0),
    maxConnectionLifetimeSeconds: num(details, 'max_connection_lifetime', 0),
  };
}

/**
 * The root credentials: the username and password fields, else a username written in the
 * URL itself. A {{username}} placeholder with no username field is refused.
 */
function rootCredentials(details: JsonObject, template: string, urlUser: string): RootCredentials {
  const username = str(details, 'username');
  if (usesUserPlaceholder(template) && username === '') {
    throw invalidField('username', 'is required when connection_url uses {{username}}');
  }
  return { username: username === '' ? urlUser : username, password: str(details, 'password') };
}

function postgresSettings(details: JsonObject): DriverSettings {
  const template = str(details, 'connection_url');
  if (template === '') throw invalidField('connection_url', 'is required');
  if (!/^postgres(?:ql)?:\/\//.test(template)) {
    throw invalidField('connection_url', 'must be a postgresql:// URL');
  }
  let url: URL;
  try {
    url = new URL(withSentinels(template));
  } catch {
    throw invalidField('connection_url', 'is not a valid URL');
  }
  // SECURITY: the stored URL is returned on read, so it must never carry a password itself.
  const literalPassword = url.password !== '' && url.password !== PASSWORD_SENTINEL;
  const queryPassword = url.searchParams.get('password');
  if (literalPassword || (queryPassword !== null && queryPassword !== PASSWORD_SENTINEL)) {
    throw invalidField('connection_url', LITERAL_PASSWORD);
  }
  if (url.hostname === '') throw invalidField('connection_url', 'must name a host');
  const urlUser = url.username === USER_SENTINEL ? '' : decodeURIComponent(url.username);
  return {
    kind: 'postgres',
    connectionUrl: template,
    root: rootCredentials(details, template, urlUser),
    pool: poolSettings(details),
  };
}

interface ParsedDsn {
  user: string;
  password: string;
  host?: string;
  port?: number;
  socketPath?: string;
  database: string;
  params: URLSearchParams;
}

function parsePort(text: string): number {
  const port = Number.parseInt(text, 10);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) {
    throw invalidField('connection_url', 'has an invalid port');
  }
  return port;
}

/**
 * The Go MySQL driver's DSN: `[user[:password]@][net[(addr)]]/dbname[?params]`, or a
 * mysql:// URL. Parsed with sentinels in place of the placeholders, so the structure never
 * depends on what a password contains.
 */
function parseMysqlDsn(template: string): ParsedDsn {
  const text = withSentinels(template);
  if (/^mysql:\/\//.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw invalidField('connection_url', 'is not a valid URL');
    }
    return {
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
      host: url.hostname,
      port: url.port === '' ? 3306 : parsePort(url.port),
      database: decodeURIComponent(url.pathname.replace(/^\//, '')),
      params: url.searchParams,
    };
  }
  const slash = text.lastIndexOf('/');
  if (slash === -1) {
    throw invalidField(
      'connection_url',
      'must be a DSN like {{username}}:{{password}}@tcp(host:3306)/',
    );
  }
  const left = text.slice(0, slash);
  const right = text.slice(slash + 1);
  const q = right.indexOf('?');
  const database = q === -1 ? right : right.slice(0, q);
  const params = new URLSearchParams(q === -1 ? '' : right.slice(q + 1));
  const at = left.lastIndexOf('@');
  const userinfo = at === -1 ? '' : left.slice(0, at);
  const netaddr = at === -1 ? left : left.slice(at + 1);
  const colon = userinfo.indexOf(':');
  const user = colon === -1 ? userinfo : userinfo.slice(0, colon);
  const password = colon === -1 ? '' : userinfo.slice(colon + 1);
  const m = /^(?:(tcp|unix)(?:\((.*)\))?)?$/.exec(netaddr);
  if (m === null) throw invalidField('connection_url', 'has an unsupported network part');
  const net = m[1] ?? 'tcp';
  const addr = m[2] ?? '';
  if (net === 'unix') {
    if (addr === '') throw invalidField('connection_url', 'unix() needs a socket path');
    return { user, password, socketPath: addr, database, params };
  }
  const hostPort = /^(?:\[([^\]]+)\]|([^:]*))(?::(\d+))?$/.exec(addr);
  if (hostPort === null) throw invalidField('connection_url', 'has an invalid address');
  return {
    user,
    password,
    host:
      hostPort[1] ?? (hostPort[2] === '' || hostPort[2] === undefined ? '127.0.0.1' : hostPort[2]),
    port: hostPort[3] === undefined ? 3306 : parsePort(hostPort[3]),
    database,
    params,
  };
}

function mysqlTls(details: JsonObject, params: URLSearchParams): MysqlTls | undefined {
  const mode = params.get('tls') ?? '';
  const ca = str(details, 'tls_ca');
  const certificateKey = str(details, 'tls_certificate_key');
  const serverName = str(details, 'tls_server_name');
  const wanted =
    ca !== '' ||
    certificateKey !== '' ||
    ['true', 'skip-verify', 'preferred', 'custom'].includes(mode);
  if (!wanted) return undefined;
  return {
    ...(ca === '' ? {} : { ca }),
    ...(certificateKey === '' ? {} : { certificateKey }),
    ...(serverName === '' ? {} : { serverName }),
    skipVerify: bool(details, 'tls_skip_verify') || mode === 'skip-verify' || mode === 'preferred',
  };
}

function mysqlSettings(details: JsonObject): MysqlSettings {
  const template = str(details, 'connection_url');
  if (template === '') throw invalidField('connection_url', 'is required');
  const dsn = parseMysqlDsn(template);
  if (dsn.password !== '' && dsn.password !== PASSWORD_SENTINEL) {
    throw invalidField('connection_url', LITERAL_PASSWORD);
  }
  const urlUser = dsn.user === USER_SENTINEL ? '' : dsn.user;
  const tls = mysqlTls(details, dsn.params);
  return {
    kind: 'mysql',
    ...(dsn.host === undefined ? {} : { host: dsn.host }),
    ...(dsn.port === undefined ? {} : { port: dsn.port }),
    ...(dsn.socketPath === undefined ? {} : { socketPath: dsn.socketPath }),
    ...(dsn.database === '' ? {} : { database: dsn.database }),
    root: rootCredentials(details, template, urlUser),
    pool: poolSettings(details),
    ...(tls === undefined ? {} : { tls }),
  };
}

function redisSettings(details: JsonObject): DriverSettings {
  const host = str(details, 'host');
  if (host === '') throw invalidField('host', 'is required');
  const port = num(details, 'port', 0);
  if (port < 1 || port > 65535) throw invalidField('port', 'is required (1 to 65535)');
  const username = str(details, 'username');
  if (username === '') throw invalidField('username', 'is required');
  const password = str(details, 'password');
  if (password === '') throw invalidField('password', 'is required');
  const caCert = str(details, 'ca_cert');
  return {
    kind: 'redis',
    host,
    port,
    root: { username, password },
    tls: bool(details, 'tls'),
    insecureTls: bool(details, 'insecure_tls'),
    ...(caCert === '' ? {} : { caCert }),
  };
}

/** Checked settings for a plugin; throws invalid_request naming the faulty field. */
export function driverSettings(plugin: PluginName, details: JsonObject): DriverSettings {
  switch (driverKind(plugin)) {
    case 'postgres':
      return postgresSettings(details);
    case 'mysql':
      return mysqlSettings(details);
    case 'redis':
      return redisSettings(details);
  }
}

/** Whether rotate-root can work: the URL must take its password from {{password}}. */
export function supportsRootRotation(plugin: PluginName, details: JsonObject): boolean {
  if (driverKind(plugin) === 'redis') return true;
  return str(details, 'connection_url').includes(PASSWORD_PLACEHOLDER);
}

/** The same settings with another root password (rotate-root checks the new one). */
export function withRootPassword(settings: DriverSettings, password: string): DriverSettings {
  return { ...settings, root: { ...settings.root, password } };
}
