// node-vault as a black-box client in the e2e tests: a failing call turned into its HTTP
// status, message and body, so a test asserts on what the server answered.

export interface CaughtVaultError<B = unknown> {
  readonly status: number;
  readonly message: string;
  readonly body: B | undefined;
}

/**
 * Awaits a node-vault call that must fail with an HTTP status; returns status, message and
 * body (typed as `B` by the caller). A failure without a status (no answer) is rethrown, and
 * a call that succeeds fails the test.
 */
export async function vaultError<B = unknown>(
  call: Promise<unknown>,
): Promise<CaughtVaultError<B>> {
  let result: unknown;
  try {
    result = await call;
  } catch (err) {
    const e = err as { message?: string; response?: { statusCode?: number; body?: unknown } };
    if (e.response?.statusCode === undefined) throw err;
    return {
      status: e.response.statusCode,
      message: e.message ?? '',
      body: e.response.body as B | undefined,
    };
  }
  throw new Error(`expected the call to fail, it resolved with ${JSON.stringify(result)}`);
}
