import { connect, type Socket } from 'node:net';

/**
 * The sockets postgres.js opens, so that every connection attempt to a database that is not
 * there fails within a bounded time. postgres.js's own connect_timeout restarts on each of its
 * reconnects, and it reconnects without failing the waiting query whenever a connection closes
 * before the server said it was ready: something that accepts connections and closes them (a
 * proxy or load balancer whose database is gone, here a sandbox's transparent proxy) held a
 * query forever. Here a connection is made with its own deadline, and one that closes before the
 * server answered, or whose first answer is not PostgreSQL's, fails with CONNECTION_CLOSED, which
 * postgres.js hands to the waiting query (and db/errors.ts reads as "unavailable").
 */
export const CONNECT_TIMEOUT_S = 5;

/** A PostgreSQL server's first byte: R (authentication), E (error), v (protocol version), S or N (SSL answer). */
const SERVER_FIRST_BYTES = new Set(['R', 'E', 'v', 'S', 'N'].map((c) => c.charCodeAt(0)));

type SocketOptions = { host: string[]; port: number[]; path?: string | false };

const failure = (code: string, message: string) => Object.assign(new Error(message), { code });

/**
 * postgres.js's `socket` option: a socket that connects within `timeoutS` and is watched until the
 * server first answers. The socket is handed over at once, before it connects, and every failure
 * (refused, timed out, closed early) is the socket's own error and close: postgres.js then fails
 * the waiting query and returns the connection to its pool. A rejected promise instead would leave
 * that connection "connecting" for ever (postgres.js 3.4 never closes it), and once every pooled
 * connection had failed so, every later query would wait without end.
 */
export function boundedSocket(timeoutS = CONNECT_TIMEOUT_S): (options: SocketOptions) => Promise<Socket> {
  let attempt = 0; // several hosts (postgres://a,b/db) are tried in turn, as postgres.js does
  return async (options) => {
    const i = attempt++ % Math.max(1, options.host.length);
    const host = options.host[i] ?? 'localhost';
    const port = options.port[i] ?? options.port[0] ?? 5432;
    const where = options.path || `${host}:${port}`;
    const socket = options.path ? connect(options.path) : connect(port, host);
    const timer = setTimeout(() => {
      socket.destroy(failure('CONNECT_TIMEOUT', `could not connect to the database at ${where} within ${timeoutS} s`));
    }, timeoutS * 1000);
    socket.once('close', () => clearTimeout(timer));
    socket.once('connect', () => {
      clearTimeout(timer);
      watchStartup(socket, where);
    });
    return socket;
  };
}

/** Fails the socket if it closes before the server's first byte, or if that byte is not PostgreSQL's. */
function watchStartup(socket: Socket, where: string): void {
  const onData = (chunk: Buffer) => {
    socket.removeListener('end', onEnd);
    if (!SERVER_FIRST_BYTES.has(chunk[0] as number)) {
      socket.destroy(failure('CONNECTION_CLOSED', `what answered at ${where} is not a PostgreSQL server`));
    }
  };
  const onEnd = () => {
    socket.removeListener('data', onData);
    socket.destroy(failure('CONNECTION_CLOSED', `the database at ${where} closed the connection before answering`));
  };
  socket.once('data', onData);
  socket.once('end', onEnd);
}

/** The options that bound a postgres.js client's connection attempts (see boundedSocket). */
export function boundedConnect(timeoutS = CONNECT_TIMEOUT_S): { connect_timeout: number; socket: never } {
  return { connect_timeout: timeoutS, socket: boundedSocket(timeoutS) as never };
}
