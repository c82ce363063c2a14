// hvac 0.11.2 (Debian python3-hvac, run by Debian's /usr/bin/python3) driving the identity store
// of a real dev server (issue 18 item 1) through client.secrets.identity: entities, entity
// aliases, internal and external groups, group aliases, lookups and merge; a userpass token
// that loses a group's policy on its next request once its entity leaves the group; a JWT
// login whose `groups` claim lands it in an external group's policies; a templated policy.
// test/e2e/hvac_identity_scenario.py. Missing hvac skips locally, fails with CI=true.
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  hvacMissingReason as missingReason,
  hvacPhaseState,
  hvacVersion,
  killHvacPhases,
  runHvacPhase,
} from '../helpers/hvac.js';
import { isCi } from '../helpers/skips.js';
import {
  createTempDir,
  findCanaries,
  killAllServers,
  startServer,
  type ServerProcess,
} from '../helpers/server-process.js';

const SCRIPT = fileURLToPath(new URL('./hvac_identity_scenario.py', import.meta.url));

/** A static key, and two tokens for one subject: with and without the mapped group. */
async function jwtState(): Promise<Record<string, string>> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const issuer = 'https://issuer.hv-identity.invalid';
  const audience = 'coffer-hv-identity';
  const sign = (groups: string[]): Promise<string> =>
    new SignJWT({ groups })
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject('hv-id-workload')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
  return {
    public_pem: await exportSPKI(publicKey),
    issuer,
    audience,
    with_group: await sign(['engineering', 'unmapped']),
    without_group: await sign(['unmapped']),
  };
}

describe('hvac 0.11.2 (Debian): the identity store', () => {
  if (hvacVersion === undefined && !isCi()) {
    it.skip(`hvac identity (skipped: ${missingReason})`, () => {});
    return;
  }
  const home = createTempDir('coffer-e2e-hvac-identity-');
  const rootToken = `hvi-root-${randomUUID()}`;
  const password = `hvi pw ${randomUUID()}`;
  let server: ServerProcess | undefined;
  let state: Record<string, unknown> = { root_token: rootToken, password };

  beforeAll(async () => {
    if (hvacVersion === undefined) return;
    server = await startServer({ dev: { rootTokenId: rootToken } });
    state = { ...state, jwt: await jwtState() };
  });

  afterAll(async () => {
    killHvacPhases();
    await killAllServers();
    home.remove();
  });

  it('entities, aliases and an internal group; leaving the group applies on the next request', async () => {
    if (hvacVersion === undefined) throw new Error(`CI=true but ${missingReason}`);
    const result = await runHvacPhase(SCRIPT, 'internal', server!.url, state, home.path);
    state = { ...state, ...hvacPhaseState('internal', result) };
    expect(state.entity_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('a JWT login with a groups claim lands in the external group', async () => {
    if (hvacVersion === undefined) throw new Error(`CI=true but ${missingReason}`);
    const result = await runHvacPhase(SCRIPT, 'external', server!.url, state, home.path);
    state = { ...state, ...hvacPhaseState('external', result) };
    expect(state.jwt_user_token).toMatch(/^cfs\./);
  });

  it('never logs a password, a token or a JWT', async () => {
    expect(await server!.stop('SIGTERM')).toBe(0);
    const jwt = state.jwt as Record<string, string>;
    const named: Record<string, string> = {
      password,
      jwt: jwt.with_group!,
      ...(typeof state.user_token === 'string' ? { user_token: state.user_token } : {}),
      ...(typeof state.jwt_user_token === 'string' ? { jwt_user_token: state.jwt_user_token } : {}),
    };
    expect(findCanaries(server!.stderr(), named)).toEqual([]);
  });
});
