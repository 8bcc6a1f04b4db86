import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Hono } from 'hono';
import { onError } from '../errors.ts';
import { createLogger } from '../logger.ts';
import { clientAddress, forwardedClient, rateLimit, trustedProxyList, trustProxies } from './rate-limit.ts';

describe('the client address behind proxies', () => {
  const proxies = trustedProxyList(['10.0.0.0/8', '::1', 'fd00::/8']);

  it('believes X-Forwarded-For only from a trusted peer, read from the right past trusted hops', () => {
    // No trusted peer: the header is the client's own words.
    assert.equal(forwardedClient('203.0.113.9', '1.2.3.4', proxies), '203.0.113.9');
    // One proxy: the address it saw.
    assert.equal(forwardedClient('10.0.0.2', '198.51.100.7', proxies), '198.51.100.7');
    // A forged entry written by the client comes before the one the proxy appended: ignored.
    assert.equal(forwardedClient('10.0.0.2', '1.2.3.4, 198.51.100.7', proxies), '198.51.100.7');
    // Two trusted proxies in a row.
    assert.equal(forwardedClient('10.0.0.2', '1.2.3.4, 198.51.100.7, 10.1.1.1', proxies), '198.51.100.7');
    // IPv6 and IPv4-mapped forms.
    assert.equal(forwardedClient('::1', '2001:db8::5', proxies), '2001:db8::5');
    assert.equal(forwardedClient('10.0.0.2', '::ffff:198.51.100.7', proxies), '198.51.100.7');
    // Every hop trusted: the left-most.
    assert.equal(forwardedClient('10.0.0.2', '10.0.0.3', proxies), '10.0.0.3');
    // A malformed entry ends the walk at the last address a trusted proxy gave.
    assert.equal(forwardedClient('10.0.0.2', 'unknown', proxies), '10.0.0.2');
    assert.equal(forwardedClient('10.0.0.2', '', proxies), '10.0.0.2');
  });

  it('refuses an entry that is neither an address nor a CIDR range', () => {
    for (const bad of ['10.0.0.0/33', 'example.com', '10.0.0.1/8/1', '::1/129', '10.0.0.0/x']) {
      assert.throws(() => trustedProxyList([bad]), RangeError, bad);
    }
  });

  const app = (trusted: string[] | undefined) => {
    const a = new Hono();
    a.onError(onError(createLogger({ level: 'silent' })));
    a.use(trustProxies(trusted ? trustedProxyList(trusted) : undefined));
    a.use(rateLimit({ max: 2, windowMs: 60_000, key: clientAddress }));
    a.get('/', (c) => c.text(clientAddress(c)));
    return (forwardedFor: string, peer = '10.0.0.2') =>
      a.request(
        '/',
        { headers: { 'x-forwarded-for': forwardedFor } },
        { incoming: { socket: { remoteAddress: peer } } },
      );
  };

  it('behind a trusted proxy, each client has its own limit', async () => {
    const get = app(['10.0.0.0/8']);
    for (let i = 0; i < 2; i++) assert.equal(await (await get('198.51.100.1')).text(), '198.51.100.1');
    assert.equal((await get('198.51.100.1')).status, 429);
    assert.equal((await get('198.51.100.2')).status, 200, 'another client behind the same proxy');
  });

  it('without trusted proxies (the default) the header changes nothing: a client cannot pick its key', async () => {
    const get = app(undefined);
    assert.equal(await (await get('198.51.100.1')).text(), '10.0.0.2');
    assert.equal((await get('198.51.100.2')).status, 200);
    assert.equal((await get('198.51.100.3')).status, 429, 'one peer, one limit, whatever the header says');
  });
});
