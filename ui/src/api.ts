// The UI's one way to the server: the typed client from src/client (browser entry only), a
// session that holds the token, and the error text every screen shows.
// SECURITY: the token lives in this module's memory and in sessionStorage (this tab only,
// gone when it closes); never in a URL, localStorage, a cookie or the console.
import {
  ApiError,
  ClientError,
  CofferClient,
  ConnectionError,
  resultantAcl,
} from '../../src/client/browser.js';
import type { ResultantAcl, TokenInfo } from '../../src/client/browser.js';

export * from '../../src/client/browser.js';

const STORAGE_KEY = 'coffer.session.token';
const ORIGIN_KEY = 'coffer.session.origin';

/** How the session's token came: a login here (the UI owns it) or pasted by the person. */
export type TokenOrigin = 'login' | 'pasted';

/** A client without a token: sign-in, share links, the OIDC callback. */
export function anonymousClient(): CofferClient {
  return new CofferClient({ address: window.location.origin });
}

/** Which screens the signed-in token may use (from sys/capabilities-self). */
export interface NavAccess {
  readonly policies: boolean;
  readonly explain: boolean;
  readonly tokens: boolean;
  readonly auth: boolean;
  readonly leases: boolean;
  readonly audit: boolean;
  readonly mounts: boolean;
}

export interface Session {
  readonly client: CofferClient;
  readonly info: TokenInfo;
  readonly acl: ResultantAcl | undefined;
  readonly nav: NavAccess;
  readonly origin: TokenOrigin;
}

/** The path and capabilities each screen needs (sudo where the API demands it). */
const NAV_NEEDS = {
  policies: { path: 'sys/policies/acl', needs: ['list'] },
  explain: { path: 'sys/policies/explain', needs: ['update'] },
  tokens: { path: 'auth/token/create', needs: ['update'] },
  auth: { path: 'sys/auth', needs: ['read'] },
  leases: { path: 'sys/leases/lookup/x/', needs: ['list', 'sudo'] },
  audit: { path: 'sys/audit', needs: ['read', 'sudo'] },
  mounts: { path: 'sys/mounts', needs: ['read'] },
} as const;

function granted(caps: readonly string[] | undefined, needs: readonly string[]): boolean {
  if (caps === undefined) return false;
  return caps.includes('root') || needs.every((need) => caps.includes(need));
}

/** Checks `token`, learns what it may do, and keeps it for this tab. */
export async function openSession(token: string, origin: TokenOrigin): Promise<Session> {
  const client = new CofferClient({ address: window.location.origin, token });
  const { info } = await client.lookupSelf();
  const paths = Object.values(NAV_NEEDS).map((n) => n.path);
  const none: Record<string, string[]> = {};
  const caps = await client.capabilities(paths).catch(() => none);
  const acl = await resultantAcl(client).catch(() => undefined);
  const nav = Object.fromEntries(
    Object.entries(NAV_NEEDS).map(([name, n]) => [name, granted(caps[n.path], n.needs)]),
  ) as unknown as NavAccess;
  sessionStorage.setItem(STORAGE_KEY, token);
  sessionStorage.setItem(ORIGIN_KEY, origin);
  return { client, info, acl, nav, origin };
}

/** The session this tab had before a reload, if its token still works. */
export async function resumeSession(): Promise<Session | undefined> {
  const token = sessionStorage.getItem(STORAGE_KEY);
  if (token === null || token === '') return undefined;
  try {
    const origin = sessionStorage.getItem(ORIGIN_KEY) === 'login' ? 'login' : 'pasted';
    return await openSession(token, origin);
  } catch {
    sessionStorage.removeItem(STORAGE_KEY);
    sessionStorage.removeItem(ORIGIN_KEY);
    return undefined;
  }
}

/**
 * Revokes the token (the server forgets it) and forgets it here, even if revoking failed.
 * `revoke: false` only forgets it (for a token the person pasted and still uses elsewhere).
 */
export async function closeSession(session: Session, revoke = true): Promise<void> {
  try {
    if (revoke) await session.client.revokeSelf();
  } finally {
    sessionStorage.removeItem(STORAGE_KEY);
    sessionStorage.removeItem(ORIGIN_KEY);
  }
}

/** What a person is shown for any failure: the API's own message, with its status. */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    const what = error.errors.length > 0 ? error.errors.join('; ') : 'no message';
    return `${statusText(error.status)}: ${what}`;
  }
  if (error instanceof ConnectionError) return `Cannot reach the server (${error.reason})`;
  if (error instanceof ClientError) return error.message;
  if (error instanceof Error) return error.message;
  return 'Something went wrong';
}

function statusText(status: number): string {
  const names: Record<number, string> = {
    400: 'Invalid request',
    403: 'Permission denied',
    404: 'Not found',
    405: 'Not allowed',
    409: 'Conflict',
    429: 'Too many requests',
    500: 'Server error',
    503: 'Unavailable',
  };
  return `${names[status] ?? 'Error'} (HTTP ${status})`;
}

/** True for the API's 404 (nothing there), which screens show as emptiness, not failure. */
export function isNotFound(error: unknown): boolean {
  return error instanceof ApiError && error.status === 404;
}

export function isDenied(error: unknown): boolean {
  return error instanceof ApiError && error.status === 403;
}
