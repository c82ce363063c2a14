// The agent's auto-auth: getting a token from a token file, or by logging in with AppRole
// (optionally unwrapping a response-wrapped secret-id), JWT or Kubernetes service account
// tokens through `POST <mount>/login`; and keeping that token renewed at 2/3 of its TTL.
import { readFile, unlink } from 'node:fs/promises';
import { ApiError, ClientError, CofferClient, ConnectionError } from '../../client/index.js';
import type { ApiResponse } from '../../client/index.js';
import type { AuthMethodConfig } from './config.js';

/** A token the agent holds. */
export interface AgentToken {
  readonly token: string;
  /** Seconds; 0 means it does not expire (a root token). */
  readonly ttlSeconds: number;
  readonly renewable: boolean;
}

export interface AuthDeps {
  readonly address: string;
  readonly fetch?: typeof fetch;
}

export const KUBERNETES_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** Settings that keep what was read from a file, for re-authentication after it was removed. */
export class Authenticator {
  readonly #method: AuthMethodConfig;
  readonly #deps: AuthDeps;
  /** Secret values read from files that are removed after reading (Vault's default). */
  readonly #remembered = new Map<string, string>();

  constructor(method: AuthMethodConfig, deps: AuthDeps) {
    this.#method = method;
    this.#deps = deps;
  }

  get method(): AuthMethodConfig {
    return this.#method;
  }

  /**
   * Obtains a token. Throws ClientError with a message naming the method and file, ApiError when
   * the server refuses the login, ConnectionError when it cannot be reached.
   * SECURITY: no message contains a token, a secret-id or a JWT.
   */
  async login(): Promise<AgentToken> {
    switch (this.#method.type) {
      case 'token_file':
        return this.#tokenFile();
      case 'approle':
        return this.#approle();
      case 'jwt':
        return this.#jwtLogin(this.#required('path'), this.#flag('remove_jwt_after_reading', true));
      case 'kubernetes':
        return this.#jwtLogin(this.#optional('token_path') ?? KUBERNETES_TOKEN_PATH, false);
    }
  }

  #client(token?: string): CofferClient {
    return new CofferClient({
      address: this.#deps.address,
      ...(token === undefined ? {} : { token }),
      ...(this.#deps.fetch === undefined ? {} : { fetch: this.#deps.fetch }),
    });
  }

  #optional(key: string): string | undefined {
    const value = this.#method.config[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value.trim() === '') {
      throw new ClientError(`${this.#method.type}: config ${key} must be a non-empty string`);
    }
    return value.trim();
  }

  #required(key: string): string {
    const value = this.#optional(key);
    if (value === undefined)
      throw new ClientError(`${this.#method.type}: config ${key} is required`);
    return value;
  }

  #flag(key: string, fallback: boolean): boolean {
    const value = this.#method.config[key];
    if (value === undefined) return fallback;
    if (typeof value === 'boolean') return value;
    if (value === 'true' || value === 'false') return value === 'true';
    throw new ClientError(`${this.#method.type}: config ${key} must be true or false`);
  }

  /**
   * Reads a credential file (trimmed). With `remove`, deletes it after reading and remembers the
   * value, so a later re-authentication without a new file reuses it.
   */
  async #readCredential(file: string, what: string, remove: boolean): Promise<string> {
    let text: string;
    try {
      text = (await readFile(file, 'utf8')).trim();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      const remembered = this.#remembered.get(file);
      if (code === 'ENOENT' && remembered !== undefined) return remembered;
      throw new ClientError(
        `cannot read the ${what} file ${file} (${typeof code === 'string' ? code : 'error'})`,
      );
    }
    if (text === '') throw new ClientError(`the ${what} file ${file} is empty`);
    if (remove) {
      this.#remembered.set(file, text);
      await unlink(file).catch(() => undefined);
    }
    return text;
  }

  async #tokenFile(): Promise<AgentToken> {
    const file = this.#required('token_file_path');
    const token = await this.#readCredential(file, 'token', false);
    try {
      const found = await this.#client(token).lookupSelf();
      return { token, ttlSeconds: found.info.ttl, renewable: found.info.renewable === true };
    } catch (error) {
      if (error instanceof ApiError && (error.status === 403 || error.status === 401)) {
        throw new ClientError(`the token in ${file} is not valid (${error.status})`);
      }
      throw error;
    }
  }

  async #approle(): Promise<AgentToken> {
    const roleId = await this.#readCredential(
      this.#required('role_id_file_path'),
      'role-id',
      false,
    );
    const body: Record<string, unknown> = { role_id: roleId };
    const secretFile = this.#optional('secret_id_file_path');
    if (secretFile !== undefined) {
      const remove = this.#flag('remove_secret_id_file_after_reading', true);
      const wrappingPath = this.#optional('secret_id_response_wrapping_path');
      if (wrappingPath === undefined) {
        body['secret_id'] = await this.#readCredential(secretFile, 'secret-id', remove);
      } else {
        // A wrapping token can be unwrapped only once: never remember it, always read a new one.
        const wrapping = await this.#readCredential(secretFile, 'wrapped secret-id', false);
        if (remove) await unlink(secretFile).catch(() => undefined);
        body['secret_id'] = await this.#unwrapSecretId(wrapping, wrappingPath);
      }
    }
    return this.#login(body);
  }

  /**
   * Checks that the wrapping token was made by `expectedPath` (so a token wrapping something
   * else, or made by an attacker elsewhere, is refused) and unwraps it.
   */
  async #unwrapSecretId(wrappingToken: string, expectedPath: string): Promise<string> {
    const lookup = await this.#client().request('POST', 'sys/wrapping/lookup', {
      body: { token: wrappingToken },
    });
    const creationPath = lookup?.data?.['creation_path'];
    const norm = (p: string) => p.trim().replace(/^\/+|\/+$/g, '');
    if (typeof creationPath !== 'string' || norm(creationPath) !== norm(expectedPath)) {
      throw new ClientError(
        'the wrapped secret-id was not created at secret_id_response_wrapping_path',
      );
    }
    const unwrapped: ApiResponse | undefined = await this.#client(wrappingToken).unwrap();
    const secretId = unwrapped?.data?.['secret_id'];
    if (typeof secretId !== 'string' || secretId === '') {
      throw new ClientError('the unwrapped response holds no secret_id');
    }
    return secretId;
  }

  async #jwtLogin(file: string, remove: boolean): Promise<AgentToken> {
    const jwt = await this.#readCredential(file, 'JWT', remove);
    return this.#login({ role: this.#required('role'), jwt });
  }

  async #login(body: Record<string, unknown>): Promise<AgentToken> {
    const path = `${this.#method.mountPath}/login`;
    const response = await this.#client().request('POST', path, { body });
    const auth = response?.auth;
    if (auth === null || auth === undefined || typeof auth.client_token !== 'string') {
      throw new ClientError(`${path} answered without a token`);
    }
    return {
      token: auth.client_token,
      ttlSeconds: typeof auth.lease_duration === 'number' ? auth.lease_duration : 0,
      renewable: auth.renewable,
    };
  }
}

export interface TokenKeeperOptions {
  readonly address: string;
  readonly fetch?: typeof fetch;
  /** The token must be replaced: at its max TTL, refused renewal, or expired. */
  readonly onExpiring: () => void;
  readonly log: (line: string) => void;
}

/**
 * Renews the agent's token at 2/3 of its TTL with `renew-self`. When the server grants less
 * than asked (the max TTL is near) or refuses, `onExpiring` asks for a new login, early enough.
 */
export class TokenKeeper {
  readonly #options: TokenKeeperOptions;
  #timer: NodeJS.Timeout | undefined;
  #generation = 0;

  constructor(options: TokenKeeperOptions) {
    this.#options = options;
  }

  track(token: AgentToken): void {
    this.#generation += 1;
    clearTimeout(this.#timer);
    if (token.ttlSeconds <= 0) return;
    const generation = this.#generation;
    const delay = token.ttlSeconds * 1000 * (2 / 3);
    if (!token.renewable) {
      this.#timer = setTimeout(() => {
        if (generation === this.#generation) this.#options.onExpiring();
      }, delay);
      return;
    }
    this.#timer = setTimeout(() => {
      void this.#renew(token, generation, Date.now() + token.ttlSeconds * 1000);
    }, delay);
  }

  close(): void {
    this.#generation += 1;
    clearTimeout(this.#timer);
  }

  async #renew(token: AgentToken, generation: number, expiresAt: number): Promise<void> {
    const client = new CofferClient({
      address: this.#options.address,
      token: token.token,
      ...(this.#options.fetch === undefined ? {} : { fetch: this.#options.fetch }),
    });
    try {
      const renewed = await client.renewSelf(token.ttlSeconds);
      if (generation !== this.#generation) return;
      const granted = renewed.auth.lease_duration;
      if (granted < token.ttlSeconds || !renewed.auth.renewable) {
        this.#options.log(`token renewal capped at ${granted}s; a new login follows before expiry`);
        this.#timer = setTimeout(
          () => {
            if (generation === this.#generation) this.#options.onExpiring();
          },
          granted * 1000 * (2 / 3),
        );
        return;
      }
      this.#timer = setTimeout(
        () => {
          void this.#renew(token, generation, Date.now() + granted * 1000);
        },
        granted * 1000 * (2 / 3),
      );
    } catch (error) {
      if (generation !== this.#generation) return;
      if (error instanceof ConnectionError && expiresAt - Date.now() > 0) {
        this.#options.log(`token renewal failed, will retry: ${error.message}`);
        this.#timer = setTimeout(
          () => {
            void this.#renew(token, generation, expiresAt);
          },
          Math.min(5_000, (expiresAt - Date.now()) / 3),
        );
        return;
      }
      this.#options.onExpiring();
    }
  }
}
