// Plain-fetch Vault API calls shared by the e2e tests that do not go through a client library:
// one request helper with a bounded wait, plus init, unseal and mount in a few lines.

/** What a request came back with: status, the parsed JSON body (if any) and the raw text. */
export interface HttpResult {
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
}

export interface RequestOptions {
  readonly token?: string;
  readonly body?: unknown;
  /** Bound on the whole request. Default 10 000. */
  readonly timeoutMs?: number;
}

/** `method path` against `url` (path without the leading /v1/). Never throws on a status. */
export async function vaultRequest(
  url: string,
  method: string,
  path: string,
  options: RequestOptions = {},
): Promise<HttpResult> {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers['X-Vault-Token'] = options.token;
  let payload: string | undefined;
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(options.body);
  }
  const res = await fetch(`${url}/v1/${path}`, {
    method,
    headers,
    ...(payload === undefined ? {} : { body: payload }),
    signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
  });
  const text = await res.text();
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, body, text };
}

/** Like vaultRequest, but fails with the status and error list unless the status is expected. */
export async function vaultOk(
  url: string,
  method: string,
  path: string,
  options: RequestOptions = {},
  expected: readonly number[] = [200, 204],
): Promise<HttpResult> {
  const res = await vaultRequest(url, method, path, options);
  if (!expected.includes(res.status)) {
    throw new Error(
      `${method} ${path}: expected ${expected.join('/')}, got ${res.status}: ${res.text}`,
    );
  }
  return res;
}

export interface SealStatusBody {
  readonly initialized: boolean;
  readonly sealed: boolean;
  readonly t: number;
  readonly n: number;
  readonly progress: number;
}

export interface InitBody {
  readonly keys: string[];
  readonly keys_base64: string[];
  readonly root_token: string;
}

export async function sealStatus(url: string): Promise<SealStatusBody> {
  return (await vaultOk(url, 'GET', 'sys/seal-status', {}, [200])).body as SealStatusBody;
}

export async function initialize(url: string, shares = 5, threshold = 3): Promise<InitBody> {
  const res = await vaultOk(
    url,
    'PUT',
    'sys/init',
    { body: { secret_shares: shares, secret_threshold: threshold } },
    [200],
  );
  return res.body as InitBody;
}

/** Submits keys one by one; returns every response (status and body) in order. */
export async function submitUnsealKeys(
  url: string,
  keys: readonly string[],
): Promise<HttpResult[]> {
  const results: HttpResult[] = [];
  for (const key of keys) {
    results.push(await vaultRequest(url, 'PUT', 'sys/unseal', { body: { key } }));
  }
  return results;
}

/** Submits keys until unsealed; fails unless the last one unsealed the server. */
export async function unseal(url: string, keys: readonly string[]): Promise<void> {
  const results = await submitUnsealKeys(url, keys);
  const last = results.at(-1);
  const lastBody = last?.body as Partial<SealStatusBody> | undefined;
  if (last?.status !== 200 || lastBody?.sealed !== false) {
    throw new Error(`unseal did not complete: ${String(last?.status)} ${last?.text ?? ''}`);
  }
}

/** Initialises with `shares`/`threshold`, unseals with the first `threshold` keys. */
export async function initAndUnseal(url: string, shares = 5, threshold = 3): Promise<InitBody> {
  const init = await initialize(url, shares, threshold);
  await unseal(url, init.keys.slice(0, threshold));
  return init;
}

/** Mounts a KV engine of `version` at `path`. */
export async function mountKv(
  url: string,
  token: string,
  path: string,
  version: '1' | '2',
): Promise<void> {
  await vaultOk(url, 'POST', `sys/mounts/${path}`, {
    token,
    body: { type: 'kv', options: { version } },
  });
}

/** The `errors` array of an error body, or [] when there is none. */
export function errorsOf(res: HttpResult): string[] {
  const body = res.body as { errors?: unknown } | undefined;
  return Array.isArray(body?.errors) ? body.errors.map(String) : [];
}
