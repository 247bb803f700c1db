/**
 * The TLS client (src/tls.ts over the node host) against servers that send garbage instead of a
 * handshake: random bytes, an HTTP answer, an endless stream of garbage, a record header that
 * announces a record far over TLS's limit, a TLS alert. Each fails at once with `sslhandshake`
 * (`sslalertrecv` for the alert; not after the handshake timeout), the connection is closed at our end (the server sees it
 * go) and the runtime holds nothing; a normal TLS client is served during and after.
 */
import { createServer, type AddressInfo, type Server, type Socket as NetSocket } from "node:net";
import { createServer as createTlsServer, type Server as TlsServer } from "node:tls";
import { Runtime, decodeUtf8, type SocketError } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { itWithPeer } from "../support/peers.js";
import { randomBytes, until } from "../support/util.js";
import { usePKI, type PKI } from "../tls/pki.js";

const itOpenssl = itWithPeer("openssl", "apt-get install openssl"); // the certificates are made with it

let pki: PKI;
let rt: Runtime;
const servers: (Server | TlsServer)[] = [];

usePKI((made) => (pki = made));
beforeEach(() => {
  rt = new Runtime(nodeHost());
});
afterEach(async () => {
  rt.shutdown();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A TCP server that answers every connection with `speak`; `ended()` counts the connections gone. */
async function garbageServer(speak: (c: NetSocket) => void): Promise<{ port: number; ended: () => number }> {
  let ended = 0;
  const server = createServer((c) => {
    c.on("error", () => undefined);
    c.on("close", () => ended++);
    c.resume(); // read (and drop) the ClientHello, so that the client's close is seen
    speak(c);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { port: (server.address() as AddressInfo).port, ended: () => ended };
}

/** A TLS echo server with the test PKI's server certificate. */
async function tlsEcho(): Promise<number> {
  const server = createTlsServer({ cert: pki.server.cert, key: pki.server.key }, (c) => {
    c.on("error", () => undefined);
    c.pipe(c);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return (server.address() as AddressInfo).port;
}

async function echoOnce(port: number): Promise<void> {
  const s = await rt.connect("localhost", port, { tls: { ca: pki.ca.cert, handshakeTimeout: 5000 } });
  await s.write("ping");
  expect(decodeUtf8((await s.readExactly(4, { timeout: 5000 }))!)).toBe("ping");
  s.close();
}

const GARBAGE: [string, (c: NetSocket) => void][] = [
  ["4 KiB of random bytes", (c) => c.write(randomBytes(4096, 7))],
  ["an HTTP answer", (c) => c.write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")],
  [
    "an endless stream of garbage",
    (c) => {
      const chunk = randomBytes(16384, 9);
      const more = () => {
        while (!c.destroyed && c.write(chunk));
        if (!c.destroyed) c.once("drain", more);
      };
      more();
    },
  ],
  ["a record header announcing 65535 bytes (over TLS's 18432)", (c) => c.write(Uint8Array.of(0x16, 0x03, 0x03, 0xff, 0xff, 1, 2, 3))],
  ["a fatal alert instead of a ServerHello", (c) => c.write(Uint8Array.of(0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28))],
];

describe("the TLS client against a server that sends garbage instead of a handshake", () => {
  for (const [what, speak] of GARBAGE) {
    itOpenssl(
      `${what}: ${what.includes("alert") ? "sslalertrecv" : "sslhandshake"} at once, nothing left open, a normal client served beside and after`,
      async () => {
        const bad = await garbageServer(speak);
        const good = await tlsEcho();
        const e = await rt.connect("localhost", bad.port, { tls: { ca: pki.ca.cert, handshakeTimeout: 30000 } }).then(
          (s) => {
            s.close();
            throw new Error("the handshake succeeded");
          },
          (x: unknown) => x as SocketError,
        );
        expect(e.code).toBe(what.includes("alert") ? "sslalertrecv" : "sslhandshake"); // an alert is named as one
        expect(e.message).not.toMatch(/within 30000 ms/); // at once, not after the handshake timeout
        expect(rt.stat()).toMatchObject({ activeCons: 0, queuedBytes: 0 });
        await until(rt, () => bad.ended() === 1, 5000, "the garbage server's connection to go too");
        await Promise.all([echoOnce(good), echoOnce(good)]);
      },
    );
  }

  itOpenssl(
    "20 garbage servers' connections at once beside 5 good ones: each fails alone, the runtime ends with nothing open",
    async () => {
      const bad = await garbageServer((c) => c.write(randomBytes(1024, 3)));
      const good = await tlsEcho();
      const results = await Promise.allSettled([
        ...Array.from({ length: 20 }, () => rt.connect("localhost", bad.port, { tls: { ca: pki.ca.cert } })),
        ...Array.from({ length: 5 }, () => echoOnce(good)),
      ]);
      const failed = results.slice(0, 20);
      expect(failed.every((r) => r.status === "rejected" && (r.reason as SocketError).code === "sslhandshake")).toBe(true);
      expect(results.slice(20).every((r) => r.status === "fulfilled")).toBe(true);
      expect(rt.stat().activeCons).toBe(0);
    },
  );
});
