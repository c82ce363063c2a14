// Running python3-hvac (Debian's package, imported by Debian's own /usr/bin/python3) as a
// black-box Vault client from the e2e tests: the availability probe, and one bounded run of a
// scenario phase with its state passed as JSON on stdin.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

/** Debian's interpreter: the one python3-hvac is installed for (PATH may hold another). */
export const PYTHON = '/usr/bin/python3';
const PHASE_TIMEOUT_MS = 60_000;

const probe = spawnSync(
  PYTHON,
  ['-c', "import hvac; from importlib.metadata import version; print(version('hvac'))"],
  { encoding: 'utf8', timeout: 20_000 },
);

/** hvac's version, or undefined when /usr/bin/python3 cannot import it. */
export const hvacVersion: string | undefined = probe.status === 0 ? probe.stdout.trim() : undefined;

/** Why hvac is unusable ('' when it is usable). */
export const hvacMissingReason =
  hvacVersion !== undefined
    ? ''
    : `${PYTHON} cannot import hvac (${(probe.error?.message ?? probe.stderr).trim() || `exit ${String(probe.status)}`}); install the Debian package python3-hvac`;

export interface PhaseResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const pythons = new Set<ChildProcess>();

/** Runs `script phase url` with `state` as JSON on stdin; SIGKILLed after 60 s. */
export function runHvacPhase(
  script: string,
  phase: string,
  url: string,
  state: unknown,
  home: string,
): Promise<PhaseResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [script, phase, url], {
      // No VAULT_TOKEN/VAULT_ADDR or proxies from the host; an empty HOME so hvac finds no
      // ~/.vault-token.
      env: { PATH: '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    pythons.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (stdout += chunk));
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), PHASE_TIMEOUT_MS);
    child.once('error', (err) => {
      clearTimeout(timer);
      pythons.delete(child);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      pythons.delete(child);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(JSON.stringify(state));
  });
}

/** The JSON value on the phase's last stdout line; throws with its output when it failed. */
export function hvacPhaseOutput(phase: string, result: PhaseResult): unknown {
  if (result.code !== 0) {
    throw new Error(
      `hvac phase ${phase} failed (exit ${String(result.code)}):\n${result.stderr}\n${result.stdout}`,
    );
  }
  const lines = result.stdout.trim().split('\n');
  return JSON.parse(lines.at(-1) ?? '');
}

/** The phase's output when it must be a JSON object: the state later phases build on. */
export function hvacPhaseState(phase: string, result: PhaseResult): Record<string, string> {
  const parsed = hvacPhaseOutput(phase, result);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`hvac phase ${phase} printed no JSON object`);
  }
  return parsed as Record<string, string>;
}

/** For afterAll: no python child outlives the test file. */
export function killHvacPhases(): void {
  for (const child of pythons) child.kill('SIGKILL');
}
