// CIDR blocks for auth methods: validating and normalising the lists operators write
// (token_bound_cidrs, secret_id_bound_cidrs, cidr_list) and checking a client address against
// them. Shared by every auth method; it holds no state.
import { BlockList, isIP } from 'node:net';
import { invalidField } from '../../sdk/errors.js';

interface Block {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

const MAPPED_IPV4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

/** An IPv4-mapped IPv6 address ("::ffff:10.0.0.1", as Node reports dual-stack peers) as IPv4. */
export function unmapAddress(address: string): string {
  const m = MAPPED_IPV4.exec(address.trim());
  return m === null ? address.trim().toLowerCase() : m[1]!;
}

function parseBlock(text: string): Block | undefined {
  const parts = text.split('/');
  if (parts.length > 2) return undefined;
  const address = unmapAddress(parts[0]!);
  // SECURITY: zone ids ("fe80::1%eth0") name an interface, not a network; refuse them.
  if (address.includes('%')) return undefined;
  const version = isIP(address);
  if (version === 0) return undefined;
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const bits = version === 4 ? 32 : 128;
  if (parts.length === 1) return { address, prefix: bits, family };
  const prefixText = parts[1]!;
  if (!/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number.parseInt(prefixText, 10);
  if (prefix > bits) return undefined;
  return { address, prefix, family };
}

/**
 * Validates a list of CIDR blocks or bare addresses and returns them as written (trimmed,
 * empty entries dropped, order kept): Vault's clients read `cidr_list` and
 * `token_bound_cidrs` back and compare them with what they wrote. Matching parses each
 * block again, so the written form needs no normalising.
 * Throws invalid_request naming `field`; the offending value is never echoed.
 */
export function parseCidrList(values: readonly string[], field: string): string[] {
  const out: string[] = [];
  for (const raw of values) {
    const text = raw.trim();
    if (text === '') continue;
    if (parseBlock(text) === undefined) {
      throw invalidField(field, 'must be a list of IP addresses or CIDR blocks');
    }
    out.push(text);
  }
  return out;
}

function blocksOf(cidrs: readonly string[]): Block[] {
  const out: Block[] = [];
  for (const cidr of cidrs) {
    const block = parseBlock(cidr);
    if (block !== undefined) out.push(block);
  }
  return out;
}

function blockListOf(blocks: readonly Block[]): BlockList {
  const list = new BlockList();
  for (const b of blocks) list.addSubnet(b.address, b.prefix, b.family);
  return list;
}

/**
 * Whether `address` lies in one of `cidrs` (which should come from parseCidrList).
 * SECURITY: fails closed: an unknown or malformed address is in no block.
 */
export function addressInCidrs(address: string | undefined, cidrs: readonly string[]): boolean {
  if (address === undefined) return false;
  const ip = unmapAddress(address);
  const version = isIP(ip);
  if (version === 0) return false;
  return blockListOf(blocksOf(cidrs)).check(ip, version === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Whether every block of `inner` lies inside some block of `outer` (a secret ID's CIDRs must
 * narrow its role's). An empty `outer` allows anything, as in Vault.
 */
export function cidrsWithin(inner: readonly string[], outer: readonly string[]): boolean {
  if (outer.length === 0) return true;
  const outerBlocks = blocksOf(outer);
  return blocksOf(inner).every((b) =>
    outerBlocks.some(
      (o) =>
        o.family === b.family &&
        o.prefix <= b.prefix &&
        blockListOf([o]).check(b.address, b.family),
    ),
  );
}
