// Skips that cannot hide a failure. Locally a test that needs a service, a client or a
// registered auth method skips and says why; under CI (CI set the way CI systems set it:
// "true", "1", "yes", ...) the same condition FAILS, so a green CI run means every such test
// ran. The summary reporter (test/summary-reporter.ts) backs this up by failing a CI run that
// reports any skipped test at all.
import type { TestContext } from 'vitest';

/** CI as CI systems set it: any value but '', "0", "false", "no" and "off" (any case). */
export function isCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = (env.CI ?? '').trim().toLowerCase();
  return value !== '' && !['0', 'false', 'no', 'off'].includes(value);
}

/**
 * For `describe.skipIf(skipUnlessCi(reason, label))`: false when `reason` is ''. Otherwise,
 * under CI it throws (the test file fails, naming the reason); elsewhere it warns and returns
 * true (the tests skip).
 */
export function skipUnlessCi(reason: string, label: string): boolean {
  if (reason === '') return false;
  if (isCi()) throw new Error(`${label}: CI is set, so this cannot be skipped: ${reason}`);
  console.warn(`[${label}] skipped: ${reason}`);
  return true;
}

/** Inside a test: skips with `reason`, or under CI fails with it. */
export function skipOrFail(ctx: TestContext, reason: string): never {
  if (isCi()) throw new Error(`CI is set, so this test cannot be skipped: ${reason}`);
  ctx.skip(reason);
  throw new Error('unreachable: ctx.skip returned');
}

/**
 * Why an auth method type is unusable here: '' when `registered` (the engine registry,
 * `builtinEngines()`) holds it.
 */
export function missingRegistration(
  registered: ReadonlyMap<string, unknown>,
  type: string,
): string {
  return registered.has(type)
    ? ''
    : `src/engines/registry.ts does not register the "${type}" auth method`;
}
