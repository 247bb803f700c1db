/**
 * The runtime's TLS client on the node host against real peers: openssl s_server (TLS 1.2 and 1.3,
 * small records, client-certificate requests), socat as a byte-exact TLS echo, and peers that fail
 * a handshake in every way the issue lists. Certificates are made with openssl per run.
 */
import { execFileSync } from "node:child_process";
import { createServer, type AddressInfo, type Server } from "node:net";
import { Runtime, decodeUtf8, type Socket, type SocketError, type TLSOptions } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { have, itWithPeer, type Peer } from "../support/peers.js";
import { equalBytes, joinAll, randomBytes } from "../support/util.js";
import { usePKI, type PKI } from "./pki.js";
import { startSServer, startSilentServer, startSocatEcho, startStallingProxy, type Running } from "./tls-peers.js";

const itOpenssl = itWithPeer("openssl", "apt-get install openssl");
const itSocat = have("openssl") ? itWithPeer("socat", "apt-get install socat") : itOpenssl; // socat needs openssl's certificates

let pki: PKI;
let rt: Runtime;
let peer: Running | Peer | undefined;

usePKI((made) => (pki = made));
beforeEach(() => {
  rt = new Runtime(nodeHost());
});
afterEach(async () => {
  rt.shutdown();
  await peer?.stop();
  peer = undefined;
});

async function connectError(port: number, tls: TLSOptions, host = "localhost"): Promise<SocketError> {
  try {
    const s = await rt.connect(host, port, { tls });
    s.close();
  } catch (e) {
    return e as SocketError;
  }
  throw new Error("the connection was made");
}

/** Sends `lines` to an `s_server -rev` peer and reads the reversed lines back. */
async function reversed(s: Socket, lines: string[]): Promise<string[]> {
  const out: string[] = [];
  const reading = (async () => {
    while (out.length < lines.length) {
      const l = await s.readLine({ timeout: 5000 });
      if (l === null) break;
      out.push(l);
    }
  })();
  for (const l of lines) await s.write(l + "\n");
  await reading;
  return out;
}

function fingerprintOf(certFile: string): string {
  return execFileSync("openssl", ["x509", "-in", certFile, "-noout", "-fingerprint", "-sha256"], { encoding: "utf8" })
    .trim()
    .replace(/^.*=/, "");
}

describe("against openssl s_server", () => {
  for (const [version, flag] of [
    ["TLSv1.3", "-tls1_3"],
    ["TLSv1.2", "-tls1_2"],
  ] as const) {
    itOpenssl(`${version}: verifies, reports what was negotiated, and exchanges 40 KB in 512-byte records`, async () => {
      peer = await startSServer(pki.server.certFile, pki.server.keyFile, ["-rev", flag, "-max_send_frag", "512"]);
      const s = await rt.connect("localhost", peer.port, { tls: { ca: pki.ca.cert } });
      expect(s.secure).toBe(true);
      expect(s.trusted()).toBe(true);
      const c = s.cipher()!;
      expect(c.protocol).toBe(version);
      if (version === "TLSv1.3") expect(c.name).toMatch(/^TLS_(AES_256_GCM_SHA384|AES_128_GCM_SHA256|CHACHA20_POLY1305_SHA256)$/);
      else expect(c.name).toMatch(/^TLS_ECDHE_ECDSA_WITH_/);
      const cert = s.certificate()!;
      expect(cert.subject).toBe("CN=localhost");
      expect(cert.issuer).toBe("CN=cosock test CA");
      expect(cert.dnsNames).toEqual(["localhost"]);
      expect(cert.ipAddresses).toEqual(["127.0.0.1"]);
      expect(cert.fingerprint).toBe(fingerprintOf(pki.server.certFile));
      expect(cert.validTo).toBeGreaterThan(Date.now());
      expect(cert.validFrom).toBeLessThanOrEqual(Date.now() + 60_000);
      const lines = Array.from({ length: 400 }, (_, i) => `line ${i} ` + "x".repeat(90));
      expect(await reversed(s, lines)).toEqual(lines.map((l) => [...l].reverse().join("")));
      s.close();
    });
  }

  itOpenssl("a connection by IP address is checked against the certificate's IP entry", async () => {
    peer = await startSServer(pki.server.certFile, pki.server.keyFile, ["-rev"]);
    const s = await rt.connect("127.0.0.1", peer.port, { tls: { ca: pki.ca.cert } });
    expect(s.trusted()).toBe(true);
    expect(s.trustError("wrong.example")).toBe("cn");
    s.close();
  });

  itOpenssl("a client certificate is sent when the server asks (-Verify 1); one from an unknown CA is refused", async () => {
    const verifying = ["-rev", "-Verify", "1", "-verify_return_error", "-CAfile", pki.ca.certFile];
    peer = await startSServer(pki.server.certFile, pki.server.keyFile, verifying);
    const s = await rt.connect("localhost", peer.port, { tls: { ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key } });
    expect(await reversed(s, ["abc"])).toEqual(["cba"]);
    s.close();
    let error: SocketError | undefined;
    try {
      const t = await rt.connect("localhost", peer.port, { tls: { ca: pki.ca.cert, cert: pki.stranger.cert, key: pki.stranger.key } });
      await t.write("x\n");
      await t.read(5000);
    } catch (e) {
      error = e as SocketError;
    }
    expect(error?.code).toBe("sslalertrecv");
    expect(error?.message).toMatch(/unknown ca/);
  });

  for (const [version, flag] of [
    ["TLSv1.3", "-tls1_3"],
    ["TLSv1.2", "-tls1_2"],
  ] as const) {
    itOpenssl(`${version}: a client certificate required but missing: sslalertrecv`, async () => {
      peer = await startSServer(pki.server.certFile, pki.server.keyFile, ["-rev", flag, "-Verify", "1", "-CAfile", pki.ca.certFile]);
      let error: SocketError | undefined;
      try {
        // In TLS 1.2 the handshake fails; in TLS 1.3 the client's handshake completes first and
        // the server's alert arrives for the first read.
        const s = await rt.connect("localhost", peer.port, { tls: { ca: pki.ca.cert } });
        await s.write("hello\n");
        await s.read(5000);
      } catch (e) {
        error = e as SocketError;
      }
      expect(error?.code).toBe("sslalertrecv");
      expect(error?.message).toMatch(version === "TLSv1.3" ? /certificate required/ : /handshake failure/);
    });
  }
});

describe("socat", () => {
  itSocat(
    "a byte-exact TLS echo of 1 MiB",
    async () => {
      peer = await startSocatEcho(pki.server.certFile, pki.server.keyFile);
      const s = await rt.connect("localhost", peer.port, { tls: { ca: pki.ca.cert } });
      const payload = randomBytes(1 << 20, 99);
      const parts: Uint8Array[] = [];
      const reading = (async () => {
        for (;;) {
          const d = await s.read(10000);
          if (!d) break;
          parts.push(d);
        }
      })();
      for (let off = 0; off < payload.length; off += 50_000) await s.write(payload.subarray(off, off + 50_000));
      s.shutdown(); // close_notify and FIN: socat ends cat's input, cat ends, socat closes
      await reading;
      const back = joinAll(parts);
      expect(back.length).toBe(payload.length);
      expect(equalBytes(back, payload)).toBe(true);
      s.close();
    },
    30000,
  );
});

describe("handshakes that must fail", () => {
  itOpenssl("a self-signed certificate without the CA: sslnottrusted; verify: false connects and trusted() says 'cert'", async () => {
    peer = await startSServer(pki.selfSigned.certFile, pki.selfSigned.keyFile, ["-rev"]);
    const e = await connectError(peer.port, { ca: pki.ca.cert });
    expect(e.code).toBe("sslnottrusted");
    expect(e.message).toMatch(/self[- ]signed/);
    const s = await rt.connect("localhost", peer.port, { tls: { verify: false } });
    expect(s.trusted()).toBe(false);
    expect(s.trustError()).toBe("cert");
    expect(await reversed(s, ["ok"])).toEqual(["ko"]);
    s.close();
  });

  itOpenssl("the default trust store does not know the test CA: sslnottrusted", async () => {
    peer = await startSServer(pki.server.certFile, pki.server.keyFile, ["-rev"]);
    const e = await connectError(peer.port, {});
    expect(e.code).toBe("sslnottrusted");
  });

  itOpenssl("a wrong host name: sslnottrusted; verify: false connects and trusted() says 'cn'", async () => {
    peer = await startSServer(pki.wrongName.certFile, pki.wrongName.keyFile, ["-rev"]);
    const e = await connectError(peer.port, { ca: pki.ca.cert });
    expect(e.code).toBe("sslnottrusted");
    expect(e.message).toMatch(/localhost/);
    const s = await rt.connect("localhost", peer.port, { tls: { ca: pki.ca.cert, verify: false } });
    expect(s.trustError()).toBe("cn");
    expect(s.trusted("wrong.example")).toBe(true);
    s.close();
    // the serverName option names the host the certificate must match
    const t = await rt.connect("127.0.0.1", peer.port, { tls: { ca: pki.ca.cert, serverName: "wrong.example" } });
    expect(t.trusted()).toBe(true);
    t.close();
  });

  itOpenssl("an expired certificate: sslnottrusted", async () => {
    peer = await startSServer(pki.expired.certFile, pki.expired.keyFile, ["-rev"]);
    const e = await connectError(peer.port, { ca: pki.ca.cert });
    expect(e.code).toBe("sslnottrusted");
    expect(e.message).toMatch(/expired/);
  });

  it("a peer that speaks plaintext: sslhandshake", async () => {
    const server: Server = createServer((c) => {
      c.on("error", () => undefined);
      c.end("220 smtp.example ESMTP ready\r\n");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    try {
      const e = await connectError((server.address() as AddressInfo).port, {});
      expect(e.code).toBe("sslhandshake");
    } finally {
      server.close();
    }
  });

  itOpenssl("a peer that stalls mid-handshake (after part of its ServerHello): sslhandshake after the handshake timeout", async () => {
    const server = await startSServer(pki.server.certFile, pki.server.keyFile, ["-rev"]);
    const proxy = await startStallingProxy(server.port, 40);
    try {
      const t0 = Date.now();
      const e = await connectError(proxy.port, { ca: pki.ca.cert, handshakeTimeout: 400 });
      expect(e.code).toBe("sslhandshake");
      expect(e.message).toMatch(/within 400 ms/);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(390);
    } finally {
      await proxy.stop();
      await server.stop();
    }
  });

  it("a peer that never answers the ClientHello: sslhandshake after the handshake timeout", async () => {
    const silent = await startSilentServer();
    peer = silent;
    const t0 = Date.now();
    const e = await connectError(silent.port, { handshakeTimeout: 300 });
    const took = Date.now() - t0;
    expect(e.code).toBe("sslhandshake");
    expect(e.message).toMatch(/within 300 ms/);
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(3000);
    expect(rt.stat().activeCons).toBe(0);
  });

  it("a host without TLS: sslnotenabled", async () => {
    const bare = new Runtime(nodeHost({ tls: false }));
    await expect(bare.connect("127.0.0.1", 1, { tls: true })).rejects.toMatchObject({ code: "sslnotenabled" });
    bare.shutdown();
  });
});

describe("from a cosocket", () => {
  itOpenssl("connect completes TCP and the handshake asynchronously; state() is 'upgrade' during the handshake", async () => {
    peer = await startSServer(pki.server.certFile, pki.server.keyFile, ["-rev"]);
    const port = peer.port;
    // a host whose TLS notes the socket's state when the handshake starts
    const host = nodeHost();
    let sock: Socket | undefined;
    let during = "";
    const spied = new Runtime({
      ...host,
      tls: { prepare: host.tls!.prepare, wrap: (o) => ((during = sock!.state()), host.tls!.wrap(o)) },
    });
    try {
      const answer = await new Promise<string>((resolve, reject) => {
        sock = spied.event(async (s: Socket) => {
          try {
            await s.connect("localhost", port, { tls: { ca: pki.ca.cert } });
            await s.write("cosocket\n");
            resolve(decodeUtf8((await s.readUntil("\n", { timeout: 5000 }))!));
          } catch (e) {
            reject(e);
          }
        });
        expect(sock.state()).toBe("connect");
      });
      expect(answer).toBe("tekcosoc");
      expect(during).toBe("upgrade");
    } finally {
      spied.shutdown();
    }
  });
});
