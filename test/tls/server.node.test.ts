/**
 * TLS listeners on the node host (`rt.bind(port, { tls })`) against openssl s_client and against
 * our own client: verification of the server, client-certificate requests, handshake failures and
 * timeouts of accepted connections.
 */
import { connect as netConnect } from "node:net";
import { Runtime, decodeUtf8, type Socket, type SocketError, type TLSServerOptions } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { itWithPeer } from "../support/peers.js";
import { until } from "../support/util.js";
import { usePKI, type PKI } from "./pki.js";
import { runSClient } from "./tls-peers.js";

const itOpenssl = itWithPeer("openssl", "apt-get install openssl");

let pki: PKI;
let rt: Runtime;

usePKI((made) => (pki = made));
beforeEach(() => {
  rt = new Runtime(nodeHost());
});
afterEach(() => rt.shutdown());

interface Accepted {
  sock: Socket;
  line?: string | null;
  error?: SocketError;
}

/** A TLS listener that reads one line per connection, answers "you said: …" and closes. */
async function lineServer(tls: Partial<TLSServerOptions> = {}): Promise<{ port: number; accepted: Accepted[] }> {
  const listener = await rt.bind(0, { intf: "127.0.0.1", tls: { cert: pki.server.cert, key: pki.server.key, ...tls } });
  const accepted: Accepted[] = [];
  listener.event(async (l: Socket) => {
    for (;;) {
      const s = await l.accept();
      if (!s) break;
      const a: Accepted = { sock: s };
      accepted.push(a);
      s.event(async (c: Socket) => {
        try {
          a.line = await c.readLine({ timeout: 5000 });
          await c.write(`you said: ${a.line}\n`);
        } catch (e) {
          a.error = e as SocketError;
        }
      });
    }
  });
  return { port: listener.sockname()!.port, accepted };
}

const sClient = (port: number, extra: string[] = []) => [
  "-connect",
  `127.0.0.1:${port}`,
  "-CAfile",
  pki.ca.certFile,
  "-verify_hostname",
  "localhost",
  "-verify_return_error",
  "-ign_eof",
  ...extra,
];

describe("openssl s_client against our TLS listener", () => {
  for (const flag of ["-tls1_3", "-tls1_2"]) {
    itOpenssl(`${flag}: verifies our certificate and exchanges a line`, async () => {
      const { port, accepted } = await lineServer();
      const r = await runSClient(sClient(port, [flag]), "hello over tls\n");
      expect(r.output).toMatch(/Verify return code: 0 \(ok\)/);
      expect(r.output).toMatch(flag === "-tls1_3" ? /TLSv1\.3/ : /TLSv1\.2/);
      expect(r.output).toContain("you said: hello over tls");
      expect(accepted[0].line).toBe("hello over tls");
      const c = accepted[0].sock.cipher();
      expect(c?.protocol).toBe(flag === "-tls1_3" ? "TLSv1.3" : "TLSv1.2");
      expect(accepted[0].sock.trustError()).toBe("none"); // no client certificate requested
    });
  }

  itOpenssl("requestCert: a client certificate from the CA is trusted and reported", async () => {
    const { port, accepted } = await lineServer({ requestCert: true, ca: pki.ca.cert });
    const r = await runSClient(sClient(port, ["-cert", pki.client.certFile, "-key", pki.client.keyFile]), "with a certificate\n");
    expect(r.output).toContain("you said: with a certificate");
    const s = accepted[0].sock;
    expect(s.trusted()).toBe(true);
    expect(s.certificate()).toMatchObject({ commonName: "device-17", issuer: "CN=cosock test CA" });
  });

  itOpenssl("requestCert: a client without a certificate gets an alert and the server side fails with sslnottrusted", async () => {
    const { port, accepted } = await lineServer({ requestCert: true, ca: pki.ca.cert });
    const r = await runSClient(sClient(port, ["-tls1_3"]), "no certificate\n");
    expect(r.output).toMatch(/alert certificate required/);
    await until(rt, () => accepted[0]?.error !== undefined, 5000, "the server-side error");
    expect(accepted[0].error!.code).toBe("sslnottrusted");
    expect(accepted[0].line).toBeUndefined();
  });

  itOpenssl("requestCert: a client certificate from an unknown CA fails with sslnottrusted", async () => {
    const { port, accepted } = await lineServer({ requestCert: true, ca: pki.ca.cert });
    const r = await runSClient(sClient(port, ["-cert", pki.stranger.certFile, "-key", pki.stranger.keyFile]), "stranger\n");
    expect(r.output).not.toContain("you said");
    await until(rt, () => accepted[0]?.error !== undefined, 5000, "the server-side error");
    expect(accepted[0].error!.code).toBe("sslnottrusted");
  });

  itOpenssl("requestCert with verify: false accepts any client and trusted() tells", async () => {
    const { port, accepted } = await lineServer({ requestCert: true, ca: pki.ca.cert, verify: false });
    const r1 = await runSClient(sClient(port), "anonymous\n");
    expect(r1.output).toContain("you said: anonymous");
    const r2 = await runSClient(sClient(port, ["-cert", pki.stranger.certFile, "-key", pki.stranger.keyFile]), "stranger\n");
    expect(r2.output).toContain("you said: stranger");
    expect(accepted[0].sock.trustError()).toBe("none");
    expect(accepted[1].sock.trustError()).toBe("cert");
  });
});

describe("our client against our listener", () => {
  itOpenssl("a key that does not parse is refused by bind: incorrectuse", async () => {
    await expect(rt.bind(0, { tls: { cert: pki.server.cert, key: "not a key" } })).rejects.toMatchObject({ code: "incorrectuse" });
    await expect(rt.bind(0, { tls: { cert: pki.server.cert, key: pki.client.key } })).rejects.toMatchObject({ code: "incorrectuse" });
    expect(rt.stat().listeners).toBe(0);
  });

  itOpenssl("ALPN, verification both ways, and a client certificate", async () => {
    const { port, accepted } = await lineServer({ requestCert: true, ca: pki.ca.cert, alpn: ["cosock/1", "http/1.1"] });
    const s = await rt.connect("localhost", port, {
      tls: { ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key, alpn: ["http/1.1"] },
    });
    expect(s.cipher()?.alpn).toBe("http/1.1");
    await s.write("ping\n");
    expect(await s.readLine({ timeout: 5000 })).toBe("you said: ping");
    expect(accepted[0].sock.cipher()?.alpn).toBe("http/1.1");
    expect(accepted[0].sock.certificate()?.commonName).toBe("device-17");
    s.close();
  });

  itOpenssl("a client certificate required but missing: sslalertrecv at the client, sslnottrusted at the server", async () => {
    const { port, accepted } = await lineServer({ requestCert: true, ca: pki.ca.cert });
    let error: SocketError | undefined;
    try {
      const s = await rt.connect("localhost", port, { tls: { ca: pki.ca.cert } });
      await s.write("hello\n");
      await s.read(5000);
    } catch (e) {
      error = e as SocketError;
    }
    expect(error?.code).toBe("sslalertrecv");
    await until(rt, () => accepted[0]?.error !== undefined, 5000, "the server-side error");
    expect(accepted[0].error!.code).toBe("sslnottrusted");
  });

  itOpenssl("an accepted connection whose client never sends a ClientHello fails after handshakeTimeout", async () => {
    const { port, accepted } = await lineServer({ handshakeTimeout: 300 });
    const c = netConnect(port, "127.0.0.1");
    c.on("error", () => undefined);
    const closed = new Promise<void>((r) => c.once("close", () => r()));
    await until(rt, () => accepted.length === 1, 5000, "the accept");
    expect(accepted[0].sock.state()).toBe("upgrade");
    await until(rt, () => accepted[0].error !== undefined, 5000, "the handshake timeout");
    expect(accepted[0].error!.code).toBe("sslhandshake");
    expect(accepted[0].error!.message).toMatch(/within 300 ms/);
    await closed; // the server dropped the connection
  });

  itOpenssl("a plaintext client on a TLS listener: sslhandshake at the server", async () => {
    const { port, accepted } = await lineServer();
    const c = netConnect(port, "127.0.0.1");
    c.on("error", () => undefined);
    const got: Buffer[] = [];
    c.on("data", (d) => got.push(d));
    c.write("GET / HTTP/1.0\r\n\r\n");
    await until(rt, () => accepted[0]?.error !== undefined, 5000, "the server-side error");
    expect(accepted[0].error!.code).toBe("sslhandshake");
    c.destroy();
    expect(decodeUtf8(new Uint8Array(Buffer.concat(got)))).not.toContain("you said");
  });
});
