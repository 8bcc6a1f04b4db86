import { BlockList, isIP } from 'node:net';
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { ApiError } from '../errors.ts';

export type RateLimitOptions = {
  /** Requests allowed per key in each window. */
  max: number;
  windowMs: number;
  /** What is limited: a rater token, a client address; undefined skips limiting. */
  key: (c: Context) => string | undefined;
  now?: () => number;
};

/**
 * Fixed-window request limits kept in this process's memory. Good enough for one API
 * process; with several replicas each keeps its own count, so the effective limit is
 * `max × replicas` (a shared store would be needed to be exact).
 */
export function rateLimit(options: RateLimitOptions) {
  // Read the clock at each request (not a reference captured now), so a replaced Date.now is seen.
  const now = options.now ?? (() => Date.now());
  const windows = new Map<string, { start: number; count: number }>();
  return createMiddleware(async function rateLimit(c, next) {
    const key = options.key(c);
    if (key === undefined) return next();
    const t = now();
    if (windows.size > 50_000) {
      for (const [k, w] of windows) if (t - w.start >= options.windowMs) windows.delete(k);
    }
    let w = windows.get(key);
    if (!w || t - w.start >= options.windowMs) {
      w = { start: t, count: 0 };
      windows.set(key, w);
    }
    w.count++;
    if (w.count > options.max) {
      const retry = Math.max(1, Math.ceil((w.start + options.windowMs - t) / 1000));
      throw new ApiError('RATE_LIMITED', 'Too many requests; slow down', { headers: { 'Retry-After': String(retry) } });
    }
    await next();
  });
}

/** The peer address as Node saw it. */
export function peerAddress(c: Context): string {
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  return plainAddress(incoming?.socket?.remoteAddress ?? 'unknown');
}

/**
 * The client's address: the one trustProxies() worked out from X-Forwarded-For, else the peer's.
 * Without trusted proxies (the default) no header is believed: anyone can write X-Forwarded-For.
 */
export function clientAddress(c: Context): string {
  return (c.get('clientAddress' as never) as string | undefined) ?? peerAddress(c);
}

/** An IPv4 address written as IPv6 (::ffff:10.0.0.1) as plain IPv4, so one client has one key. */
const plainAddress = (a: string) => (a.toLowerCase().startsWith('::ffff:') && isIP(a.slice(7)) === 4 ? a.slice(7) : a);

/**
 * TRUSTED_PROXIES as a list of the addresses and CIDR ranges of the reverse proxies in front of
 * the server (`10.0.0.0/8`, `::1`); throws a RangeError naming an entry that is neither.
 */
export function trustedProxyList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const raw of entries) {
    const [address = '', prefix, ...rest] = raw.trim().split('/');
    const family = isIP(address);
    const bits = prefix === undefined ? undefined : Number(prefix);
    if (
      !family ||
      rest.length ||
      (bits !== undefined && (!/^\d+$/.test(prefix as string) || bits > (family === 4 ? 32 : 128)))
    ) {
      throw new RangeError(`"${raw}" is not an IP address or a CIDR range (10.0.0.0/8, fd00::/8)`);
    }
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, bits, type);
  }
  return list;
}

const trusts = (list: BlockList, address: string) => {
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 4 ? 'ipv4' : 'ipv6');
};

/**
 * The client behind trusted proxies: X-Forwarded-For read from the right (each proxy appends
 * the address it saw), skipping trusted proxies; the first address that is not one is the
 * client. Only a trusted peer's header is read, and a malformed entry stops the walk at the
 * last address a trusted proxy vouched for, so a client cannot choose its own key.
 */
export function forwardedClient(peer: string, forwardedFor: string | undefined, trusted: BlockList): string {
  if (!forwardedFor || !trusts(trusted, peer)) return peer;
  let client = peer;
  const hops = forwardedFor.split(',').map((h) => plainAddress(h.trim()));
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i] as string;
    if (!isIP(hop)) break;
    client = hop;
    if (!trusts(trusted, hop)) break;
  }
  return client;
}

/** Works out each request's client address (clientAddress) behind the given trusted proxies. */
export function trustProxies(trusted: BlockList | undefined) {
  return createMiddleware(async function trustProxies(c, next) {
    if (trusted)
      c.set(
        'clientAddress' as never,
        forwardedClient(peerAddress(c), c.req.header('x-forwarded-for'), trusted) as never,
      );
    await next();
  });
}
