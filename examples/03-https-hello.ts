/**
 * Example 3: an HTTPS "Hello World" server on blocking sockets with the worker pool.
 *
 * 3.a: a TLS listening socket (`bind` with `tls`: the certificate and key the seed loads into a
 * SharkSSL object). 3.b: its accept coroutine gives every connection a coroutine of its own that
 * waits for the request: the TLS handshake of an accepted connection runs by itself and this first
 * read waits for it (and throws if it fails). Only then does the connection go to the worker pool,
 * so peers that stall in the handshake or never send a request hold no worker (a pool of 4 would
 * otherwise be starved by 4 of them). 3.c: a pool job uses the connection like a blocking socket:
 * it reads the request (and ignores it), writes the same HTTP/1.0 response for any URL, and closes.
 *
 * Try it: `npx tsx examples/https-demo.ts --cert cert.pem --key key.pem`, then https://localhost:9443/.
 */
import { isSocketError, type Runtime, type Socket, type TLSServerOptions } from "../src/index.js";
import { print, type Log } from "./log.js";

const MESSAGE = "Hello World!";

export const RESPONSE = "HTTP/1.0 200 OK\r\n" + "Content-Type: text/plain\r\n" + `Content-Length: ${MESSAGE.length}\r\n` + "\r\n" + MESSAGE;

/** ms a connection has for its TLS handshake and its request, before it holds a worker. */
export const REQUEST_TIMEOUT = 2000;

/** 3.c: runs in a pool job; `s` is used like a blocking socket. */
export async function webServer(s: Socket, log: Log = print): Promise<void> {
  try {
    try {
      await s.read(REQUEST_TIMEOUT); // the request: ignored, every URL gets the same answer
    } catch (e) {
      if (!isSocketError(e, "timeout")) throw e; // a client that went away
    }
    await s.write(RESPONSE);
  } catch (e) {
    if (!isSocketError(e)) throw e;
    log(`https: ${e.message}`);
  } finally {
    s.close(); // the response still leaves, then close_notify and FIN
  }
}

/** 3.b: the listening socket's coroutine: each connection gets a coroutine that awaits its request. */
export async function acceptCoroutine(listener: Socket, log: Log): Promise<void> {
  for (;;) {
    const s = await listener.accept();
    if (!s) break; // the listener was closed
    s.event(awaitRequest, log);
  }
}

/** 3.b: a connection's own coroutine: once its request is here, the socket goes to a pool job. */
export async function awaitRequest(s: Socket, log: Log): Promise<void> {
  let request: Uint8Array | null;
  try {
    request = await s.read(REQUEST_TIMEOUT); // the handshake, then the first bytes of the request
  } catch (e) {
    if (!isSocketError(e)) throw e;
    log(`https: ${e.message}`); // a failed handshake, a peer that sent nothing in time
    return; // the coroutine ends: the socket closes
  }
  if (!request) return; // the client went away
  s.unread(request); // the job reads it
  s.detach(); // the socket is the job's now: this coroutine's end does not close it
  try {
    s.rt.pool.run(webServer, s, log).catch((e) => log(`https: ${(e as Error).message}`));
  } catch {
    s.close(); // the pool's queue is full (busy): drop the connection
  }
}

/** 3.a: the TLS listener (port 9443 as in the seed; 0 picks one). Resolves with the listening socket. */
export async function example3(rt: Runtime, tls: TLSServerOptions, port = 9443, intf = "127.0.0.1", log: Log = print): Promise<Socket> {
  const s = await rt.bind(port, { intf, tls });
  return s.event(acceptCoroutine, log);
}
