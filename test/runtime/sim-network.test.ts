/**
 * Runtime behaviour that needs the simulated network: slow, lossy, tiny-window links, resets,
 * half-close, a silent link, and reproducibility.
 */
import { Runtime, type SocketError, type Socket } from "../../src/index.js";
import { SimNetwork, type LinkOptions } from "../../hosts/sim/index.js";
import { example9 } from "../../examples/09-cosocket-echo.js";
import { example13 } from "../../examples/13-proxy.js";
import { listen } from "../../examples/accept-loop.js";
import { echoRoundTrip, equalBytes, joinAll, randomBytes, until } from "../support/util.js";

const BAD_LINK: LinkOptions = { latency: 5, jitter: 3, bandwidth: 200, sendBuffer: 512, recvWindow: 1024, loss: 0.02, rto: 50 };

/** 1 MiB through the proxy (10.0.0.1) to the echo service (10.0.0.3) and back, over bad links. */
async function proxyRun(seed: number, size: number) {
  const sim = new SimNetwork({ seed, link: BAD_LINK });
  const echoRt = new Runtime(sim.host("10.0.0.3"));
  const proxyRt = new Runtime(sim.host("10.0.0.1"));
  const clientRt = new Runtime(sim.host("10.0.0.2"));
  const echo = await example9(echoRt, 7, "10.0.0.3");
  const proxy = await example13(proxyRt, { host: "10.0.0.3", port: echo.sockname()!.port }, 8080, "10.0.0.1");
  const sock = await clientRt.connect("10.0.0.1", proxy.sockname()!.port);
  const payload = randomBytes(size, seed);
  const back = await echoRoundTrip(sock, payload, 4096);
  const result = {
    identical: equalBytes(back, payload),
    elapsed: sim.now,
    stats: sim.stats(),
    proxyStat: proxyRt.stat(),
  };
  sock.close();
  await until(proxyRt, () => proxyRt.stat().activeCons === 0, 60000, "proxy connections to close");
  for (const rt of [echoRt, proxyRt, clientRt]) rt.shutdown();
  return result;
}

describe("simulated network", () => {
  it("carries 1 MiB of random bytes through the proxy over a lossy, slow, tiny-window link byte-identical", async () => {
    const r = await proxyRun(42, 1 << 20);
    expect(r.identical).toBe(true);
    expect(r.stats.lostSegments).toBeGreaterThan(0); // the link really lost segments
    expect(r.elapsed).toBeGreaterThan((1 << 20) / BAD_LINK.bandwidth!); // and really was slow
    expect(r.proxyStat.totalCons).toBe(2);
  });

  it("is reproducible: the same seed gives the same run, another seed a different one", async () => {
    const a = await proxyRun(7, 64 * 1024);
    const b = await proxyRun(7, 64 * 1024);
    const c = await proxyRun(8, 64 * 1024);
    expect(a.identical && b.identical && c.identical).toBe(true);
    expect(b.elapsed).toBe(a.elapsed);
    expect(b.stats).toEqual(a.stats);
    expect(c.stats).not.toEqual(a.stats);
  });

  async function pair(link: LinkOptions = { latency: 1 }) {
    const sim = new SimNetwork({ seed: 3, link });
    const server = new Runtime(sim.host("10.0.0.1"));
    const client = new Runtime(sim.host("10.0.0.2"));
    let conn: Socket | undefined;
    const l = await listen(server, 80, (s) => (conn = s), "10.0.0.1");
    const sock = await client.connect("10.0.0.1", l.sockname()!.port);
    await until(server, () => conn !== undefined, 1000, "accept");
    return { sim, server, client, sock, conn: conn! };
  }

  it("a reset mid-stream fails the reader with socketreadfailed and suspended writers with socketwritefailed", async () => {
    const { sim, client, sock } = await pair({ latency: 1, sendBuffer: 1024, recvWindow: 2048 });
    sim.connections()[0].resetAfter(1500, "toServer"); // below the receive window: the bytes do cross
    let writeError: unknown;
    let readError: unknown;
    client.event(async () => {
      try {
        for (;;) await sock.write(randomBytes(1000));
      } catch (e) {
        writeError = e;
      }
    });
    sock.read().catch((e) => (readError = e));
    await until(client, () => writeError !== undefined && readError !== undefined, 10000, "failures");
    expect((writeError as SocketError).code).toBe("socketwritefailed");
    expect((readError as SocketError).code).toBe("socketreadfailed");
    expect(sock.state()).toBe("terminated");
    expect(client.stat().activeCons).toBe(0);
    expect(sock.close()).toBe(true);
  });

  it("after the peer's half-close, reads return null and writes still reach the peer", async () => {
    const { server, sock, conn } = await pair();
    await conn.write("bye");
    conn.shutdown();
    expect(new TextDecoder().decode((await sock.read())!)).toBe("bye");
    expect(await sock.read()).toBeNull();
    await sock.write("still here");
    expect(new TextDecoder().decode((await conn.read())!)).toBe("still here");
    sock.close();
    expect(await conn.read()).toBeNull();
    server.shutdown();
  });

  it("a silent link makes a read time out and the socket stays usable once the link returns", async () => {
    const { sim, sock, conn } = await pair();
    const c = sim.connections()[0];
    c.stall(true);
    await conn.write("delayed");
    await expect(sock.read(500)).rejects.toMatchObject({ code: "timeout" });
    c.stall(false);
    expect(new TextDecoder().decode((await sock.read(500))!)).toBe("delayed");
  });

  it("connect to an address nobody has fails with cannotconnect after the connect timeout", async () => {
    const sim = new SimNetwork({ seed: 1 });
    const client = new Runtime(sim.host("10.0.0.2"), { connectTimeout: 1000 });
    const t0 = sim.now;
    await expect(client.connect("10.9.9.9", 80)).rejects.toMatchObject({ code: "cannotconnect" });
    expect(sim.now - t0).toBeGreaterThanOrEqual(1000);
  });

  it("close() still delivers bytes already accepted from non-suspending writers", async () => {
    const { sim, server, client, sock, conn } = await pair({ latency: 2, sendBuffer: 512, recvWindow: 1024 });
    const payload = randomBytes(8000, 5);
    expect(sock.trywrite(payload)).toBe(true);
    expect(sock.queued).toBeGreaterThan(0);
    sock.close();
    const got: Uint8Array[] = [];
    for (let d; (d = await conn.read()); ) got.push(d);
    expect(equalBytes(joinAll(got), payload)).toBe(true);
    conn.close();
    await until(client, () => sim.connections().length === 0, 5000, "connection gone");
    server.shutdown();
  });
});
