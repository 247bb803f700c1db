/**
 * hosts/moddable itself, run under Node against an ECMA-419 emulation of Moddable's lwIP socket
 * classes (test/device/ecma419.ts) with a send buffer of one MSS (1436 bytes) and the throw on
 * over-long writes: the shared flow-control suite, the echo and proxy examples, and the places
 * where the device differs from the desktop (end-of-stream from onError, no half-close, no local
 * address, PCB exhaustion, DNS, the wrapping tick counter).
 */
import { Runtime, SocketError, type Socket } from "../../src/index.js";
import { moddableHost } from "../../hosts/moddable/index.js";
import { monotonic } from "../../hosts/moddable/clock.js";
import { flowControlSuite } from "../runtime/flow-control.cases.js";
import { example9 } from "../../examples/09-cosocket-echo.js";
import { example13 } from "../../examples/13-proxy.js";
import { listen } from "../../examples/accept-loop.js";
import { echoRoundTrip, equalBytes, joinAll, randomBytes, until } from "../support/util.js";
import { ecma419, type Emulation, type EmulationOptions } from "./ecma419.js";
import { DEVICE_MSS, moddableEnv, type DeviceEnv } from "./moddable-env.js";

/** Shared cases that test what the device platform does not have, and why. */
const NOT_ON_DEVICE: Record<string, string> = {
  "reports peername, sockname and applies socket options":
    "Moddable's ECMA-419 TCP has no local address and sets nodelay only at creation, no keepalive " +
    "(setoption returns false); covered by 'peername, sockname and options on the device' below",
};

/**
 * Runs `define` without the cases listed in NOT_ON_DEVICE (they are not registered at all, so
 * nothing is skipped: each is replaced by a device-specific test; the shared file stays as is).
 */
function withDeviceExceptions(define: () => void): void {
  const g = globalThis as unknown as { it: jest.It };
  const realIt = g.it;
  const deviceIt = ((name: string, fn?: jest.ProvidesCallback, timeout?: number) => {
    const reason = NOT_ON_DEVICE[name];
    if (reason !== undefined) return undefined;
    return realIt(name, fn, timeout);
  }) as jest.It;
  g.it = Object.assign(deviceIt, realIt);
  try {
    define();
  } finally {
    g.it = realIt;
  }
}

const emulations: Emulation[] = [];
function device(options: EmulationOptions = {}): { rt: Runtime; emu: Emulation } {
  const emu = ecma419({ sendBuffer: DEVICE_MSS, ...options });
  emulations.push(emu);
  return { rt: new Runtime(moddableHost(emu)), emu };
}

const runtimes: Runtime[] = [];
afterEach(async () => {
  for (const rt of runtimes.splice(0)) rt.shutdown();
  await new Promise((r) => setTimeout(r, 5));
  const all = emulations.splice(0);
  for (const e of all) e.shutdown();
  // The device would punish any misuse of its sockets: none may have happened.
  expect(all.flatMap((e) => e.violations)).toEqual([]);
});

describe("runtime on hosts/moddable over the ECMA-419 emulation (writable count 1436)", () => {
  let env: DeviceEnv | undefined;
  const make = () => {
    env = moddableEnv();
    emulations.push(...env.emulations);
    return env;
  };
  withDeviceExceptions(() => flowControlSuite(make));
});

describe("examples on the device host", () => {
  it("echo (example 9): 256 KiB in 10000-byte writes; no host write exceeds the writable count", async () => {
    const a = device();
    const b = device();
    runtimes.push(a.rt, b.rt);
    const echo = await example9(a.rt, 0, "127.0.0.1");
    const sock = await b.rt.connect("127.0.0.1", echo.sockname()!.port);
    const payload = randomBytes(256 * 1024, 3);
    const back = await echoRoundTrip(sock, payload, 10000);
    expect(equalBytes(back, payload)).toBe(true);
    for (const e of [a.emu, b.emu]) {
      expect(e.stats.wouldBlock).toBe(0);
      expect(e.stats.maxWrite).toBeLessThanOrEqual(DEVICE_MSS);
    }
    sock.close();
    await until(a.rt, () => a.rt.stat().activeCons === 0, 5000, "the echo side to close");
  });

  it("proxy (example 13): 256 KiB through the proxy to the echo service and back, three devices", async () => {
    const echoDev = device();
    const proxyDev = device();
    const clientDev = device();
    runtimes.push(echoDev.rt, proxyDev.rt, clientDev.rt);
    const echo = await example9(echoDev.rt, 0, "127.0.0.1");
    const proxy = await example13(proxyDev.rt, { host: "127.0.0.1", port: echo.sockname()!.port }, 0, "127.0.0.1");
    const sock = await clientDev.rt.connect("127.0.0.1", proxy.sockname()!.port);
    const payload = randomBytes(256 * 1024, 9);
    const back = await echoRoundTrip(sock, payload, 4096);
    expect(equalBytes(back, payload)).toBe(true);
    expect(proxyDev.rt.stat().totalCons).toBe(2);
    sock.close();
    await until(proxyDev.rt, () => proxyDev.rt.stat().activeCons === 0, 5000, "the proxy's connections to close");
    await until(echoDev.rt, () => echoDev.rt.stat().activeCons === 0, 5000, "the echo side to close");
    for (const e of [echoDev.emu, proxyDev.emu, clientDev.emu]) expect(e.stats.maxWrite).toBeLessThanOrEqual(DEVICE_MSS);
  });
});

/**
 * What a write ends with: undefined, or the error. (The runtime's write() may throw synchronously
 * when the host refuses the bytes, instead of rejecting; both count.)
 */
async function writeError(write: () => Promise<unknown>): Promise<unknown> {
  try {
    await write();
    return undefined;
  } catch (e) {
    return e;
  }
}

/** A connected pair: `sock` on device b, `conn` its accepted end on device a. */
async function pair(options: EmulationOptions = {}) {
  const a = device(options);
  const b = device(options);
  runtimes.push(a.rt, b.rt);
  let conn: Socket | undefined;
  const l = await listen(a.rt, 0, (s) => (conn = s), "127.0.0.1");
  const sock = await b.rt.connect("127.0.0.1", l.sockname()!.port);
  await until(a.rt, () => conn !== undefined, 5000, "accept");
  return { a, b, sock, conn: conn!, listener: l };
}

describe("the device's differences, handled by hosts/moddable", () => {
  it("the peer's orderly close (lwIP onError) reads as end-of-stream, after every byte", async () => {
    const { sock, conn } = await pair();
    await conn.write("last words");
    conn.close();
    expect(new TextDecoder().decode((await sock.readExactly(10, { timeout: 5000 }))!)).toBe("last words");
    expect(await sock.read(5000)).toBeNull();
    expect(sock.state()).not.toBe("terminated"); // end-of-stream is not a failure
    // lwIP refuses writes once the peer has closed: the writer is told, nothing is lost silently
    expect(await writeError(() => sock.write("anyone?"))).toMatchObject({ code: "socketwritefailed" });
  });

  it("close() and shutdown(): queued bytes are delivered, then end-of-stream (lwIP has no half-close)", async () => {
    const { sock, conn } = await pair();
    const payload = randomBytes(20000, 4);
    expect(sock.trywrite(payload)).toBe(true); // more than the send buffer: most of it queues
    expect(sock.queued).toBeGreaterThan(0);
    sock.shutdown();
    const got: Uint8Array[] = [];
    for (let d; (d = await conn.read(5000)); ) got.push(d);
    expect(equalBytes(joinAll(got), payload)).toBe(true);
    // after its shutdown the device side reads end-of-stream too (the platform closed the socket)
    expect(await sock.read(5000)).toBeNull();
  });

  it("bytes received before shutdown() can still be read after it", async () => {
    const { sock, conn } = await pair();
    await conn.write("arrived first");
    await until(sock.rt, () => false, 50).catch(() => undefined); // let the bytes arrive unread
    sock.shutdown();
    expect(new TextDecoder().decode((await sock.readExactly(13, { timeout: 5000 }))!)).toBe("arrived first");
    expect(await sock.read(5000)).toBeNull();
    expect(await conn.read(5000)).toBeNull(); // and the peer saw a clean close, not a reset
  });

  it("a reset reads as end-of-stream (lwIP does not tell it from a close); writes after it fail", async () => {
    const { sock, conn } = await pair();
    conn.abort(); // the peer drops the connection (here: closes with bytes unread → RST)
    await writeError(() => sock.write("x"));
    const r = await sock.read(5000).catch((e: SocketError) => e);
    expect(r === null || (r instanceof SocketError && r.code === "socketreadfailed")).toBe(true);
    expect(await writeError(() => sock.write("more"))).toBeInstanceOf(SocketError);
  });

  it("connect: refused and every lwIP PCB in use both fail with cannotconnect", async () => {
    const { rt } = device({ maxSockets: 1 });
    runtimes.push(rt);
    const a = device();
    runtimes.push(a.rt);
    const l = await a.rt.bind(0, { intf: "127.0.0.1" });
    const port = l.sockname()!.port;
    const first = await rt.connect("127.0.0.1", port); // takes the only PCB
    await expect(rt.connect("127.0.0.1", port)).rejects.toMatchObject({ code: "cannotconnect" });
    first.close();
    l.close();
    await until(rt, () => rt.stat().activeCons === 0, 5000, "first to close");
  });

  it("bind: a port in use fails with bind (lwIP throws at once; the host reports it asynchronously)", async () => {
    const { rt } = device();
    runtimes.push(rt);
    const l = await rt.bind(0);
    await expect(rt.bind(l.sockname()!.port)).rejects.toMatchObject({ code: "bind" });
  });

  it("peername, sockname and options on the device", async () => {
    const { sock, conn, listener } = await pair();
    const port = listener.sockname()!.port;
    expect(sock.peername()).toEqual({ address: "127.0.0.1", port });
    expect(conn.sockname()).toEqual({ address: "127.0.0.1", port }); // accepted: the listener's
    expect(sock.sockname()).toBeUndefined(); // connected: lwIP's ECMA-419 TCP has no local address
    expect(sock.setoption("tcp-nodelay", true)).toBe(false);
    expect(sock.setoption("keepalive", true, 1000, 500)).toBe(false);
    expect(sock.maxsize(1000)).toBe(16384);
    await conn.write(randomBytes(5000));
    expect((await sock.readExactly(5000, { timeout: 5000 }))!.length).toBe(5000);
  });

  it("DNS: names resolve through the resolver with the platform's DNS servers; unknown names fail", async () => {
    const emu = ecma419({ names: { "broker.example": "127.0.0.1" } });
    emulations.push(emu);
    const rt = new Runtime(moddableHost(emu));
    runtimes.push(rt);
    expect(await rt.toip("broker.example")).toBe("127.0.0.1");
    expect(await rt.toip("10.1.2.3")).toBe("10.1.2.3");
    expect(await rt.toip("localhost")).toBe("127.0.0.1");
    await expect(rt.toip("nowhere.example")).rejects.toMatchObject({ code: "cannotresolve" });
    expect(emu.stats.resolverServers[0]).toEqual(["10.0.0.53"]);
    const custom = new Runtime(moddableHost(emu, { dnsServers: ["192.0.2.1"] }));
    runtimes.push(custom);
    await custom.toip("broker.example");
    expect(emu.stats.resolverServers[emu.stats.resolverServers.length - 1]).toEqual(["192.0.2.1"]);
  });

  it("UDP: port 0 picks a port the host knows, so a peer can answer", async () => {
    const a = device();
    const b = device();
    runtimes.push(a.rt, b.rt);
    const server = await a.rt.udpcon({ intf: "127.0.0.1" });
    const port = server.sockname()!.port;
    expect(port).toBeGreaterThanOrEqual(49152);
    const client = await b.rt.udpcon("127.0.0.1", port);
    client.write("ping");
    const d = await server.readfrom(5000);
    expect(new TextDecoder().decode(d.data)).toBe("ping");
    await server.sendto("pong", d.address, d.port);
    expect(new TextDecoder().decode(await client.read(5000))).toBe("pong");
  });

  it("the clock stays monotonic across the tick counter's wrap", async () => {
    const emu = ecma419({ tickOffset: 40 }); // Time.ticks wraps 40 ms from now
    emulations.push(emu);
    const host = moddableHost(emu);
    const t0 = host.now();
    expect(emu.ticks()).toBeLessThan(0); // signed 32-bit, as XS integers
    await new Promise((r) => setTimeout(r, 80));
    const t1 = host.now();
    expect(emu.ticks()).toBeGreaterThanOrEqual(0); // wrapped
    expect(t1 - t0).toBeGreaterThanOrEqual(75);
    expect(t1 - t0).toBeLessThan(1000);
  });

  it("monotonic() extends a 32-bit counter: sign flip at 2^31 and wrap at 2^32", () => {
    const readings = [0x7ffffff0, 0x7fffffff, -0x80000000, -0x7ffffff0, -1, 0, 5];
    let i = 0;
    const now = monotonic(() => readings[i++]!);
    const seen = readings.map(() => now());
    for (let k = 1; k < seen.length; k++) expect(seen[k]!).toBeGreaterThanOrEqual(seen[k - 1]!);
    expect(seen[seen.length - 1]! - seen[0]!).toBe(2 ** 32 + 5 - 0x7ffffff0);
  });

  it("random bytes come from Math.random when the platform gives no source", () => {
    const host = moddableHost(device().emu);
    const a = host.randomBytes(16);
    const b = host.randomBytes(16);
    expect(a.length).toBe(16);
    expect(host.randomBytes(3).length).toBe(3);
    expect(equalBytes(a, b)).toBe(false);
  });
});
