/**
 * The runtime's TLS on the sim host's TLS STAND-IN (no cryptography): the handshake state machine,
 * its failure modes and the socket's part of TLS (states, timeouts, STARTTLS read-ahead and
 * plaintext ordering), deterministic on virtual time.
 */
import { Runtime, type SocketError, decodeUtf8, type Host, type Socket, type TLSServerOptions } from "../../src/index.js";
import { SimNetwork, standInCA, standInSelfSigned, STANDIN_CIPHER } from "../../hosts/sim/index.js";
import { randomBytes, equalBytes, joinAll } from "../support/util.js";

const SERVER = "10.0.0.1";
const CLIENT = "10.0.0.2";
const PORT = 443;

let sim: SimNetwork;
let server: Runtime;
let client: Runtime;

const ca = standInCA("Test CA");
const leaf = ca.issue({ commonName: "server.test", dnsNames: ["server.test"], ipAddresses: [SERVER] });
const expired = ca.issue({ commonName: "server.test", notBefore: 1_500_000_000_000, notAfter: 1_600_000_000_000 });
const selfSigned = standInSelfSigned({ commonName: "server.test" });
const clientCert = ca.issue({ commonName: "device-17" });
const otherCA = standInCA("Other CA");
const strangerCert = otherCA.issue({ commonName: "stranger" });

beforeEach(() => {
  sim = new SimNetwork({ seed: 7, link: { latency: 5 } });
  sim.dns("server.test", SERVER);
  sim.dns("other.test", SERVER);
  server = new Runtime(sim.host(SERVER));
  client = new Runtime(sim.host(CLIENT));
});
afterEach(() => {
  server.shutdown();
  client.shutdown();
});

/** A TLS listener whose accepted connections echo; `seen` collects how each connection ended. */
async function echoServer(tls: TLSServerOptions = { cert: leaf.cert, key: leaf.key }) {
  const seen: { sock: Socket; error?: SocketError }[] = [];
  const l = await server.bind(PORT, { tls });
  l.event(async (ls: Socket) => {
    for (;;) {
      const s = await ls.accept();
      if (!s) break;
      const entry: { sock: Socket; error?: SocketError } = { sock: s };
      seen.push(entry);
      s.event(async (c: Socket) => {
        try {
          for (;;) {
            const d = await c.read();
            if (!d) break;
            await c.write(d);
          }
        } catch (e) {
          entry.error = e as SocketError;
        }
      }, "s");
    }
  });
  return { listener: l, seen };
}

async function connectError(host: string, tls: object, port = PORT): Promise<SocketError> {
  try {
    const s = await client.connect(host, port, { tls });
    s.close();
  } catch (e) {
    return e as SocketError;
  }
  throw new Error("connected");
}

async function roundTrip(s: Socket, payload: Uint8Array): Promise<Uint8Array> {
  const got: Uint8Array[] = [];
  let n = 0;
  const reading = (async () => {
    while (n < payload.length) {
      const d = await s.read();
      if (!d) break;
      got.push(d);
      n += d.length;
    }
  })();
  await s.write(payload);
  await reading;
  return joinAll(got);
}

describe("handshake", () => {
  it("connects, verifies, reports the session and echoes 200 KB", async () => {
    const { seen } = await echoServer();
    const s = await client.connect("server.test", PORT, { tls: { ca: ca.cert } });
    expect(s.secure).toBe(true);
    expect(s.cipher()).toEqual({ name: STANDIN_CIPHER, protocol: "TLSv1.3" });
    expect(s.trusted()).toBe(true);
    expect(s.trustError()).toBeUndefined();
    expect(s.certificate()).toMatchObject({ subject: "CN=server.test", issuer: "CN=Test CA", dnsNames: ["server.test"] });
    expect(s.certificate()!.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const payload = randomBytes(200_000);
    expect(equalBytes(await roundTrip(s, payload), payload)).toBe(true);
    // the server side: no client certificate was asked for
    expect(seen[0].sock.trusted()).toBe(false);
    expect(seen[0].sock.trustError()).toBe("none");
    expect(seen[0].sock.cipher()?.protocol).toBe("TLSv1.3");
    s.close();
  });

  it("an IP address is checked against the certificate's IP entries", async () => {
    await echoServer();
    const s = await client.connect(SERVER, PORT, { tls: { ca: ca.cert } });
    expect(s.trusted()).toBe(true);
    expect(s.trusted("server.test")).toBe(true);
    expect(s.trustError("other.test")).toBe("cn");
    s.close();
  });

  it("negotiates the version and ALPN", async () => {
    await echoServer({ cert: leaf.cert, key: leaf.key, alpn: ["mqtt", "http/1.1"] });
    const s = await client.connect("server.test", PORT, { tls: { ca: ca.cert, alpn: ["http/1.1"], maxVersion: "TLSv1.2" } });
    expect(s.cipher()).toEqual({ name: STANDIN_CIPHER, protocol: "TLSv1.2", alpn: "http/1.1" });
    s.close();
  });

  it("a cosocket suspends in the handshake: state() is 'connect', then 'upgrade', then connected", async () => {
    await echoServer();
    const states: string[] = [];
    let done!: (v: string) => void;
    const result = new Promise<string>((r) => (done = r));
    const sock = client.event(async (s: Socket) => {
      await s.connect("server.test", PORT, { tls: { ca: ca.cert } });
      await s.write("ping");
      done(decodeUtf8((await s.read())!));
    });
    for (let i = 0; i < 40; i++) {
      const st = sock.state();
      if (states[states.length - 1] !== st) states.push(st);
      await sim.advance(1);
    }
    expect(await result).toBe("ping");
    expect(states.slice(0, 3)).toEqual(["connect", "upgrade", "read"]);
  });
});

describe("verification failures", () => {
  it("a certificate no trusted CA signed: sslnottrusted (the server receives an alert)", async () => {
    const { seen } = await echoServer();
    const e = await connectError("server.test", {}); // no CA given: the stand-in trusts nothing by default
    expect(e.code).toBe("sslnottrusted");
    await sim.advance(50);
    expect(seen[0].error?.code).toBe("sslalertrecv");
  });

  it("a self-signed certificate without it as CA: sslnottrusted", async () => {
    await echoServer({ cert: selfSigned.cert, key: selfSigned.key });
    const e = await connectError("server.test", { ca: ca.cert });
    expect(e.code).toBe("sslnottrusted");
    expect(e.message).toMatch(/self-signed/);
    // trusted when it is its own CA
    const s = await client.connect("server.test", PORT, { tls: { ca: selfSigned.cert } });
    expect(s.trusted()).toBe(true);
    s.close();
  });

  it("a wrong host name: sslnottrusted; with verify: false it connects and trusted() says 'cn'", async () => {
    await echoServer();
    const e = await connectError("other.test", { ca: ca.cert });
    expect(e.code).toBe("sslnottrusted");
    expect(e.message).toMatch(/not for other\.test/);
    const s = await client.connect("other.test", PORT, { tls: { ca: ca.cert, verify: false } });
    expect(s.trusted()).toBe(false);
    expect(s.trustError()).toBe("cn");
    expect(s.trusted("server.test")).toBe(true);
    s.close();
  });

  it("an expired certificate: sslnottrusted; unverified, trusted() says 'cert' or 'certcn'", async () => {
    await echoServer({ cert: expired.cert, key: expired.key });
    const e = await connectError("server.test", { ca: ca.cert });
    expect(e.code).toBe("sslnottrusted");
    expect(e.message).toMatch(/expired/);
    const s = await client.connect("server.test", PORT, { tls: { ca: ca.cert, verify: false } });
    expect(s.trustError()).toBe("cert");
    expect(s.trustError("other.test")).toBe("certcn");
    s.close();
  });
});

describe("peers that do not complete a handshake", () => {
  it("a peer that speaks plaintext: sslhandshake", async () => {
    const l = await server.bind(PORT);
    l.event(async (ls: Socket) => {
      const s = (await ls.accept())!;
      await s.write("220 smtp.example ESMTP ready\r\n");
      await s.read(1000).catch(() => null);
      s.close();
    });
    const e = await connectError("server.test", { ca: ca.cert });
    expect(e.code).toBe("sslhandshake");
    expect(e.message).toMatch(/does not speak TLS/);
  });

  it("a peer that closes during the handshake: sslhandshake", async () => {
    const l = await server.bind(PORT);
    l.event(async (ls: Socket) => {
      const s = (await ls.accept())!;
      await s.read();
      s.close();
    });
    const e = await connectError("server.test", { ca: ca.cert });
    expect(e.code).toBe("sslhandshake");
    expect(e.message).toMatch(/closed the connection during the TLS handshake/);
  });

  it("a peer that stalls mid-handshake: sslhandshake after handshakeTimeout (virtual ms)", async () => {
    await echoServer();
    sim.onConnection = (c) => {
      // let the ClientHello and ServerHello through, then hold everything
      sim.advance(12).then(() => c.stall(true));
    };
    const start = client.host.now();
    const e = await connectError("server.test", { ca: ca.cert, handshakeTimeout: 750 });
    expect(e.code).toBe("sslhandshake");
    expect(e.message).toMatch(/within 750 ms/);
    const took = client.host.now() - start;
    expect(took).toBeGreaterThanOrEqual(750);
    expect(took).toBeLessThan(800);
  });

  it("a TLS listener's connection whose client never starts the handshake fails after the server's timeout", async () => {
    const { seen } = await echoServer({ cert: leaf.cert, key: leaf.key, handshakeTimeout: 300 });
    const plain = await client.connect("server.test", PORT);
    await sim.advance(100);
    expect(seen[0].sock.state()).toBe("upgrade"); // its coroutine waits in read while the handshake runs
    await sim.advance(300);
    expect(seen[0].error?.code).toBe("sslhandshake");
    expect(await plain.read(1000)).toBeNull(); // the server dropped the connection
    plain.close();
  });

  it("the peer's close_notify during the handshake: sslclosenotify", async () => {
    const l = await server.bind(PORT);
    l.event(async (ls: Socket) => {
      const s = (await ls.accept())!;
      await s.read();
      await s.write(new Uint8Array([21, 0, 2, 1, 0])); // alert record: warning, close_notify
      await s.read(1000).catch(() => null);
      s.close();
    });
    const e = await connectError("server.test", { ca: ca.cert });
    expect(e.code).toBe("sslclosenotify");
  });

  it("no common protocol version: the server fails (sslhandshake), the client hears the alert", async () => {
    const { seen } = await echoServer({ cert: leaf.cert, key: leaf.key, minVersion: "TLSv1.3" });
    const e = await connectError("server.test", { ca: ca.cert, maxVersion: "TLSv1.2" });
    expect(e.code).toBe("sslalertrecv");
    expect(e.message).toMatch(/protocol_version/);
    await sim.advance(20);
    expect(seen[0].error?.code).toBe("sslhandshake");
  });
});

describe("client certificates", () => {
  const requiring: TLSServerOptions = { cert: leaf.cert, key: leaf.key, requestCert: true, ca: ca.cert };

  it("required but missing: the server fails with sslnottrusted, the client receives an alert", async () => {
    const { seen } = await echoServer(requiring);
    const e = await connectError("server.test", { ca: ca.cert });
    expect(e.code).toBe("sslalertrecv");
    expect(e.message).toMatch(/certificate_required/);
    await sim.advance(20);
    expect(seen[0].error?.code).toBe("sslnottrusted");
  });

  it("sent and trusted: the server's trusted() is true and certificate() names the client", async () => {
    const { seen } = await echoServer(requiring);
    const s = await client.connect("server.test", PORT, { tls: { ca: ca.cert, cert: clientCert.cert, key: clientCert.key } });
    expect(decodeUtf8(await roundTrip(s, new TextEncoder().encode("hi")))).toBe("hi");
    expect(seen[0].sock.trusted()).toBe(true);
    expect(seen[0].sock.certificate()?.commonName).toBe("device-17");
    s.close();
  });

  it("from an unknown CA: refused (sslnottrusted at the server, an alert at the client); accepted with verify: false", async () => {
    const { seen } = await echoServer(requiring);
    const e = await connectError("server.test", { ca: ca.cert, cert: strangerCert.cert, key: strangerCert.key });
    expect(e.code).toBe("sslalertrecv");
    await sim.advance(20);
    expect(seen[0].error?.code).toBe("sslnottrusted");
    server.shutdown();
    server = new Runtime(sim.host(SERVER));
    const open = await echoServer({ ...requiring, verify: false });
    const s = await client.connect("server.test", PORT, { tls: { ca: ca.cert, cert: strangerCert.cert, key: strangerCert.key } });
    await roundTrip(s, new Uint8Array([1]));
    expect(open.seen[0].sock.trustError()).toBe("cert");
    s.close();
  });
});

describe("STARTTLS (upgrade)", () => {
  /** A line-based server: answers "OK" to STARTTLS, then upgrades and echoes lines in TLS. */
  async function starttlsServer(o: { delayBeforeRead?: number; delayBeforeUpgrade?: number; answer?: boolean } = {}) {
    const l = await server.bind(25);
    const log: string[] = [];
    l.event(async (ls: Socket) => {
      const s = (await ls.accept())!;
      s.event(async (c: Socket) => {
        await c.write("220 ready\r\n");
        if (o.delayBeforeRead) await c.rt.sleep(o.delayBeforeRead);
        const line = await c.readLine();
        log.push(`plain: ${line}`);
        if (o.answer !== false) await c.write("220 go ahead\r\n");
        if (o.delayBeforeUpgrade) await c.rt.sleep(o.delayBeforeUpgrade);
        await c.upgrade({ server: true, cert: leaf.cert, key: leaf.key });
        log.push(`secure: ${c.cipher()?.name}`);
        for (;;) {
          const l2 = await c.readLine();
          if (l2 === null) break;
          log.push(`tls: ${l2}`);
          await c.write(`echo ${l2}\r\n`);
        }
      }, "s");
    });
    return log;
  }

  it("upgrades a plain connection from a cosocket; state() is 'upgrade' meanwhile", async () => {
    const log = await starttlsServer();
    let state = "";
    const out = await new Promise<string>((resolve) => {
      client.event(async (s: Socket) => {
        await s.connect("server.test", 25);
        expect(await s.readLine()).toBe("220 ready");
        await s.write("STARTTLS\r\n");
        expect(await s.readLine()).toBe("220 go ahead");
        const up = s.upgrade({ ca: ca.cert });
        state = s.state();
        expect(await up).toBe(s);
        await s.write("hello\r\n");
        resolve((await s.readLine())!);
      });
    });
    expect(state).toBe("upgrade");
    expect(out).toBe("echo hello");
    expect(log).toEqual(["plain: STARTTLS", `secure: ${STANDIN_CIPHER}`, "tls: hello"]);
  });

  it("no handshake byte read ahead in plaintext is lost: ClientHello pipelined behind the command", async () => {
    // The server reads late, so "STARTTLS\r\n" and the ClientHello arrive together and readLine
    // reads past the line end (the runtime's unread buffer): the rest must go to the handshake.
    const log = await starttlsServer({ delayBeforeRead: 50, answer: false });
    const s = await client.connect("server.test", 25);
    expect(await s.readLine()).toBe("220 ready");
    await s.write("STARTTLS\r\n");
    await s.upgrade({ ca: ca.cert }); // does not wait for an answer
    await s.write("one\r\n");
    expect(await s.readLine()).toBe("echo one");
    expect(log).toEqual(["plain: STARTTLS", `secure: ${STANDIN_CIPHER}`, "tls: one"]);
    s.close();
  });

  it("no handshake byte left unread in the host is lost: ClientHello arrives before the server upgrades", async () => {
    const log = await starttlsServer({ answer: false, delayBeforeUpgrade: 50 });
    const s = await client.connect("server.test", 25);
    expect(await s.readLine()).toBe("220 ready");
    await s.write("STARTTLS\r\n");
    await sim.advance(20); // the server has read the line and sleeps; the ClientHello waits in its TCP socket
    await s.upgrade({ ca: ca.cert });
    await s.write("two\r\n");
    expect(await s.readLine()).toBe("echo two");
    expect(log).toEqual(["plain: STARTTLS", `secure: ${STANDIN_CIPHER}`, "tls: two"]);
    s.close();
  });

  it("plaintext written before upgrade leaves first, and writes made during the handshake are encrypted after it", async () => {
    const blob = randomBytes(50_000);
    let serverGot: Uint8Array | null = null;
    let afterTLS = "";
    const l = await server.bind(26);
    l.event(async (ls: Socket) => {
      const c = (await ls.accept())!;
      serverGot = await c.readExactly(blob.length);
      await c.upgrade({ server: true, cert: leaf.cert, key: leaf.key });
      afterTLS = (await c.readLine())!;
      await c.write("bye\r\n");
    });
    const s = await client.connect("server.test", 26);
    s.event(async () => undefined, "s"); // make it a cosocket: writes queue instead of waiting
    s.detach();
    expect(s.trywrite(blob)).toBe(true); // queued: more than the sim's send buffer
    expect(s.queued).toBeGreaterThan(0);
    const up = s.upgrade({ ca: ca.cert });
    expect(s.state()).toBe("upgrade");
    expect(s.trywrite("secret\r\n")).toBe(true); // waits for the handshake, then goes encrypted
    await up;
    expect(await s.readLine()).toBe("bye");
    expect(equalBytes(serverGot!, blob)).toBe(true);
    expect(afterTLS).toBe("secret");
    s.close();
  });

  it("plaintext queued before upgrade leaves and the handshake starts, with nothing written after", async () => {
    const blob = randomBytes(30_000, 3);
    let serverGot: Uint8Array | null = null;
    const l = await server.bind(28);
    l.event(async (ls: Socket) => {
      const c = (await ls.accept())!;
      serverGot = await c.readExactly(blob.length);
      await c.upgrade({ server: true, cert: leaf.cert, key: leaf.key });
      await c.write("bye\r\n");
    });
    const s = await client.connect("server.test", 28);
    s.event(async () => undefined, "s");
    s.detach();
    s.trywrite(blob);
    expect(s.queued).toBeGreaterThan(0); // the upgrade has to wait for these bytes to leave
    await s.upgrade({ ca: ca.cert });
    expect(await s.readLine()).toBe("bye");
    expect(equalBytes(serverGot!, blob)).toBe(true);
    s.close();
  });

  it("misuse: upgrade on a listener, twice, or with a read waiting is incorrectuse", async () => {
    await echoServer();
    const l = await client.bind(0);
    await expect(l.upgrade()).rejects.toMatchObject({ code: "incorrectuse" });
    const s = await client.connect("server.test", PORT, { tls: { ca: ca.cert } });
    await expect(s.upgrade()).rejects.toMatchObject({ code: "incorrectuse" });
    s.close();
    const p = await client.connect("server.test", PORT);
    const reading = p.read();
    await expect(p.upgrade()).rejects.toMatchObject({ code: "incorrectuse" });
    p.close();
    await expect(reading).rejects.toMatchObject({ code: "socketclosed" });
  });

  it("closing during the handshake rejects the upgrade with socketclosed", async () => {
    const l = await server.bind(27);
    l.event(async (ls: Socket) => {
      const c = (await ls.accept())!;
      await c.read(5000).catch(() => null); // never answers the ClientHello
    });
    const s = await client.connect("server.test", 27);
    const up = s.upgrade({ ca: ca.cert });
    await sim.advance(20);
    expect(s.state()).toBe("upgrade");
    s.close();
    await expect(up).rejects.toMatchObject({ code: "socketclosed" });
  });
});

describe("options", () => {
  it("certificates or keys the host cannot use are refused before any connection: incorrectuse", async () => {
    await expect(server.bind(PORT, { tls: { cert: leaf.cert, key: clientCert.key } })).rejects.toMatchObject({
      code: "incorrectuse",
      message: expect.stringMatching(/key does not belong/),
    });
    const realPem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    await expect(client.connect(SERVER, PORT, { tls: { ca: realPem } })).rejects.toMatchObject({ code: "incorrectuse" });
    await expect(client.connect(SERVER, PORT, { tls: { cert: clientCert.cert } })).rejects.toMatchObject({ code: "incorrectuse" });
    await expect(client.connect(SERVER, PORT, { tls: { handshakeTimeout: 0 } })).rejects.toMatchObject({ code: "incorrectuse" });
    expect(server.stat().listeners).toBe(0);
    expect(client.stat().totalCons).toBe(0);
  });
});

describe("without host TLS", () => {
  it("connect, bind and upgrade fail with sslnotenabled", async () => {
    const bare: Host = Object.create(sim.host(CLIENT), { tls: { value: undefined } });
    const rt = new Runtime(bare);
    await expect(rt.connect(SERVER, PORT, { tls: true })).rejects.toMatchObject({ code: "sslnotenabled" });
    await expect(rt.bind(0, { tls: { cert: leaf.cert, key: leaf.key } })).rejects.toMatchObject({ code: "sslnotenabled" });
    await echoServer();
    const s = await rt.connect(SERVER, PORT);
    await expect(s.upgrade()).rejects.toMatchObject({ code: "sslnotenabled" });
    expect(s.state()).toBe("exec"); // still a usable plain connection
    rt.shutdown();
  });
});
