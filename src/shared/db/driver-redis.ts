// The Redis driver (redis-database-plugin): dynamic users are ACL users. Creation is
// `ACL SETUSER <name> on ><password> <rules...>` with the role's JSON list of ACL rules, as
// Vault's redis plugin does; revocation is `ACL DELUSER` (which also closes the user's
// connections). Redis has no account expiry, so renewal changes nothing in Redis.
import { Redis } from 'ioredis';
import { CofferError } from '../../sdk/errors.js';
import {
  errorCode,
  errorMessage,
  guard,
  NETWORK_CODES,
  noSuchUser,
  type ClassifiedFailure,
  type DatabaseDriver,
  type DriverOptions,
  type NewUser,
  type RedisSettings,
  type RoleStatements,
} from './driver.js';
import { parseRedisRules } from './statements.js';
import { randomAlphanumeric } from './password.js';

function classifyRedis(err: unknown): ClassifiedFailure {
  if (err instanceof Error && err.name === 'ReplyError') {
    const prefix = /^[A-Z]+/.exec(err.message)?.[0] ?? 'ERR';
    if (prefix === 'WRONGPASS' || prefix === 'NOAUTH') {
      return { kind: 'auth', code: prefix, detail: '' };
    }
    return { kind: 'statement', code: prefix, detail: err.message.replace(/^[A-Z]+ /, '') };
  }
  const code = errorCode(err);
  if (code !== undefined && NETWORK_CODES.has(code))
    return { kind: 'connection', code, detail: '' };
  // ioredis reports a refused or dropped connection as "Connection is closed." and the like.
  return { kind: 'connection', code: 'client', detail: errorMessage(err) };
}

/** ACL GETUSER's answer (Redis 6.2 and 7) → the rules that make another user alike. */
function cloneRules(info: unknown): string[] {
  const fields = new Map<string, unknown>();
  const list = Array.isArray(info) ? (info as unknown[]) : [];
  for (let i = 0; i + 1 < list.length; i += 2) fields.set(String(list[i]), list[i + 1]);
  const words = (v: unknown, prefix: string): string[] => {
    if (Array.isArray(v)) return v.map((p) => `${prefix}${String(p)}`);
    return typeof v === 'string' && v !== '' ? v.split(' ') : [];
  };
  const flags = words(fields.get('flags'), '');
  const rules = ['reset', flags.includes('on') ? 'on' : 'off'];
  for (const flag of ['allkeys', 'allchannels', 'allcommands'])
    if (flags.includes(flag)) rules.push(flag);
  rules.push(...words(fields.get('commands'), ''));
  const keys = fields.get('keys');
  rules.push(...(Array.isArray(keys) ? words(keys, '~') : words(keys, '')));
  const channels = fields.get('channels');
  rules.push(...(Array.isArray(channels) ? words(channels, '&') : words(channels, '')));
  const selectors = fields.get('selectors');
  if (Array.isArray(selectors)) {
    for (const selector of selectors) {
      const inner = cloneRules(selector).slice(2);
      if (inner.length > 0) rules.push(`(${inner.join(' ')})`);
    }
  }
  return rules;
}

/** Statement fields Redis has no use for; a role that sets them is refused when written. */
export function redisUnsupportedField(statements: RoleStatements): string | undefined {
  if (statements.revocation.length > 0) return 'revocation_statements';
  if (statements.rollback.length > 0) return 'rollback_statements';
  if (statements.renew.length > 0) return 'renew_statements';
  return undefined;
}

export function createRedisDriver(settings: RedisSettings, options: DriverOptions): DatabaseDriver {
  const { root } = settings;
  let client: Redis | undefined;
  let closed = false;

  function newClient(): Redis {
    const c = new Redis({
      host: settings.host,
      port: settings.port,
      username: root.username,
      password: root.password,
      lazyConnect: true,
      connectTimeout: options.connectTimeoutMs,
      commandTimeout: options.queryTimeoutMs,
      // One attempt per use: a dead server fails the request now (the core retries leases
      // with backoff) instead of queueing commands behind reconnect loops.
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      // INFO may be outside the user's ACL; ioredis would warn on the console about it.
      enableReadyCheck: false,
      ...(settings.tls
        ? {
            tls: {
              rejectUnauthorized: !settings.insecureTls,
              ...(settings.caCert === undefined ? {} : { ca: settings.caCert }),
            },
          }
        : {}),
    });
    // Without a listener ioredis prints connection errors (unredacted) to the console.
    c.on('error', () => undefined);
    return c;
  }

  let connecting: Promise<Redis> | undefined;

  /** The connected client, reconnecting (once, however many callers wait) if it ended. */
  async function connected(what: string): Promise<Redis> {
    if (closed) throw new CofferError('upstream_failure', `${what}: the connection is closed`);
    if (client !== undefined && client.status === 'ready') return client;
    connecting ??= (async () => {
      client?.disconnect();
      const fresh = newClient();
      client = fresh;
      // connect() rejects with a bare "Connection is closed."; the reason (a refused
      // password, a refused socket) arrives as an 'error' event.
      let reason: unknown;
      const remember = (err: unknown): void => {
        reason ??= err;
      };
      fresh.on('error', remember);
      try {
        await fresh.connect();
        return fresh;
      } catch (err) {
        throw reason ?? err;
      } finally {
        fresh.off('error', remember);
        connecting = undefined;
      }
    })();
    const pending = connecting;
    return guard(what, [root.password], classifyRedis, () => pending);
  }

  async function command(
    what: string,
    args: readonly string[],
    secrets: readonly (string | undefined)[] = [],
  ): Promise<unknown> {
    const c = await connected(what);
    return guard(what, [...secrets, root.password], classifyRedis, () =>
      c.call(args[0]!, ...args.slice(1)),
    );
  }

  async function exists(username: string): Promise<boolean> {
    return (await command('lookup', ['ACL', 'GETUSER', username])) !== null;
  }

  return {
    kind: 'redis',

    async verifyConnection() {
      await command('connection', ['PING']);
    },

    /**
     * Redis cannot try ACL rules without applying them: they are set on a disabled throwaway
     * user (SETUSER is all-or-nothing, so a bad rule changes nothing), which is then deleted.
     */
    async validateRoleStatements(statements: RoleStatements) {
      const rules = parseRedisRules(statements.creation, 'creation_statements');
      const probe = `coffer-check-${randomAlphanumeric(16)}`;
      try {
        await command('creation_statements[0]', ['ACL', 'SETUSER', probe, 'off', ...rules]);
      } finally {
        await command('validation', ['ACL', 'DELUSER', probe]).catch(() => undefined);
      }
    },

    validateRootRotationStatements(statements) {
      if (statements.length === 0) return Promise.resolve();
      return Promise.reject(
        new CofferError(
          'invalid_request',
          'root_rotation_statements: not supported by redis-database-plugin',
          { field: 'root_rotation_statements' },
        ),
      );
    },

    async createUser(user: NewUser, statements: RoleStatements) {
      const rules = parseRedisRules(statements.creation, 'creation_statements');
      if (await exists(user.username)) {
        throw new CofferError('invalid_request', 'creation: the generated username already exists');
      }
      await command(
        'creation_statements[0]',
        ['ACL', 'SETUSER', user.username, 'on', `>${user.password}`, ...rules],
        [user.password],
      );
    },

    async renewUser() {
      // Redis ACL users do not expire; the lease alone bounds their life.
    },

    async revokeUser(username) {
      await command('revocation', ['ACL', 'DELUSER', username]);
    },

    userExists: exists,

    async setPassword(username, password, statements) {
      if (statements.length > 0) {
        throw new CofferError(
          'invalid_request',
          'rotation_statements: not supported by redis-database-plugin',
          { field: 'rotation_statements' },
        );
      }
      if (!(await exists(username))) {
        throw noSuchUser();
      }
      await command(
        'rotation',
        ['ACL', 'SETUSER', username, 'resetpass', `>${password}`],
        [password],
      );
    },

    async cloneUser(source, user) {
      const info = await command('clone', ['ACL', 'GETUSER', source]);
      if (info === null) throw noSuchUser();
      if (await exists(user.username)) {
        throw new CofferError('invalid_request', 'clone: the user already exists');
      }
      await command(
        'clone',
        ['ACL', 'SETUSER', user.username, ...cloneRules(info), `>${user.password}`],
        [user.password],
      );
    },

    async rotateRootPassword(password, statements) {
      if (statements.length > 0) {
        throw new CofferError(
          'invalid_request',
          'root_rotation_statements: not supported by redis-database-plugin',
          { field: 'root_rotation_statements' },
        );
      }
      await command(
        'root rotation',
        ['ACL', 'SETUSER', root.username, 'resetpass', `>${password}`],
        [password],
      );
    },

    async close() {
      closed = true;
      const c = client;
      client = undefined;
      if (c === undefined) return;
      await c.quit().catch(() => {
        c.disconnect();
      });
    },
  };
}
