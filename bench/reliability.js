// The reliability harness at full size (not part of `npm run bench`: it takes minutes): the
// seeded HTTP fuzzer with 100,000 requests (RSS before and after, 0 5xx), 20 SIGKILL rounds
// under write load (acknowledged writes checked and lost), and the hostile-client tests. It
// runs the same test files CI runs at a bounded size, with bigger numbers in the environment.
//   node bench/reliability.js [--requests=100000] [--rounds=20] [--seed=N]
// Needs dist/ (npm run build, or npx tsc -p tsconfig.build.json).
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

const args = Object.fromEntries(
  process.argv
    .slice(2)
    .map((a) => /^--([a-z]+)=(.*)$/.exec(a))
    .filter((m) => m !== null)
    .map((m) => [m[1], m[2]]),
);
const env = {
  ...process.env,
  FUZZ_REQUESTS: args.requests ?? '100000',
  SIGKILL_ROUNDS: args.rounds ?? '20',
  ...(args.seed === undefined ? {} : { FUZZ_SEED: args.seed, SIGKILL_SEED: args.seed }),
};

process.stdout.write(
  `reliability harness: ${env.FUZZ_REQUESTS} fuzzed requests, ${env.SIGKILL_ROUNDS} SIGKILL ` +
    `rounds; load average ${loadavg()[0].toFixed(2)}\n`,
);
const result = spawnSync(
  'npx',
  [
    'vitest',
    'run',
    'test/reliability/fuzz.test.ts',
    'test/reliability/sigkill.test.ts',
    'test/e2e/hostile-clients.test.ts',
    'src/http/listener-timeouts.test.ts',
  ],
  { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 64 << 20 },
);
const lines = (result.stdout ?? '')
  .split('\n')
  .filter((l) =>
    /fuzz seed|canary scan|sigkill seed|hostile bodies|timeouts \(2 s\)|passed|failed/.test(l),
  );
process.stdout.write(`${lines.join('\n')}\nload average after: ${loadavg()[0].toFixed(2)}\n`);
process.exitCode = result.status ?? 1;
