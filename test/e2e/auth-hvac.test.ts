// hvac 0.11.2 (Debian python3-hvac, run by Debian's /usr/bin/python3) as an unmodified client of
// Coffer's auth methods against the real dev server: test/e2e/hvac_auth_scenario.py enables and
// configures each method with hvac's own calls, logs in with hvac's login call, and takes the
// token through use, 403, renew_self, revoke_self and 403 again, one phase per method. jwt and
// kubernetes run once src/engines/registry.ts registers them (this file signs their tokens and
// plays the Kubernetes API server's TokenReview endpoint). Missing hvac skips locally, fails
// with CI=true.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinEngines } from '../../src/engines/registry.js';
import { isCi, missingRegistration, skipUnlessCi } from '../helpers/skips.js';
import {
  hvacMissingReason as missingReason,
  hvacPhaseState,
  hvacVersion,
  killHvacPhases,
  runHvacPhase,
} from '../helpers/hvac.js';
import {
  createTempDir,
  encodedForms,
  findCanaries,
  killAllServers,
  startServer,
  type ServerProcess,
} from '../helpers/server-process.js';

const SCRIPT = fileURLToPath(new URL('./hvac_auth_scenario.py', import.meta.url));
const registered = builtinEngines();

/** Each phase, in order, with the auth method type it needs and what it checks. */
const PHASES: readonly (readonly [phase: string, type: string, title: string])[] = [
  ['setup', 'userpass', 'KV secrets and a policy; enable_auth_method userpass (options), approle'],
  ['userpass', 'userpass', 'create_or_update_user, read/list, a wrong password, login lifecycle'],
  ['approle', 'approle', 'role, role ID, secret IDs, a foreign secret ID, login lifecycle'],
  ['jwt', 'jwt', 'configure (static key), create_role, a wrong audience, jwt_login lifecycle'],
  ['kubernetes', 'kubernetes', 'configure (TokenReview), create_role, login lifecycle'],
];

describe('hvac 0.11.2 (Debian): auth methods against a coffer dev server', () => {
  if (hvacVersion === undefined && !isCi()) {
    console.warn(`[hvac auth e2e] skipped: ${missingReason}`);
    it.skip(`hvac auth scenario (skipped: ${missingReason})`, () => {});
    return;
  }

  const home = createTempDir('coffer-e2e-hvac-auth-home-');
  const rootToken = `hva-root-${randomBytes(16).toString('hex')}`;
  /** A space, a quote and a non-ASCII letter, so every encoded form differs. */
  const password = `hva pw "${randomUUID()}" ü`;
  const canaries = {
    app: `hva-app-canary-${randomUUID()}`,
    forbidden: `hva-forbidden-canary-${randomUUID()}`,
  };
  const k8sAccount = { namespace: 'hv-e2e-ns', account: 'hv-e2e-sa', uid: randomUUID() };
  let server: ServerProcess | undefined;
  /** Stands in for the Kubernetes API server (no cluster runs here). */
  let apiServer: Server | undefined;
  let reviews = 0;
  let state: Record<string, unknown> = { root_token: rootToken, password, canaries };
  /** Set once phase setup passed: the others need its mounts, policy and secrets. */
  let setupDone = false;

  /** The jwt phase's inputs: a static key, a token it signs and one for another audience. */
  async function jwtState(): Promise<Record<string, string>> {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const issuer = 'https://issuer.hv-e2e.invalid';
    const audience = 'coffer-hv-e2e';
    const subject = 'hv-workload';
    const sign = (aud: string): Promise<string> =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'ES256' })
        .setIssuer(issuer)
        .setAudience(aud)
        .setSubject(subject)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey);
    return {
      public_pem: await exportSPKI(publicKey),
      issuer,
      audience,
      subject,
      token: await sign(audience),
      wrong_audience: await sign('someone-else'),
    };
  }

  /**
   * The kubernetes phase's inputs: a local TokenReview endpoint that vouches for exactly one
   * service account JWT (signed by a key nobody configures: only the review decides).
   */
  async function kubernetesState(): Promise<Record<string, string>> {
    const { privateKey } = await generateKeyPair('ES256');
    const sign = (uid: string): Promise<string> =>
      new SignJWT({
        'kubernetes.io/serviceaccount/namespace': k8sAccount.namespace,
        'kubernetes.io/serviceaccount/service-account.name': k8sAccount.account,
        'kubernetes.io/serviceaccount/service-account.uid': uid,
      })
        .setProtectedHeader({ alg: 'ES256' })
        .setIssuer('kubernetes/serviceaccount')
        .setSubject(`system:serviceaccount:${k8sAccount.namespace}:${k8sAccount.account}`)
        .sign(privateKey);
    const jwt = await sign(k8sAccount.uid);
    const unknownJwt = await sign(randomUUID());
    apiServer = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        reviews += 1;
        const parsed = JSON.parse(body) as { spec?: { token?: string } };
        const user = `system:serviceaccount:${k8sAccount.namespace}:${k8sAccount.account}`;
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            apiVersion: 'authentication.k8s.io/v1',
            kind: 'TokenReview',
            status:
              parsed.spec?.token === jwt
                ? { authenticated: true, user: { username: user, uid: k8sAccount.uid } }
                : { authenticated: false },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => apiServer!.listen(0, '127.0.0.1', resolve));
    const port = (apiServer.address() as { port: number }).port;
    return {
      host: `http://127.0.0.1:${port}`,
      namespace: k8sAccount.namespace,
      account: k8sAccount.account,
      jwt,
      unknown_jwt: unknownJwt,
    };
  }

  beforeAll(async () => {
    if (hvacVersion === undefined) return;
    server = await startServer({ dev: { rootTokenId: rootToken } });
    if (missingRegistration(registered, 'jwt') === '') state = { ...state, jwt: await jwtState() };
    if (missingRegistration(registered, 'kubernetes') === '') {
      state = { ...state, kubernetes: await kubernetesState() };
    }
  });

  afterAll(async () => {
    killHvacPhases();
    await killAllServers();
    await new Promise<void>((resolve) => {
      if (apiServer === undefined) resolve();
      else
        apiServer.close(() => {
          resolve();
        });
    });
    home.remove();
  });

  it('finds python3-hvac for /usr/bin/python3', () => {
    if (hvacVersion === undefined) throw new Error(`CI is set but ${missingReason}`);
    console.info(`[hvac auth e2e] hvac ${hvacVersion}`);
    expect(hvacVersion).toMatch(/^\d+\.\d+/);
  });

  for (const [phase, type, title] of PHASES) {
    const missing = missingRegistration(registered, type);
    if (skipUnlessCi(missing, `hvac auth e2e: phase ${phase}`)) {
      it.skip(`phase ${phase}: ${title} (skipped: ${missing})`, () => {});
      continue;
    }
    it(`phase ${phase}: ${title}`, async () => {
      expect(server).toBeDefined();
      // Every phase builds on setup's secrets, policy and mounts, and on nothing else.
      if (phase !== 'setup') expect(setupDone, 'phase setup failed').toBe(true);
      const result = await runHvacPhase(SCRIPT, phase, server!.url, state, home.path);
      state = { ...state, ...hvacPhaseState(phase, result) };
      if (phase === 'setup') setupDone = true;
      if (phase === 'kubernetes') expect(reviews).toBeGreaterThan(0);
    });
  }

  it('never logs a password, a token, a credential or a secret value, in any encoding', async () => {
    expect(server).toBeDefined();
    expect(await server!.stop('SIGTERM')).toBe(0);
    const named: Record<string, string> = { password, ...canaries };
    for (const [key, value] of Object.entries(state)) {
      if (typeof value === 'string' && key !== 'root_token') named[key] = value;
    }
    const jwt = state['jwt'] as Record<string, string> | undefined;
    if (jwt !== undefined) named['jwt'] = jwt['token']!;
    const k8s = state['kubernetes'] as Record<string, string> | undefined;
    if (k8s !== undefined) named['serviceAccountJwt'] = k8s['jwt']!;
    // The password, the two secrets, and what the userpass and approle phases handed back.
    expect(Object.keys(named).length).toBeGreaterThanOrEqual(3 + 5);
    const stderr = server!.stderr();
    expect(stderr.length).toBeGreaterThan(0);
    expect(findCanaries(`${server!.stdout()}\n${stderr}`, encodedForms(named))).toEqual([]);
    // The dev server prints its root token on stdout once, by design; never in its log.
    expect(findCanaries(stderr, encodedForms({ rootToken }))).toEqual([]);
  });
});
