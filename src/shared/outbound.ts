// Outbound HTTP(S): the one chokepoint through which Coffer calls other servers (JWKS, OIDC
// discovery and token endpoints, the Kubernetes TokenReview API). It resolves the host once,
// refuses link-local and cloud-metadata addresses, pins the connection to the checked address,
// verifies TLS (a custom CA bundle may replace the system roots, never switch checks off),
// bounds the time and the size of every exchange, and never follows redirects.
import { Buffer } from 'node:buffer';
import { X509Certificate } from 'node:crypto';
import { promises as dnsPromises } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { performance } from 'node:perf_hooks';
import { CofferError, invalidField } from '../sdk/errors.js';

/** One resolved address of a host. */
export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/** Resolves a host name to every address it has (injectable so tests can fake DNS). */
export type Resolver = (hostname: string) => Promise<readonly ResolvedAddress[]>;

/** Limits and permissions for outbound calls; the defaults are what production uses. */
export interface OutboundOptions {
  /**
   * SECURITY: lets calls reach link-local and cloud-metadata addresses. Only an operator's
   * explicit setting may turn it on; no request field ever does.
   */
  readonly allowMetadataAddresses?: boolean;
  /** From the start of the call until the TCP (and TLS) handshake is done. */
  readonly connectTimeoutMs?: number;
  /** The whole exchange: resolution, connection, request and the complete response. */
  readonly timeoutMs?: number;
  /** Response bodies larger than this are refused (the connection is dropped). */
  readonly maxResponseBytes?: number;
  readonly resolver?: Resolver;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_TIMEOUT_MS = 15_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

export interface OutboundRequest {
  readonly url: string;
  /**
   * What the call is for, used in error messages (e.g. "jwks_url"). Errors never contain the
   * URL, the headers or the body.
   */
  readonly label: string;
  readonly method?: 'GET' | 'POST';
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  /** PEM CA bundle that replaces the system roots for this call. */
  readonly caPem?: string;
}

export interface OutboundResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/** An outbound client with its options bound; engines receive one and never build their own. */
export interface Outbound {
  request(req: OutboundRequest): Promise<OutboundResponse>;
  /**
   * Sends the request and parses a JSON response body. Statuses outside `okStatuses` (default:
   * any 2xx) are upstream failures; so is a body that is not JSON.
   */
  json(req: OutboundRequest, okStatuses?: readonly number[]): Promise<JsonResponse>;
}

export interface JsonResponse {
  readonly status: number;
  readonly json: unknown;
}

export function createOutbound(options: OutboundOptions = {}): Outbound {
  return {
    request: (req) => outboundRequest(req, options),
    json: async (req, okStatuses) => {
      const res = await outboundRequest(req, options);
      const ok = okStatuses === undefined ? isSuccess(res.status) : okStatuses.includes(res.status);
      if (!ok) throw upstream(req.label, `unexpected HTTP status ${res.status}`);
      return { status: res.status, json: parseJsonBody(res.body, req.label) };
    },
  };
}

function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

function upstream(label: string, why: string, cause?: unknown): CofferError {
  return new CofferError(
    'upstream_failure',
    `${label}: ${why}`,
    cause === undefined ? {} : { cause },
  );
}

/** Parses a response body as JSON; a body that is not JSON is an upstream failure. */
export function parseJsonBody(body: Buffer, label: string): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch (cause) {
    throw upstream(label, 'response is not valid JSON', cause);
  }
}

// ---------------------------------------------------------------------------------------------
// Addresses that are never called unless the operator allows it.

/** IPv4 ranges as [network, prefix length]. */
const BLOCKED_V4: readonly (readonly [string, number])[] = [
  ['169.254.0.0', 16], // link-local: AWS, GCP, Azure, OpenStack, DigitalOcean metadata
  ['100.100.100.200', 32], // Alibaba Cloud metadata
  ['192.0.0.192', 32], // Oracle Cloud legacy metadata
  ['168.63.129.16', 32], // Azure host platform (WireServer)
  ['0.0.0.0', 8], // "this network": reaches local services on some systems
];

/** Host names of metadata services, compared lower-case without a trailing dot. */
const BLOCKED_HOSTNAMES: ReadonlySet<string> = new Set([
  'metadata.google.internal',
  'metadata.goog',
  'metadata',
  'instance-data',
  'instance-data.ec2.internal',
  'metadata.tencentyun.com',
]);

function parseV4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  return value;
}

function v4InRange(value: number, network: string, prefix: number): boolean {
  const base = parseV4(network)!;
  const size = 2 ** (32 - prefix);
  return Math.floor(value / size) === Math.floor(base / size);
}

function isBlockedV4(value: number): boolean {
  return BLOCKED_V4.some(([network, prefix]) => v4InRange(value, network, prefix));
}

/** Expands an IPv6 address into its eight 16-bit groups; undefined if malformed. */
function parseV6(text: string): number[] | undefined {
  const zone = text.indexOf('%');
  let rest = (zone === -1 ? text : text.slice(0, zone)).toLowerCase();
  // A trailing dotted IPv4 part (::ffff:1.2.3.4) stands for the last two groups.
  const lastColon = rest.lastIndexOf(':');
  if (rest.slice(lastColon + 1).includes('.')) {
    const v4 = parseV4(rest.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    const high = Math.floor(v4 / 65536).toString(16);
    const low = (v4 % 65536).toString(16);
    rest = `${rest.slice(0, lastColon + 1)}${high}:${low}`;
  }
  const halves = rest.split('::');
  if (halves.length > 2) return undefined;
  const parseGroups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-f]{1,4}$/.test(g)) return undefined;
      out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  const head = parseGroups(halves[0]!);
  const after = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (head === undefined || after === undefined) return undefined;
  const known = head.length + after.length;
  if (halves.length === 1) return known === 8 ? head : undefined;
  if (known > 7) return undefined;
  return [...head, ...new Array<number>(8 - known).fill(0), ...after];
}

function embeddedV4(groups: readonly number[], from: number): number {
  return groups[from]! * 65536 + groups[from + 1]!;
}

function isBlockedV6(groups: readonly number[]): boolean {
  const [g0, g1, g2, g3, g4, g5, g6, g7] = groups as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if ((g0 & 0xffc0) === 0xfe80) return true; // fe80::/10 link-local
  // fd00:ec2::254, the AWS IPv6 metadata endpoint
  if (g0 === 0xfd00 && g1 === 0x0ec2 && g2 + g3 + g4 + g5 + g6 === 0 && g7 === 0x0254) {
    return true;
  }
  const upperZero = g0 + g1 + g2 + g3 + g4 === 0;
  if (upperZero && g5 === 0 && g6 === 0 && g7 === 0) return true; // :: unspecified
  // Forms that carry an IPv4 address: mapped (::ffff:a.b.c.d), compatible (::a.b.c.d),
  // NAT64 (64:ff9b::a.b.c.d) and 6to4 (2002:aabb:ccdd::).
  if (upperZero && (g5 === 0xffff || g5 === 0)) {
    const v4 = embeddedV4(groups, 6);
    // ::1 (loopback) is an IPv6 address in its own right, not an embedded 0.0.0.1.
    if (!(g5 === 0 && v4 === 1)) return isBlockedV4(v4);
  }
  if (g0 === 0x64 && g1 === 0xff9b && g2 + g3 + g4 + g5 === 0) {
    return isBlockedV4(embeddedV4(groups, 6));
  }
  if (g0 === 0x2002) return isBlockedV4(embeddedV4(groups, 1));
  return false;
}

/**
 * Whether an IP address (v4 or v6 text) is link-local or a cloud metadata service. Text that
 * is not an IP address is treated as blocked: callers check only resolved addresses.
 */
export function isBlockedAddress(ip: string): boolean {
  const v4 = parseV4(ip);
  if (v4 !== undefined) return isBlockedV4(v4);
  const v6 = parseV6(ip);
  if (v6 !== undefined) return isBlockedV6(v6);
  return true;
}

/** Whether a host name names a metadata service (before any resolution). */
export function isBlockedHostname(hostname: string): boolean {
  return BLOCKED_HOSTNAMES.has(hostname.toLowerCase().replace(/\.$/, ''));
}

// ---------------------------------------------------------------------------------------------
// Configuration checks engines run when an operator writes a URL or a CA bundle.

/**
 * Validates a URL an operator configures for outbound calls: http or https, a host, no
 * credentials inside it. Throws invalid_request naming `field` (never echoing the value).
 */
export function checkOutboundUrl(value: string, field: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalidField(field, 'must be an absolute http or https URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw invalidField(field, 'must be an absolute http or https URL');
  }
  if (url.hostname === '') throw invalidField(field, 'must name a host');
  if (url.username !== '' || url.password !== '') {
    throw invalidField(field, 'must not contain credentials');
  }
  return url;
}

/** Validates a PEM bundle of CA certificates; throws invalid_request naming `field`. */
export function checkCaPem(pem: string, field: string): void {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (blocks === null) throw invalidField(field, 'must contain PEM certificates');
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch {
      throw invalidField(field, 'contains a certificate that cannot be parsed');
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The request itself.

const defaultResolver: Resolver = async (hostname) => {
  const found = await dnsPromises.lookup(hostname, { all: true, verbatim: true });
  return found.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

/** Resolves the URL's host and checks every address it has; returns the ones to connect to. */
async function resolveChecked(
  url: URL,
  label: string,
  options: OutboundOptions,
): Promise<readonly ResolvedAddress[]> {
  const allow = options.allowMetadataAddresses === true;
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const literal = isIP(host);
  if (literal !== 0) {
    if (!allow && isBlockedAddress(host)) throw refused(label);
    return [{ address: host, family: literal === 6 ? 6 : 4 }];
  }
  if (!allow && isBlockedHostname(host)) throw refused(label);
  let addresses: readonly ResolvedAddress[];
  try {
    addresses = await (options.resolver ?? defaultResolver)(host);
  } catch (cause) {
    throw upstream(label, 'host could not be resolved', cause);
  }
  if (addresses.length === 0) throw upstream(label, 'host could not be resolved');
  // SECURITY: every address is checked, not just the first, so a name that resolves to both a
  // public and a metadata address is refused rather than left to the resolver's order.
  if (!allow && addresses.some((a) => isBlockedAddress(a.address))) throw refused(label);
  return addresses;
}

function refused(label: string): CofferError {
  return upstream(label, 'refused: the address is link-local or a cloud metadata service');
}

/**
 * A lookup that answers only with the addresses already checked, so the connection goes to an
 * address that passed the check (no second DNS answer can rebind it).
 */
function pinnedLookup(addresses: readonly ResolvedAddress[]): LookupFunction {
  return (_hostname, lookupOptions, callback) => {
    const wanted = lookupOptions.family;
    const usable =
      wanted === 4 || wanted === 6 ? addresses.filter((a) => a.family === wanted) : addresses;
    const list = usable.length > 0 ? usable : addresses;
    if (lookupOptions.all === true) {
      callback(
        null,
        list.map((a) => ({ address: a.address, family: a.family })),
      );
    } else {
      callback(null, list[0]!.address, list[0]!.family);
    }
  };
}

const TLS_ERROR_CODES: ReadonlySet<string> = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REVOKED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function describeNetworkError(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (TLS_ERROR_CODES.has(code)) return 'TLS certificate verification failed';
    if (code === 'ECONNREFUSED') return 'connection refused';
    if (code === 'ECONNRESET' || code === 'EPIPE') return 'connection reset';
    if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'host unreachable';
    if (code.startsWith('ERR_SSL') || code.startsWith('EPROTO')) return 'TLS handshake failed';
  }
  return 'request failed';
}

/**
 * Sends one request and reads the whole response. Throws upstream_failure on every network,
 * TLS, timeout, size or policy problem; HTTP statuses are returned, not thrown (redirects are
 * not followed).
 */
export async function outboundRequest(
  req: OutboundRequest,
  options: OutboundOptions = {},
): Promise<OutboundResponse> {
  const { label } = req;
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    throw upstream(label, 'URL is not valid');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw upstream(label, 'only http and https URLs are allowed');
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const startedAt = performance.now();

  // Resolution counts against the overall budget; its timer is cleared as soon as it is done
  // so it can never fire (unobserved) while the request itself runs.
  let resolveTimer: NodeJS.Timeout | undefined;
  const addresses = await new Promise<readonly ResolvedAddress[]>((resolve, reject) => {
    resolveTimer = setTimeout(() => {
      reject(upstream(label, `timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    resolveChecked(url, label, options).then(resolve, reject);
  }).finally(() => {
    clearTimeout(resolveTimer);
  });
  const elapsedMs = performance.now() - startedAt;
  return send(req, url, addresses, {
    remainingMs: Math.max(1, timeoutMs - elapsedMs),
    connectBudgetMs: Math.max(1, connectTimeoutMs - elapsedMs),
    maxBytes,
    timeoutMs,
    connectTimeoutMs,
  });
}

interface SendLimits {
  readonly remainingMs: number;
  readonly connectBudgetMs: number;
  readonly maxBytes: number;
  /** For messages only. */
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
}

function send(
  req: OutboundRequest,
  url: URL,
  addresses: readonly ResolvedAddress[],
  limits: SendLimits,
): Promise<OutboundResponse> {
  const { label } = req;
  const secure = url.protocol === 'https:';
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const headers: Record<string, string> = { ...req.headers };
  if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
  const common: https.RequestOptions = {
    method: req.method ?? 'GET',
    protocol: url.protocol,
    hostname: host,
    port: url.port === '' ? undefined : Number(url.port),
    path: `${url.pathname}${url.search}`,
    headers,
    agent: false,
    lookup: pinnedLookup(addresses),
  };
  const options: https.RequestOptions = secure
    ? {
        ...common,
        // SECURITY: certificate checks stay on; a CA bundle only replaces the trusted roots.
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
        ...(isIP(host) === 0 ? { servername: host } : {}),
        ...(req.caPem === undefined || req.caPem === '' ? {} : { ca: req.caPem }),
      }
    : common;

  return new Promise<OutboundResponse>((resolve, reject) => {
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const finish = (err: CofferError | undefined, value?: OutboundResponse): void => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      if (err !== undefined) {
        request.destroy();
        reject(err);
      } else {
        resolve(value!);
      }
    };
    const request = (secure ? https : http).request(options, (res) => {
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > limits.maxBytes) {
        res.destroy();
        finish(upstream(label, `response larger than ${limits.maxBytes} bytes`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limits.maxBytes) {
          res.destroy();
          finish(upstream(label, `response larger than ${limits.maxBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        finish(undefined, {
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
        });
      });
      res.on('error', (cause) => {
        finish(upstream(label, describeNetworkError(cause), cause));
      });
    });
    timers.push(
      setTimeout(() => {
        finish(upstream(label, `timed out connecting after ${limits.connectTimeoutMs} ms`));
      }, limits.connectBudgetMs),
      setTimeout(() => {
        finish(upstream(label, `timed out after ${limits.timeoutMs} ms`));
      }, limits.remainingMs),
    );
    request.on('socket', (socket) => {
      const connected = (): void => {
        clearTimeout(timers[0]);
      };
      socket.once(secure ? 'secureConnect' : 'connect', connected);
    });
    request.on('error', (cause) => {
      finish(upstream(label, describeNetworkError(cause), cause));
    });
    request.end(req.body);
  });
}
