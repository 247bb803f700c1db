/**
 * The Modbus TCP server against hostile and slow clients: a flood of garbage connections (the log
 * stays within `logLimit` lines per `logInterval` plus a "suppressed" summary that counts the
 * rest), more connections than `maxConnections` (reset at once), a request that trickles in
 * (`requestTimeout`), a client that sends requests and never reads the responses
 * (`requestTimeout` on the write), a silent connection (`idleTimeout`). A normal client is served
 * during and after each. Real node:net peers on 127.0.0.1 for the floods; the timeouts run on the
 * simulated network in virtual time.
 */
import { connect, type Socket as NetSocket } from "node:net";
import { Runtime, type Socket } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { SimNetwork, type LinkOptions } from "../../hosts/sim/index.js";
import { ModbusClient, ModbusServer, serverDefaults, type ModbusServerOptions } from "../../modules/modbus/index.js";
import { until } from "../support/util.js";
import { adu } from "../modbus/fake-server.js";

const REGISTERS = Array.from({ length: 200 }, (_, i) => i);
const readHolding = (tid: number, address: number, n: number) => adu(tid, 1, [3, address >> 8, address & 255, n >> 8, n & 255]);

async function served(client: ModbusClient): Promise<void> {
  expect(await client.readHoldingRegisters(10, 3)).toEqual([10, 11, 12]);
}

it("the defaults", () => {
  expect(serverDefaults).toMatchObject({ maxConnections: 8, idleTimeout: 60000, requestTimeout: 5000, logLimit: 10, logInterval: 10000 });
});

describe("Modbus server on loopback: floods", () => {
  let rt: Runtime;
  let server: ModbusServer;
  let logs: string[];
  const socks: NetSocket[] = [];

  beforeEach(() => {
    logs = [];
    rt = new Runtime(nodeHost(), { log: (m) => logs.push(`runtime: ${m}`) });
  });
  afterEach(() => {
    for (const s of socks.splice(0)) s.destroy();
    server?.close();
    rt.shutdown();
  });

  async function start(options: ModbusServerOptions = {}): Promise<ModbusServer> {
    server = await ModbusServer.listen(rt, { port: 0, holdingRegisters: REGISTERS, log: (m) => logs.push(m), ...options });
    return server;
  }

  /** A raw connection; resolves when it is closed by the server, with what it received. */
  async function raw(port: number, send?: Buffer): Promise<{ sock: NetSocket; gone: Promise<string> }> {
    const sock = connect(port, "127.0.0.1");
    socks.push(sock);
    const gone = new Promise<string>((r) => {
      sock.on("error", (e: NodeJS.ErrnoException) => r(e.code ?? "error"));
      sock.on("close", () => r("close"));
    });
    sock.on("data", () => undefined);
    await Promise.race([new Promise((r) => sock.once("connect", r)), gone]); // a refused one may be reset before "connect"
    if (send) sock.write(send);
    return { sock, gone };
  }

  it("200 connections of garbage: each closed, the log holds logLimit lines and one summary counting the rest; a client is served during and after", async () => {
    const s = await start({ logLimit: 5, logInterval: 60000 });
    const good = await ModbusClient.connect(rt, "127.0.0.1", { port: s.port });
    for (let i = 0; i < 200; i += 20) {
      const batch = await Promise.all(
        Array.from({ length: 20 }, () => raw(s.port, Buffer.from([0, 1, 0x47, 0x45, 0, 6, 1, 3, 0, 0, 0, 1]))),
      ); // protocol id 0x4745 ("GE")
      await Promise.all(batch.map((b) => b.gone));
      await served(good); // during
    }
    await until(rt, () => s.stat().protocolErrors === 200, 5000, "200 protocol errors");
    expect(logs.filter((l) => /protocol/i.test(l))).toHaveLength(5);
    expect(s.stat().logSuppressed).toBe(195);
    s.close(); // writes the summary now
    const summary = logs.filter((l) => /suppressed/.test(l));
    expect(summary).toEqual(["modbus server: 195 more log lines suppressed (at most 5 per 60000 ms)"]);
    expect(logs).toHaveLength(6);
    good.close();
  });

  it("more connections than maxConnections: the extra ones are reset at once, the slots come back, a client is served after", async () => {
    const s = await start({ maxConnections: 3, logLimit: 2, logInterval: 60000 });
    const held = await Promise.all([0, 1, 2].map(() => raw(s.port)));
    await until(rt, () => s.stat().connections === 3, 5000, "3 connections");
    const extra = await Promise.all(Array.from({ length: 30 }, () => raw(s.port)));
    const ends = await Promise.all(extra.map((e) => e.gone)); // each at once, not after idleTimeout (60 s)
    expect(new Set(ends)).toEqual(new Set(["ECONNRESET"]));
    expect(s.stat()).toMatchObject({ connections: 3, refused: 30, logSuppressed: 28 });
    expect(logs.filter((l) => /maxConnections/.test(l))).toHaveLength(2);
    for (const h of held) h.sock.destroy();
    await until(rt, () => s.stat().connections === 0, 5000, "the held slots to come back");
    const good = await ModbusClient.connect(rt, "127.0.0.1", { port: s.port });
    await served(good);
    good.close();
  });
});

describe("Modbus server on the simulated network: slow clients (virtual time)", () => {
  const SERVER = "10.0.0.1";

  async function world(options: ModbusServerOptions, link?: LinkOptions) {
    const sim = new SimNetwork({ seed: 5, link });
    const srt = new Runtime(sim.host(SERVER));
    const crt = new Runtime(sim.host("10.0.0.2"));
    const logs: string[] = [];
    const server = await ModbusServer.listen(srt, {
      port: 0,
      intf: "0.0.0.0",
      holdingRegisters: REGISTERS,
      log: (m) => logs.push(m),
      ...options,
    });
    const good = await ModbusClient.connect(crt, SERVER, { port: server.port });
    return {
      crt,
      server,
      logs,
      good,
      done() {
        server.close();
        crt.shutdown();
        srt.shutdown();
      },
    };
  }

  it("a request that trickles in, a byte a second: closed at requestTimeout, not kept alive by each byte; a client is served meanwhile", async () => {
    const w = await world({ requestTimeout: 2000, idleTimeout: 30000 });
    try {
      const slow = await w.crt.connect(SERVER, w.server.port);
      const frame = readHolding(1, 0, 1);
      const t0 = w.crt.host.now();
      let closedAt = 0;
      for (const byte of frame) {
        try {
          await slow.write(Uint8Array.of(byte));
        } catch {
          break;
        }
        const r = await slow.read(1000).catch((e: { code?: string }) => (e.code === "timeout" ? "timeout" : null));
        if (r !== "timeout") {
          closedAt = w.crt.host.now();
          break;
        }
        await served(w.good); // a normal client meanwhile
      }
      expect(closedAt).toBeGreaterThan(0);
      expect(closedAt - t0).toBeGreaterThanOrEqual(2000);
      expect(closedAt - t0).toBeLessThan(4000);
      expect(w.logs.join("\n")).toMatch(/did not complete within 2000 ms \(requestTimeout\)/);
      expect(w.server.stat()).toMatchObject({ timeouts: 1, connections: 1 });
      await served(w.good); // and after
    } finally {
      w.done();
    }
  });

  it("a client that sends requests and never reads the answers: closed at requestTimeout once its window is full", async () => {
    const w = await world({ requestTimeout: 3000, idleTimeout: 0 }, { sendBuffer: 512, recvWindow: 1024 });
    try {
      const greedy: Socket = await w.crt.connect(SERVER, w.server.port);
      const many = new Uint8Array(100 * 12);
      for (let i = 0; i < 100; i++) many.set(readHolding(i + 1, 0, 120), i * 12); // 100 × 247-byte answers
      await greedy.write(many);
      await until(w.crt, () => w.server.stat().timeouts === 1, 60000, "the server to give up on the client");
      expect(w.logs.join("\n")).toMatch(/did not take its responses within 3000 ms \(requestTimeout\)/);
      expect(w.server.stat().connections).toBe(1); // only the good client
      await served(w.good);
      greedy.close();
    } finally {
      w.done();
    }
  });

  it("a silent connection: closed at idleTimeout, never before", async () => {
    const w = await world({ idleTimeout: 20000 });
    try {
      const quiet = await w.crt.connect(SERVER, w.server.port);
      const t0 = w.crt.host.now();
      const end = await quiet.read().catch(() => "failed");
      expect(end).toBeNull(); // an orderly close
      expect(w.crt.host.now() - t0).toBeGreaterThanOrEqual(20000);
      expect(w.logs.join("\n")).toMatch(/idle for 20000 ms \(idleTimeout\)/);
      const fresh = await ModbusClient.connect(w.crt, SERVER, { port: w.server.port }); // (the first one idled out too)
      await served(fresh);
    } finally {
      w.done();
    }
  });
});
