// The Google door's caller, in process: a Coffer token as `Bearer`, or a self-signed RS256 JWT
// from a Coffer-minted service-account key file, checked against the real door-credential and
// token stores (over memory storage) with real RSA keys. Every refusal is the same error.
import { generateKeyPairSync, sign } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { DoorCredentialStore } from '../../core/door-credentials.js';
import { TokenStore } from '../../core/token-store.js';
import { memoryStorage } from '../../sdk/testing.js';
import { bearerOf, doorAuth, unauthenticated, type GcpAuth } from './auth.js';

const NOW_MS = Date.UTC(2026, 10, 25, 9, 34, 17, 640);
const NOW = Math.floor(NOW_MS / 1000);
const SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
const UNAUTHENTICATED = {
  code: 'permission_denied',
  message: 'missing or invalid bearer token',
  field: 'token',
};

interface KeyFile {
  private_key_id: string;
  private_key: string;
  client_email: string;
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A JWT as Google's auth library makes it from a key file (header, claims, RS256). */
function jwt(
  key: KeyFile,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
  privateKey: string = key.private_key,
): string {
  const h = b64({ alg: 'RS256', typ: 'JWT', kid: key.private_key_id, ...header });
  const p = b64({
    iss: key.client_email,
    sub: key.client_email,
    scope: SCOPE,
    iat: NOW,
    exp: NOW + 3600,
    ...claims,
  });
  const signature = sign('RSA-SHA256', Buffer.from(`${h}.${p}`), privateKey).toString('base64url');
  return `${h}.${p}.${signature}`;
}

describe('bearerOf', () => {
  it('reads the bearer value, whatever the case of the scheme and the spaces around it', () => {
    expect(bearerOf('Bearer abc.def')).toBe('abc.def');
    expect(bearerOf('bearer abc')).toBe('abc');
    expect(bearerOf('BEARER abc')).toBe('abc');
    expect(bearerOf('  Bearer \t abc  ')).toBe('abc');
    expect(bearerOf(['Bearer first', 'Bearer second'])).toBe('first');
  });

  it.each([
    ['absent', undefined],
    ['no header in the list', []],
    ['empty', ''],
    ['the scheme alone', 'Bearer'],
    ['the scheme and a space', 'Bearer '],
    ['another scheme', 'Basic abc'],
    ['no space after the scheme', 'Bearerabc'],
    ['text before the scheme', 'xBearer abc'],
    ['two values', 'Bearer abc def'],
  ])('has no bearer value when %s', (_, header) => {
    expect(bearerOf(header)).toBeUndefined();
  });
});

describe('doorAuth', () => {
  let store: DoorCredentialStore;
  let key: KeyFile;
  let other: KeyFile;
  let door: GcpAuth;

  beforeAll(async () => {
    const now = () => NOW_MS;
    const tokens = new TokenStore({ storage: memoryStorage(), now });
    await tokens.open();
    store = new DoorCredentialStore({ storage: memoryStorage(), tokens, now });
    const issue = async (displayName: string) => {
      const { shown } = await store.create('gcp', {
        policies: ['default'],
        displayName,
        fields: { project_id: 'my-project' },
      });
      return shown['key_file'] as unknown as KeyFile;
    };
    key = await issue('ci-runner');
    other = await issue('other-runner');
    door = doorAuth(
      () => store,
      () => NOW_MS,
    );
  });

  const refused = async (authorization: string | string[] | undefined) => {
    await expect(door.resolve(authorization)).rejects.toMatchObject(UNAUTHENTICATED);
  };

  it('the refusal is a permission_denied on the token field, saying nothing more', () => {
    expect(unauthenticated()).toMatchObject(UNAUTHENTICATED);
  });

  it('no bearer value is refused before anything runs', async () => {
    const never = doorAuth(
      () => {
        throw new Error('the store must not be asked');
      },
      () => NOW_MS,
    );
    for (const header of [undefined, '', 'Basic abc', 'Bearer a b']) {
      await expect(never.resolve(header)).rejects.toMatchObject(UNAUTHENTICATED);
    }
  });

  it('anything that does not look like a JWT is a Coffer token, passed on as is', async () => {
    for (const token of ['hvs.CAESIabc', 's.abc', 'a.b.c', 'eyJa.b', 'eyJa.b.c.d', 'eyJ']) {
      expect(await door.resolve(`Bearer ${token}`)).toEqual({ token });
    }
  });

  it("a service-account JWT signed by the key file's private key is that credential", async () => {
    expect(await door.resolve(`Bearer ${jwt(key)}`)).toEqual({
      credential: { api: 'gcp', id: key.private_key_id },
    });
    expect(await door.resolve([`Bearer ${jwt(other)}`])).toEqual({
      credential: { api: 'gcp', id: other.private_key_id },
    });
  });

  it('a JWT signed by another key, or altered after signing, is refused (never a token)', async () => {
    // kid of one credential, signature by another credential's key.
    await refused(`Bearer ${jwt(key, {}, {}, other.private_key)}`);
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await refused(
      `Bearer ${jwt(key, {}, {}, stranger.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString())}`,
    );
    const [h, , s] = jwt(key).split('.');
    await refused(
      `Bearer ${h}.${b64({ iss: key.client_email, sub: key.client_email, scope: SCOPE, iat: NOW, exp: NOW + 7200 })}.${s}`,
    );
    await refused(`Bearer ${h}.${jwt(key).split('.')[1]}.`);
  });

  it('the header must name RS256 and a live key id of the Google door', async () => {
    await refused(`Bearer ${jwt(key, {}, { alg: 'HS256' })}`);
    await refused(`Bearer ${jwt(key, {}, { alg: 'none' })}`);
    await refused(`Bearer ${jwt(key, {}, { kid: 7 })}`);
    await refused(`Bearer ${jwt(key, {}, { kid: undefined })}`);
    await refused(`Bearer ${jwt(key, {}, { kid: 'f'.repeat(40) })}`);
    await refused(`Bearer ${jwt(key, {}, { kid: '../aws/x' })}`);
    const [, p, s] = jwt(key).split('.');
    // A header that is not JSON, and one without a kid (a header starting eyJ, i.e. '{"',
    // is a JSON object or no JSON at all).
    for (const header of ['eyJ!!!', 'eyJhbGciOiJSUzI1NiJ9']) {
      await refused(`Bearer ${header}.${p}.${s}`);
    }
  });

  it('the claims must be a JSON object, even when signed', async () => {
    const h = b64({ alg: 'RS256', typ: 'JWT', kid: key.private_key_id });
    for (const p of [b64(null), b64([1]), b64(42), b64('text'), 'bm90IGpzb24']) {
      const sig = sign('RSA-SHA256', Buffer.from(`${h}.${p}`), key.private_key).toString(
        'base64url',
      );
      await refused(`Bearer ${h}.${p}.${sig}`);
    }
  });

  it("iss and sub must both be the key's email", async () => {
    await refused(`Bearer ${jwt(key, { iss: other.client_email })}`);
    await refused(`Bearer ${jwt(key, { sub: other.client_email })}`);
    await refused(`Bearer ${jwt(key, { sub: undefined })}`);
    await refused(`Bearer ${jwt(key, { iss: undefined })}`);
  });

  it('exp and iat must be numbers', async () => {
    await refused(`Bearer ${jwt(key, { exp: String(NOW + 3600) })}`);
    await refused(`Bearer ${jwt(key, { iat: String(NOW) })}`);
    await refused(`Bearer ${jwt(key, { exp: undefined })}`);
    await refused(`Bearer ${jwt(key, { iat: undefined })}`);
  });

  it('an expired JWT is accepted for five minutes of clock skew, then refused', async () => {
    const at = (exp: number) => jwt(key, { iat: exp - 3600, exp });
    expect(await door.resolve(`Bearer ${at(NOW - 299)}`)).toHaveProperty('credential');
    await refused(`Bearer ${at(NOW - 300)}`);
    await refused(`Bearer ${at(NOW - 3000)}`);
  });

  it('a JWT issued in the future is accepted up to five minutes ahead, then refused', async () => {
    const at = (iat: number) => jwt(key, { iat, exp: iat + 3600 });
    expect(await door.resolve(`Bearer ${at(NOW + 300)}`)).toHaveProperty('credential');
    await refused(`Bearer ${at(NOW + 301)}`);
    await refused(`Bearer ${at(NOW + 3000)}`);
  });

  it('the clock is read in whole seconds, rounded down', async () => {
    // 999 ms into the second NOW: NOW is the second that counts, not NOW + 1.
    const late = doorAuth(
      () => store,
      () => NOW * 1000 + 999,
    );
    expect(
      await late.resolve(`Bearer ${jwt(key, { iat: NOW - 3899, exp: NOW - 299 })}`),
    ).toHaveProperty('credential');
    await expect(
      late.resolve(`Bearer ${jwt(key, { iat: NOW + 301, exp: NOW + 3901 })}`),
    ).rejects.toMatchObject(UNAUTHENTICATED);
  });

  it('a JWT lives at most one hour', async () => {
    expect(
      await door.resolve(`Bearer ${jwt(key, { iat: NOW - 10, exp: NOW + 3590 })}`),
    ).toHaveProperty('credential');
    await refused(`Bearer ${jwt(key, { iat: NOW - 10, exp: NOW + 3591 })}`);
    await refused(`Bearer ${jwt(key, { iat: NOW, exp: NOW + 86_400 })}`);
  });

  it('a JWT must be for cloud-platform or for Secret Manager', async () => {
    const accepted = [
      { scope: `openid ${SCOPE} email` },
      { scope: undefined, aud: 'https://secretmanager.googleapis.com/' },
      { scope: undefined, aud: 'https://secretmanager.googleapis.com' },
      { scope: 'email', aud: 'https://secretmanager.googleapis.com/' },
    ];
    for (const claims of accepted) {
      expect(
        await door.resolve(`Bearer ${jwt(key, claims)}`),
        JSON.stringify(claims),
      ).toHaveProperty('credential');
    }
    const refusedClaims = [
      { scope: undefined },
      { scope: `${SCOPE}.read-only` },
      { scope: `${SCOPE}x` },
      { scope: `x${SCOPE}` },
      { scope: [SCOPE] },
      { scope: 'https://www.googleapis.com/auth/devstorage.read_only' },
      { scope: undefined, aud: 'https://secretmanager.googleapis.com//' },
      { scope: undefined, aud: 'https://secretmanager.googleapis.com.evil.test/' },
      { scope: undefined, aud: 'https://secretmanagerxgoogleapis.com/' },
      { scope: undefined, aud: 'https://secretmanager.googleapisxcom/' },
      { scope: undefined, aud: 'xhttps://secretmanager.googleapis.com/' },
      { scope: undefined, aud: 'http://secretmanager.googleapis.com/' },
      { scope: undefined, aud: 'https://storage.googleapis.com/' },
      { scope: undefined, aud: ['https://secretmanager.googleapis.com/'] },
    ];
    for (const claims of refusedClaims) {
      await expect(
        door.resolve(`Bearer ${jwt(key, claims)}`),
        JSON.stringify(claims),
      ).rejects.toMatchObject(UNAUTHENTICATED);
    }
  });

  it('a damaged stored key (no public key, or no email) authenticates nobody', async () => {
    // Storage written by hand: what a partial restore or a bug could leave behind.
    const now = () => NOW_MS;
    const storage = memoryStorage();
    const tokens = new TokenStore({ storage: memoryStorage(), now });
    await tokens.open();
    const fresh = new DoorCredentialStore({ storage, tokens, now });
    const { shown, record } = await fresh.create('gcp', {
      policies: ['default'],
      displayName: 'damaged-key',
      fields: { project_id: 'my-project' },
    });
    const file = shown['key_file'] as unknown as KeyFile;
    const key = `gcp/${record.id}`;
    const stored = JSON.parse(Buffer.from(storage.entries.get(key)!).toString('utf8')) as {
      material: Record<string, unknown>;
      metadata: Record<string, unknown>;
    };
    const reopen = () => doorAuth(() => new DoorCredentialStore({ storage, tokens, now }), now);
    expect(await reopen().resolve(`Bearer ${jwt(file)}`)).toHaveProperty('credential');
    // Without its email, not even a JWT that names no iss and no sub.
    const anonymous = jwt(file, { iss: undefined, sub: undefined });
    storage.entries.set(
      key,
      Buffer.from(JSON.stringify({ ...stored, metadata: { principal: 'x' } }), 'utf8'),
    );
    await expect(reopen().resolve(`Bearer ${anonymous}`)).rejects.toMatchObject(UNAUTHENTICATED);
    await expect(reopen().resolve(`Bearer ${jwt(file)}`)).rejects.toMatchObject(UNAUTHENTICATED);
    // Without its public key.
    storage.entries.set(key, Buffer.from(JSON.stringify({ ...stored, material: {} }), 'utf8'));
    await expect(reopen().resolve(`Bearer ${jwt(file)}`)).rejects.toMatchObject(UNAUTHENTICATED);
  });

  it('a revoked key is refused at once', async () => {
    const { shown } = await store.create('gcp', {
      policies: ['default'],
      displayName: 'short-lived',
      fields: { project_id: 'my-project' },
    });
    const gone = shown['key_file'] as unknown as KeyFile;
    expect(await door.resolve(`Bearer ${jwt(gone)}`)).toHaveProperty('credential');
    await store.revoke('gcp', gone.private_key_id);
    await refused(`Bearer ${jwt(gone)}`);
  });
});
