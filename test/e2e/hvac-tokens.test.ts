// hvac 0.11.2 (Debian python3-hvac, run by Debian's /usr/bin/python3) as an unmodified client
// of tokens and ACL policies against a coffer dev server: test/e2e/hvac_tokens_scenario.py runs
// one phase per test, the state passing through JSON. Missing hvac skips locally, fails with
// CI=true.
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCi } from '../helpers/skips.js';
import {
  hvacMissingReason as missingReason,
  hvacPhaseState,
  hvacVersion,
  killHvacPhases,
  runHvacPhase,
} from '../helpers/hvac.js';
import {
  createTempDir,
  findCanaries,
  killAllServers,
  startServer,
  type ServerProcess,
} from '../helpers/server-process.js';

const SCRIPT = fileURLToPath(new URL('./hvac_tokens_scenario.py', import.meta.url));

/** Each phase, in order, with what it checks (the test names). */
const PHASES: readonly (readonly [phase: string, title: string])[] = [
  ['policies', 'HCL and JSON policies: write, read back, list, a JSON-policy token, delete'],
  ['lifecycle', 'a 1h renewable token: create, lookup, lookup-self, lookup-accessor, renew'],
  ['permissions', 'allowed reads and rw/ writes; Forbidden(["permission denied"]) and raw 403s'],
  ['children', 'children die with their parent; create-orphan and no_parent orphans survive'],
  ['num-uses', 'num_uses=2 works twice, then 403'],
  ['capabilities', 'get_capabilities (capabilities-self) on allowed, rw and forbidden paths'],
  ['names', 'policy names ROOT and " root" are refused, and a ROOT token from a non-root one'],
  ['policy-edit', 'an edit to the HCL policy (read removed) applies on the very next request'],
  ['revoke-self', 'revoke_self: afterwards the token gets 403'],
];

describe('hvac 0.11.2 (Debian): tokens and ACL policies against a coffer dev server', () => {
  if (hvacVersion === undefined && !isCi()) {
    console.warn(`[hvac tokens e2e] skipped: ${missingReason}`);
    it.skip(`hvac tokens scenario (skipped: ${missingReason})`, () => {});
    return;
  }

  const home = createTempDir('coffer-e2e-hvac-tokens-home-');
  const rootToken = `hvt-root-${randomBytes(16).toString('hex')}`;
  const canaries = {
    app: `hvt-app-canary-${randomUUID()}`,
    other: `hvt-other-canary-${randomUUID()}`,
    forbidden: `hvt-forbidden-canary-${randomUUID()}`,
    rw: `hvt-rw-canary-${randomUUID()}`,
  };
  let server: ServerProcess | undefined;
  let state: Record<string, unknown> = { root_token: rootToken, canaries };
  /** Set once a phase fails: later phases depend on its state, so they stop early. */
  let broken: string | undefined;

  beforeAll(async () => {
    if (hvacVersion === undefined) return;
    server = await startServer({ dev: { rootTokenId: rootToken } });
  });

  afterAll(async () => {
    killHvacPhases();
    await killAllServers();
    home.remove();
  });

  it('finds python3-hvac for /usr/bin/python3', () => {
    if (hvacVersion === undefined) throw new Error(`CI is set but ${missingReason}`);
    console.info(`[hvac tokens e2e] hvac ${hvacVersion}`);
    expect(hvacVersion).toMatch(/^\d+\.\d+/);
  });

  for (const [phase, title] of PHASES) {
    it(`phase ${phase}: ${title}`, async () => {
      expect(server).toBeDefined();
      expect(broken, `an earlier phase failed (${broken ?? ''})`).toBeUndefined();
      broken = phase;
      const result = await runHvacPhase(SCRIPT, phase, server!.url, state, home.path);
      state = { ...state, ...hvacPhaseState(phase, result) };
      broken = undefined;
    });
  }

  it('never logs a token or a secret value', async () => {
    expect(server).toBeDefined();
    expect(await server!.stop('SIGTERM')).toBe(0);
    const named: Record<string, string> = { ...canaries };
    for (const [key, value] of Object.entries(state)) {
      if (key.endsWith('_token') && typeof value === 'string') named[key] = value;
    }
    // The root token plus the tokens of every phase that hands some back.
    expect(Object.keys(named).length).toBeGreaterThanOrEqual(4 + 9);
    const log = server!.stderr();
    expect(log.length).toBeGreaterThan(0);
    expect(findCanaries(log, named)).toEqual([]);
  });
});
