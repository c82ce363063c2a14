// The per-client login rate limit of auth methods: a token bucket per client address, checked
// before any password hashing or secret lookup, so a flood from one address costs a map lookup.
// State is in memory, per mount and per node.
import { isIP } from 'node:net';
import { CofferError, invalidField } from '../../sdk/errors.js';
import { unmapAddress } from './cidr.js';

export interface RateLimitConfig {
  /** Attempts a client may make at once before it is slowed down. */
  readonly burst: number;
  /** Attempts per second a client earns back; 0 turns the limit off. */
  readonly perSecond: number;
}

/** How many client buckets are kept; the least recently used is dropped beyond this. */
const MAX_CLIENTS = 10_000;

interface Bucket {
  tokens: number;
  /** Epoch ms of the last refill. */
  updatedAt: number;
}

/** The eight 16-bit groups of a valid IPv6 address (validated by isIP beforehand). */
function ipv6Groups(address: string): number[] {
  let text = address;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    const o = last.split('.').map((x) => Number.parseInt(x, 10));
    tail.push(((o[0] ?? 0) << 8) | (o[1] ?? 0), ((o[2] ?? 0) << 8) | (o[3] ?? 0));
    text = text.slice(0, lastColon + 1) + 'x';
  }
  const toGroups = (s: string): number[] =>
    s === '' ? [] : s.split(':').map((g) => (g === 'x' ? -1 : Number.parseInt(g, 16)));
  const gap = text.indexOf('::');
  let groups: number[];
  if (gap === -1) {
    groups = toGroups(text);
  } else {
    const head = toGroups(text.slice(0, gap));
    const rest = toGroups(text.slice(gap + 2));
    const restLength = rest.length + (rest.includes(-1) ? 1 : 0);
    groups = [...head, ...new Array<number>(8 - head.length - restLength).fill(0), ...rest];
  }
  return groups.flatMap((g) => (g === -1 ? tail : [g]));
}

/**
 * The key a client is limited under: its IPv4 address, or the /64 network of an IPv6 address
 * (one host usually holds a whole /64, so per-address limits would not hold it back).
 */
export function clientKey(address: string | undefined): string {
  if (address === undefined) return 'unknown';
  const ip = unmapAddress(address);
  const version = isIP(ip);
  if (version === 4) return ip;
  if (version === 6 && !ip.includes('%')) {
    return `${ipv6Groups(ip)
      .slice(0, 4)
      .map((g) => g.toString(16))
      .join(':')}::/64`;
  }
  return 'unknown';
}

/** Validates a configuration; throws invalid_request naming `field`. */
export function checkRateLimitConfig(config: RateLimitConfig, field: string): RateLimitConfig {
  if (!Number.isFinite(config.perSecond) || config.perSecond < 0) {
    throw invalidField(`${field}_per_second`, 'must be a non-negative number');
  }
  if (!Number.isSafeInteger(config.burst) || config.burst < 1) {
    throw invalidField(`${field}_burst`, 'must be a positive integer');
  }
  return config;
}

/** One limiter per mount; `take` is called once per login attempt. */
export class LoginRateLimiter {
  readonly #config: RateLimitConfig;
  readonly #buckets = new Map<string, Bucket>();

  constructor(config: RateLimitConfig) {
    this.#config = config;
  }

  /**
   * Spends one attempt for the client at `address`, or throws `rate_limited` with the whole
   * seconds until the next attempt is earned (the core sends it as Retry-After).
   */
  take(address: string | undefined, nowMs: number): void {
    const { burst, perSecond } = this.#config;
    if (perSecond === 0) return;
    const key = clientKey(address);
    const bucket = this.#buckets.get(key) ?? { tokens: burst, updatedAt: nowMs };
    const earned = (Math.max(0, nowMs - bucket.updatedAt) / 1000) * perSecond;
    bucket.tokens = Math.min(burst, bucket.tokens + earned);
    bucket.updatedAt = nowMs;
    // Re-insert so the map's order is least recently used first.
    this.#buckets.delete(key);
    this.#buckets.set(key, bucket);
    if (this.#buckets.size > MAX_CLIENTS) {
      const oldest = this.#buckets.keys().next().value;
      if (oldest !== undefined) this.#buckets.delete(oldest);
    }
    if (bucket.tokens < 1) {
      const retryAfterSeconds = Math.max(1, Math.ceil((1 - bucket.tokens) / perSecond));
      throw new CofferError('rate_limited', 'too many login attempts from this address', {
        retryAfterSeconds,
      });
    }
    bucket.tokens -= 1;
  }

  /** Buckets held (for tests). */
  get size(): number {
    return this.#buckets.size;
  }
}

/** The mount options that configure the limit, with the method's defaults. */
export const RATE_LIMIT_OPTIONS = ['login_rate_burst', 'login_rate_per_second'] as const;

/**
 * Reads `login_rate_burst` (a positive integer) and `login_rate_per_second` (a non-negative
 * number; 0 = off) from mount options. Throws invalid_request naming the option.
 */
export function rateLimitFromOptions(
  options: Readonly<Record<string, string>>,
  defaults: RateLimitConfig,
): RateLimitConfig {
  const burstText = options['login_rate_burst'];
  const rateText = options['login_rate_per_second'];
  const burst = burstText === undefined ? defaults.burst : Number(burstText.trim());
  const perSecond = rateText === undefined ? defaults.perSecond : Number(rateText.trim());
  if (burstText !== undefined && !/^\d+$/.test(burstText.trim())) {
    throw invalidField('options.login_rate_burst', 'must be a positive integer');
  }
  if (rateText !== undefined && !/^\d+(\.\d+)?$/.test(rateText.trim())) {
    throw invalidField('options.login_rate_per_second', 'must be a non-negative number');
  }
  return checkRateLimitConfig({ burst, perSecond }, 'options.login_rate');
}
