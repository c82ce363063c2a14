// hvac 0.11.2 (Debian python3-hvac, run by Debian's /usr/bin/python3) as an unmodified
// black-box client: test/e2e/hvac_scenario.py writes through it, the server restarts, the
// script unseals and verifies. Missing hvac skips locally and fails with CI=true.
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCi } from '../helpers/skips.js';
import {
  hvacMissingReason as missingReason,
  hvacPhaseOutput,
  hvacVersion,
  killHvacPhases,
  runHvacPhase,
} from '../helpers/hvac.js';
import {
  createTempDir,
  findCanaries,
  killAllServers,
  sqliteConfig,
  startServer,
  type ServerProcess,
} from '../helpers/server-process.js';

const SCRIPT = fileURLToPath(new URL('./hvac_scenario.py', import.meta.url));

interface InitState {
  readonly keys: string[];
  readonly keys_base64: string[];
  readonly root_token: string;
}

describe('hvac 0.11.2 (Debian) against coffer server (SQLite), across a process restart', () => {
  if (hvacVersion === undefined && !isCi()) {
    console.warn(`[hvac e2e] skipped: ${missingReason}`);
    it.skip(`hvac scenario (skipped: ${missingReason})`, () => {});
    return;
  }

  const dir = createTempDir('coffer-e2e-hvac-');
  const home = createTempDir('coffer-e2e-hvac-home-');
  const config = sqliteConfig(dir.file('coffer.db'));
  const canaries = {
    kv1_password_1: `hvac-kv1-one-${randomUUID()}`,
    kv1_password_2: `hvac-kv1-two-${randomUUID()}`,
    v2_secret_1: `hvac-v2-one-${randomUUID()}`,
    v2_secret_2: `hvac-v2-two-${randomUUID()}`,
    v2_patched: `hvac-v2-patch-${randomUUID()}`,
  };
  const logs: string[] = [];
  let server: ServerProcess | undefined;
  let init: InitState | undefined;

  beforeAll(async () => {
    if (hvacVersion === undefined) return;
    server = await startServer({ configText: config });
  });

  afterAll(async () => {
    killHvacPhases();
    await killAllServers();
    dir.remove();
    home.remove();
  });

  it('finds python3-hvac for /usr/bin/python3', () => {
    if (hvacVersion === undefined) throw new Error(`CI is set but ${missingReason}`);
    console.info(`[hvac e2e] hvac ${hvacVersion}`);
    expect(hvacVersion).toMatch(/^\d+\.\d+/);
  });

  it('phase init-and-write: initialise, unseal, mount, KV v1 and v2 through hvac', async () => {
    expect(server).toBeDefined();
    const result = await runHvacPhase(
      SCRIPT,
      'init-and-write',
      server!.url,
      { canaries },
      home.path,
    );
    init = hvacPhaseOutput('init-and-write', result) as InitState;
    expect(init.keys).toHaveLength(5);
    expect(init.keys_base64).toHaveLength(5);
    expect(init.root_token).not.toBe('');
  });

  it('restarts the server process on the same SQLite file', async () => {
    expect(init).toBeDefined();
    expect(await server!.stop('SIGTERM')).toBe(0);
    logs.push(server!.stderr(), server!.stdout());
    server = await startServer({ configText: config });
  });

  it('phase after-restart: sealed, unseal with 3 other shares, every write intact', async () => {
    expect(init).toBeDefined();
    const result = await runHvacPhase(
      SCRIPT,
      'after-restart',
      server!.url,
      { ...init, canaries },
      home.path,
    );
    expect(hvacPhaseOutput('after-restart', result)).toEqual({ ok: true });
  });

  it('never logs the root token, an unseal key or a secret value', async () => {
    expect(init).toBeDefined();
    expect(await server!.stop('SIGTERM')).toBe(0);
    logs.push(server!.stderr(), server!.stdout());
    const named: Record<string, string> = { ...canaries, rootToken: init!.root_token };
    init!.keys.forEach((k, i) => (named[`unsealKeyHex${i}`] = k));
    init!.keys_base64.forEach((k, i) => (named[`unsealKeyB64${i}`] = k));
    expect(findCanaries(logs.join('\n'), named)).toEqual([]);
  });
});
