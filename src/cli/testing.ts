// Test helper (excluded from the build): runs the CLI in-process against a route table of
// canned answers and captures exit code, stdout, stderr and the requests the client built.
import { routeFetch } from '../client/testing.js';
import type { CannedReply, RecordedRequest, Responder } from '../client/testing.js';
import { runCli } from './main.js';

export const TEST_ADDR = 'http://127.0.0.1:8200';
export const TEST_TOKEN = 'hvs.cli-test-token';

export interface CliRunOptions {
  readonly routes?: Readonly<Record<string, CannedReply | Responder>>;
  /** Merged over COFFER_ADDR=TEST_ADDR and COFFER_TOKEN=TEST_TOKEN; undefined removes one. */
  readonly env?: Record<string, string | undefined>;
  /** What standard input holds; absent means the CLI has no standard input. */
  readonly stdin?: string;
  readonly stdinIsTty?: boolean;
  readonly stdoutIsTty?: boolean;
}

export interface CliRunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly requests: RecordedRequest[];
}

export async function runCliForTest(
  argv: string[],
  options: CliRunOptions = {},
): Promise<CliRunResult> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const rec = routeFetch(options.routes ?? {});
  const stdin = options.stdin;
  const code = await runCli(argv, {
    env: { COFFER_ADDR: TEST_ADDR, COFFER_TOKEN: TEST_TOKEN, ...options.env },
    stdout: (s) => stdout.push(s),
    stderr: (s) => stderr.push(s),
    fetch: rec.fetch,
    ...(stdin === undefined ? {} : { stdin: () => Promise.resolve(stdin) }),
    ...(options.stdinIsTty === undefined ? {} : { stdinIsTty: options.stdinIsTty }),
    ...(options.stdoutIsTty === undefined ? {} : { stdoutIsTty: options.stdoutIsTty }),
  });
  return { code, stdout: stdout.join(''), stderr: stderr.join(''), requests: rec.requests };
}
