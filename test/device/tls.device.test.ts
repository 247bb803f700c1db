/**
 * TLS on the device host: hosts/moddable/tls.ts over the emulation of Moddable's TLSSocket
 * (test/device/ecma419-tls.ts, real TLS by node:tls, TLS 1.2 only as Moddable's) on the ECMA-419
 * TCP emulation, against real peers: openssl s_server, a node:tls server, an SMTP STARTTLS
 * server (the node host's runtime with node:tls), and mosquitto's TLS listener.
 * Emulated in Node, not flashed: what Moddable's own TLS code does on a board is not exercised.
 */
import { chmodSync, copyFileSync } from "node:fs";
import { join } from "node:path";
import * as tls from "node:tls";
import { X509Certificate } from "node:crypto";
import type { AddressInfo } from "node:net";
import { Runtime, decodeUtf8, type Socket } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { moddableHost } from "../../hosts/moddable/index.js";
import { MqttClient, tlsTransport } from "../../modules/mqtt/index.js";
import { itWithPeer } from "../support/peers.js";
import { equalBytes, randomBytes } from "../support/util.js";
import { socketFailure as failure } from "../support/util.js";
import { usePKI, type PKI } from "../tls/pki.js";
import { startSServer, type Running } from "../tls/tls-peers.js";
import { startSmtpServer } from "../tls/smtp-server.js";
import { Broker, freeTcpPort } from "../mqtt/broker.js";
import { Inbox, quiet } from "../mqtt/helpers.js";
import { ecma419, type Emulation } from "./ecma419.js";
import { DEVICE_MSS } from "./moddable-env.js";

const itOpenssl = itWithPeer("openssl", "apt-get install openssl");
const itMosquitto = itWithPeer("mosquitto", "apt-get install mosquitto openssl");

let pki: PKI;
usePKI((made) => (pki = made));

const emulations: Emulation[] = [];
const runtimes: Runtime[] = [];
const stops: (() => Promise<void> | void)[] = [];

function device(): Runtime {
  const emu = ecma419({ sendBuffer: DEVICE_MSS });
  emulations.push(emu);
  const rt = new Runtime(moddableHost(emu));
  runtimes.push(rt);
  return rt;
}

async function sServer(cert: { certFile: string; keyFile: string }, args: string[] = []): Promise<Running> {
  const peer = await startSServer(cert.certFile, cert.keyFile, ["-rev", ...args]);
  stops.push(() => peer.stop());
  return peer;
}

afterEach(async () => {
  for (const rt of runtimes.splice(0)) rt.shutdown();
  for (const stop of stops.splice(0)) await stop();
  await new Promise((r) => setTimeout(r, 5));
  const all = emulations.splice(0);
  for (const e of all) e.shutdown();
  expect(all.flatMap((e) => e.violations)).toEqual([]);
});

/** `lines` written, each answered reversed by `openssl s_server -rev`. */
async function reversed(s: Socket, lines: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const l of lines) {
    await s.write(l + "\n");
    const back = await s.readLine({ timeout: 5000 });
    if (back === null) break;
    out.push(back);
  }
  return out;
}

describe("a device TLS client (emulated Moddable TLSSocket) against openssl s_server", () => {
  itOpenssl("verified with the right CA: TLS 1.2, the server's certificate, data both ways", async () => {
    const peer = await sServer(pki.server);
    const rt = device();
    const s = await rt.connect("localhost", peer.port, { tls: { ca: pki.ca.cert } });
    expect(s.secure).toBe(true);
    expect(s.trusted()).toBe(true);
    expect(s.cipher()).toMatchObject({ protocol: "TLSv1.2", name: expect.stringMatching(/^TLS_ECDHE_ECDSA_WITH_/) });
    const cert = s.certificate()!;
    const x = new X509Certificate(pki.server.cert);
    expect(cert).toMatchObject({
      commonName: "localhost",
      dnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1"],
      issuer: "CN=cosock test CA",
    });
    expect(cert.serialNumber).toBe(x.serialNumber); // whole bytes in hex, as node:crypto gives them ("05…" keeps its 0)
    expect(cert.validTo).toBe(Date.parse(x.validTo));
    expect(await reversed(s, ["hello", "device"])).toEqual(["olleh", "ecived"]);
    s.close();
  });

  itOpenssl("a certificate no trusted CA signed fails with sslnottrusted", async () => {
    const peer = await sServer(pki.selfSigned);
    const e = await failure(device().connect("localhost", peer.port, { tls: { ca: pki.ca.cert } }));
    expect(e.code).toBe("sslnottrusted");
  });

  itOpenssl("a certificate for another name fails with sslnottrusted (the host checks the name; Moddable's TLS does not)", async () => {
    const peer = await sServer(pki.wrongName);
    const e = await failure(device().connect("localhost", peer.port, { tls: { ca: pki.ca.cert } }));
    expect(e.code).toBe("sslnottrusted");
    expect(e.message).toMatch(/not for localhost/);
  });

  itOpenssl("an expired certificate fails with sslnottrusted", async () => {
    const peer = await sServer(pki.expired);
    const e = await failure(device().connect("localhost", peer.port, { tls: { ca: pki.ca.cert } }));
    expect(e.code).toBe("sslnottrusted");
  });

  itOpenssl("verify: false connects to a self-signed server; trusted() says the chain was not checked", async () => {
    const peer = await sServer(pki.selfSigned);
    const s = await device().connect("localhost", peer.port, { tls: { verify: false } });
    expect(s.secure).toBe(true);
    expect(s.trustError()).toBe("cert");
    expect(await reversed(s, ["abc"])).toEqual(["cba"]);
    s.close();
  });

  itOpenssl("a server that demands a client certificate: refused with its alert (sslalertrecv), accepted with one", async () => {
    const peer = await sServer(pki.server, ["-Verify", "1", "-CAfile", pki.ca.certFile]);
    const rt = device();
    const e = await failure(rt.connect("localhost", peer.port, { tls: { ca: pki.ca.cert } }));
    expect(e.code).toBe("sslalertrecv");
    const s = await rt.connect("localhost", peer.port, { tls: { ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key } });
    expect(await reversed(s, ["client"])).toEqual(["tneilc"]);
    s.close();
  });
});

describe("a device TLS client against a node:tls server", () => {
  itOpenssl("ALPN, and 64 KiB echoed in records that fit the device's send buffer", async () => {
    const server = tls.createServer({ cert: pki.server.cert, key: pki.server.key, ALPNProtocols: ["x-cosock"] }, (c) => {
      c.on("error", () => undefined);
      c.pipe(c);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    stops.push(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as AddressInfo).port;
    const s = await device().connect("localhost", port, { tls: { ca: pki.ca.cert, alpn: ["x-cosock", "other"] } });
    expect(s.cipher()?.alpn).toBe("x-cosock");
    const payload = randomBytes(64 * 1024, 5);
    const got: Uint8Array[] = [];
    let n = 0;
    const reading = (async () => {
      while (n < payload.length) {
        const d = await s.read(5000);
        if (!d) break;
        got.push(d);
        n += d.length;
      }
    })();
    await s.write(payload);
    await reading;
    const all = new Uint8Array(n);
    let at = 0;
    for (const d of got) all.set(d, (at += d.length) - d.length);
    expect(equalBytes(all, payload)).toBe(true);
    s.close();
  });

  itOpenssl("the server's close reads as end-of-stream after its last bytes", async () => {
    const server = tls.createServer({ cert: pki.server.cert, key: pki.server.key }, (c) => {
      c.on("error", () => undefined);
      c.end("goodbye");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    stops.push(() => new Promise<void>((r) => server.close(() => r())));
    const s = await device().connect("localhost", (server.address() as AddressInfo).port, { tls: { ca: pki.ca.cert } });
    expect(decodeUtf8((await s.readExactly(7, { timeout: 5000 }))!)).toBe("goodbye");
    expect(await s.read(5000)).toBeNull();
  });
});

describe("STARTTLS and server roles on the device", () => {
  itOpenssl("upgrade(): SMTP STARTTLS to a server written with the runtime on the node host", async () => {
    const serverRt = new Runtime(nodeHost());
    runtimes.push(serverRt);
    const smtp = await startSmtpServer(serverRt, { cert: pki.server.cert, key: pki.server.key });
    const s = await device().connect("localhost", smtp.port);
    const reply = async () => {
      const lines: string[] = [];
      for (;;) {
        const l = (await s.readLine({ timeout: 5000 }))!;
        lines.push(l);
        if (/^\d{3} /.test(l)) return lines;
      }
    };
    expect((await reply())[0]).toMatch(/^220 /);
    await s.write("EHLO device\r\n");
    expect(await reply()).toContain("250 STARTTLS");
    await s.write("STARTTLS\r\n");
    expect((await reply())[0]).toMatch(/^220 /);
    await s.upgrade({ ca: pki.ca.cert });
    expect(s.secure).toBe(true);
    expect(s.trusted()).toBe(true);
    await s.write("EHLO device\r\n");
    expect(await reply()).toContain("250 8BITMIME");
    await s.write("QUIT\r\n");
    await reply();
    expect(smtp.log).toContain("tls: EHLO device");
    expect(smtp.log.find((l) => l.startsWith("upgraded"))).toMatch(/^upgraded: TLSv1\.2 /);
    s.close();
  });

  itOpenssl("no TLS server on the device: a TLS listener and a server-side upgrade fail with a clear error", async () => {
    const rt = device();
    const e = await failure(Promise.resolve().then(() => rt.bind(0, { tls: { cert: pki.server.cert, key: pki.server.key } })));
    expect(e.code).toBe("incorrectuse");
    expect(e.message).toMatch(/no TLS server on the device/);
    const l = await rt.bind(0, { intf: "127.0.0.1" });
    const other = device();
    const c = await other.connect("127.0.0.1", l.sockname()!.port);
    const u = await failure(Promise.resolve().then(() => c.upgrade({ server: true, cert: pki.server.cert, key: pki.server.key })));
    expect(u.message).toMatch(/no TLS server on the device/);
  });

  itOpenssl("TLS 1.3 only and more than one CA certificate are refused before connecting", async () => {
    const rt = device();
    const v = await failure(Promise.resolve().then(() => rt.connect("localhost", 1, { tls: { minVersion: "TLSv1.3" } })));
    expect(v.message).toMatch(/TLS 1\.2 only/);
    const two = await failure(
      Promise.resolve().then(() => rt.connect("localhost", 1, { tls: { ca: [pki.ca.cert, pki.selfSigned.cert] } })),
    );
    expect(two.message).toMatch(/one CA certificate/);
  });
});

describe("MQTT over TLS (mqtts) from the device host to mosquitto", () => {
  let broker: Broker | undefined;
  let port = 0;
  beforeAll(async () => {
    if (!pki) return; // no openssl: the test skips locally and fails under CI
    port = await freeTcpPort();
    // the broker drops to its own user: give it readable copies of the certificate and key
    const files = [pki.server.certFile, pki.server.keyFile].map((from, i) => {
      const to = join(pki.dir, `device-mosq-${i}.pem`);
      copyFileSync(from, to);
      chmodSync(to, 0o644);
      return to;
    });
    chmodSync(pki.dir, 0o755);
    broker = await Broker.start({ extra: [`listener ${port} 127.0.0.1`, "protocol mqtt", `certfile ${files[0]}`, `keyfile ${files[1]}`] });
  }, 30000);
  afterAll(async () => broker?.stop());

  itMosquitto("connect, subscribe, publish at QoS 0, 1 and 2 and receive, verified with the test CA", async () => {
    const rt = device();
    const client = quiet(
      new MqttClient(rt, {
        host: "localhost",
        port,
        transport: tlsTransport({ ca: pki.ca.cert }),
        clientId: `dev-${process.pid}`,
        protocolVersion: 5,
      }),
    );
    stops.push(() => client.close());
    const inbox = new Inbox(client);
    await client.connect();
    await client.subscribe("device/tls/#", { qos: 2 });
    for (const qos of [0, 1, 2] as const) await client.publish(`device/tls/${qos}`, `at QoS ${qos}`, { qos });
    const got = await inbox.count(3, 10000);
    expect(got.map((m) => [m.topic, decodeUtf8(m.payload)]).sort()).toEqual([
      ["device/tls/0", "at QoS 0"],
      ["device/tls/1", "at QoS 1"],
      ["device/tls/2", "at QoS 2"],
    ]);
  });
});
