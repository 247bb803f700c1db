/**
 * Example 11: a secure client connection. Inside a cosocket, `connect` with `tls` completes the
 * TCP connection and then the TLS handshake asynchronously: the cosocket suspends ("connect", then
 * "upgrade") and nothing else is blocked. Unlike the seed, the server's certificate is verified by
 * default (the connect fails with `sslnottrusted`); `trusted()`, `cipher()` and `certificate()`
 * tell what was negotiated. The client then sends an HTTP/1.0 request and prints the response.
 */
import { decodeUtf8, concat, type Runtime, type Socket, type TLSOptions } from "../src/index.js";
import { print, type Log } from "./log.js";

export async function secureCoroutine(
  sock: Socket,
  host: string,
  port: number,
  tls: TLSOptions | true,
  log: Log,
  done: (response: string | null) => void,
): Promise<void> {
  try {
    await sock.connect(host, port, { tls });
  } catch (e) {
    log(`secure connect failed: ${(e as Error).message}`);
    done(null);
    return;
  }
  const c = sock.cipher()!;
  const cert = sock.certificate();
  log(`connected to ${host}:${port} with ${c.protocol} ${c.name}${c.alpn ? ` (${c.alpn})` : ""}`);
  log(`certificate: ${cert?.subject} issued by ${cert?.issuer}, valid until ${new Date(cert?.validTo ?? 0).toUTCString()}`);
  log(`trusted: ${sock.trusted() ? "yes" : `no (${sock.trustError()})`}`);
  let response: Uint8Array = new Uint8Array(0);
  try {
    await sock.write(`GET / HTTP/1.0\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    for (;;) {
      const data = await sock.read(10000);
      if (!data) break;
      response = concat(response, data);
    }
  } catch (e) {
    log(`socket error: ${(e as Error).message}`);
  }
  const text = decodeUtf8(response);
  log(`response: ${text.split("\r\n")[0]} (${response.length} bytes)`);
  done(text);
}

/** Runs the cosocket; resolves with the response text, or null if the secure connect failed. */
export function example11(rt: Runtime, host: string, port = 443, tls: TLSOptions | true = true, log: Log = print): Promise<string | null> {
  return new Promise((resolve) => {
    rt.event(secureCoroutine, host, port, tls, log, resolve);
  });
}
