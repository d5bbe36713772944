import { createConnection } from 'node:net';

// A TCP probe of the Temporal frontend, so the client can say "no server at …" at once instead of
// waiting for a gRPC deadline; the dev tooling uses it to find a free port too.

/** Whether something accepts TCP connections at `host:port` within `timeoutMs`. */
export function isReachable(address: string, timeoutMs = 1_000): Promise<boolean> {
  const at = address.lastIndexOf(':');
  const host = address.slice(0, at).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(at + 1));
  return new Promise((done) => {
    const socket = createConnection({ host, port });
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}
