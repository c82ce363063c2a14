// hvac 0.11.2 (Debian python3-hvac) driving the key-holder ceremonies against a real server
// with a Shamir seal (issue 18): sys/generate-root with a server OTP decoded the way Vault's
// CLI decodes it (base64 without padding of token XOR OTP), then sys/rekey to a new share
// count and threshold (unsealing with the new shares, the old ones refused), then a rekey with
// verification of the new shares. test/e2e/hvac_parity_scenario.py, phase "ceremonies".
import { fileURLToPath } from 'node:url';
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
  sqliteConfig,
  startServer,
  type ServerProcess,
} from '../helpers/server-process.js';

const SCRIPT = fileURLToPath(new URL('./hvac_parity_scenario.py', import.meta.url));

describe('hvac 0.11.2 (Debian): generate-root and rekey ceremonies', () => {
  if (hvacVersion === undefined && !isCi()) {
    it.skip(`hvac ceremonies (skipped: ${missingReason})`, () => {});
    return;
  }
  const dir = createTempDir('coffer-e2e-hvac-ceremonies-');
  let server: ServerProcess | undefined;
  let state: Record<string, unknown> = {};

  beforeAll(async () => {
    if (hvacVersion === undefined) return;
    server = await startServer({ configText: sqliteConfig(dir.file('coffer.db')) });
  });

  afterAll(async () => {
    killHvacPhases();
    await killAllServers();
    dir.remove();
  });

  it('init, generate-root (OTP), rekey 3/2 → 4/3, rekey with verification → 2/2', async () => {
    if (hvacVersion === undefined) throw new Error(`CI=true but ${missingReason}`);
    const result = await runHvacPhase(SCRIPT, 'ceremonies', server!.url, state, dir.path);
    state = { ...state, ...hvacPhaseState('ceremonies', result) };
    expect(state.generated_root_token).toMatch(/^cfs\./);
  });

  it('never logs the generated root token', async () => {
    expect(await server!.stop('SIGTERM')).toBe(0);
    const token = state.generated_root_token as string;
    expect(findCanaries(server!.stderr(), { token })).toEqual([]);
  });
});
