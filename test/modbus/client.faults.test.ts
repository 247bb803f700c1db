/**
 * The Modbus client against a scripted node:net server: timeouts that leave the connection
 * usable, late and reordered responses matched by transaction id, malformed responses, a server
 * that closes, and the in-flight limit.
 */
import { Runtime, SocketError } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { ModbusClient, ModbusError, ModbusFrameError } from "../../modules/modbus/index.js";
import { until } from "../support/util.js";
import { adu, registersPdu, startFakeServer, type FakeServer, type RawRequest } from "./fake-server.js";

let rt: Runtime;
let fake: FakeServer | undefined;
let mb: ModbusClient | undefined;
let logs: string[];

beforeEach(() => {
  logs = [];
  rt = new Runtime(nodeHost(), { log: (m) => logs.push(m) });
});
afterEach(async () => {
  mb?.close();
  mb = undefined;
  rt.shutdown();
  await fake?.stop();
  fake = undefined;
});

/** Answers a read of holding registers with `address + i` for register i. */
function echoRead(r: RawRequest): Buffer {
  const address = r.pdu.readUInt16BE(1);
  const n = r.pdu.readUInt16BE(3);
  return adu(
    r.tid,
    r.unit,
    registersPdu(
      r.pdu[0],
      Array.from({ length: n }, (_, i) => address + i),
    ),
  );
}

async function setup(handler: (r: RawRequest) => void, options: { timeout?: number; maxInFlight?: number } = {}) {
  fake = await startFakeServer(handler);
  mb = await ModbusClient.connect(rt, "127.0.0.1", { port: fake.port, ...options });
  return mb;
}

describe("Modbus client faults", () => {
  it("a timeout throws `timeout`, the connection stays usable and the late response is discarded", async () => {
    let first = true;
    const c = await setup(
      (r) => {
        if (first) {
          first = false;
          setTimeout(() => r.conn.write(echoRead(r)), 250); // answers after the client gave up
        } else r.conn.write(echoRead(r));
      },
      { timeout: 100 },
    );
    const t0 = Date.now();
    const e = await c.readHoldingRegisters(10, 2).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SocketError);
    expect(e).toMatchObject({ code: "timeout" });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    expect(c.inFlight).toBe(0);
    expect(await c.readHoldingRegisters(20, 2)).toEqual([20, 21]);
    await until(rt, () => c.discarded === 1, 2000, "the late response");
    expect(await c.readHoldingRegisters(30, 1, { timeout: 1000 })).toEqual([30]);
    expect(c.closed).toBe(false);
  });

  it("responses in reverse order are matched to their requests by transaction id", async () => {
    const held: RawRequest[] = [];
    const c = await setup((r) => {
      held.push(r);
      if (held.length === 5) for (const h of held.reverse()) h.conn.write(echoRead(h));
    });
    const got = await Promise.all([0, 10, 20, 30, 40].map((a) => c.readHoldingRegisters(a, 3)));
    expect(got).toEqual([0, 10, 20, 30, 40].map((a) => [a, a + 1, a + 2]));
    const tids = fake!.requests.map((r) => r.tid);
    expect(new Set(tids).size).toBe(5);
  });

  it("responses coalesced into one segment and split across segments are all taken", async () => {
    const held: RawRequest[] = [];
    const c = await setup((r) => {
      held.push(r);
      if (held.length < 3) return;
      const all = Buffer.concat(held.map(echoRead));
      // first 1.5 responses in one write, then the rest byte by byte
      const cut = Math.floor(all.length / 2);
      r.conn.write(all.subarray(0, cut));
      let i = cut;
      const drip = setInterval(() => {
        if (i >= all.length) return clearInterval(drip);
        r.conn.write(all.subarray(i, ++i));
      }, 2);
    });
    const got = await Promise.all([1, 2, 3].map((a) => c.readHoldingRegisters(a * 100, 4)));
    expect(got.map((g) => g[0])).toEqual([100, 200, 300]);
  });

  it("an exception response throws ModbusError with its code and name", async () => {
    const c = await setup((r) => r.conn.write(adu(r.tid, r.unit, [r.pdu[0] | 0x80, 0x06])));
    const e = (await c.writeRegister(1, 2).catch((x: unknown) => x)) as ModbusError;
    expect(e).toBeInstanceOf(ModbusError);
    expect(e.exception).toBe(6);
    expect(e.exceptionName).toBe("ServerDeviceBusy");
    expect(e.message).toMatch(/exception 6 \(ServerDeviceBusy\) to function 6/);
  });

  it("a response that does not fit its request fails that request only", async () => {
    let n = 0;
    const c = await setup((r) => {
      n++;
      if (n === 1)
        r.conn.write(adu(r.tid, r.unit, [3, 4, 0, 1])); // byte count 4, 2 bytes of data
      else if (n === 2)
        r.conn.write(adu(r.tid, 9, registersPdu(3, [1]))); // wrong unit id
      else if (n === 3)
        r.conn.write(adu(r.tid, r.unit, [6, 0, 9, 0, 1])); // echo of another address
      else r.conn.write(echoRead(r));
    });
    await expect(c.readHoldingRegisters(0, 2)).rejects.toThrow(ModbusFrameError);
    await expect(c.readHoldingRegisters(0, 1)).rejects.toThrow(/unit 9/);
    await expect(c.writeRegister(1, 1)).rejects.toThrow(/address 9, expected 1/);
    expect(await c.readHoldingRegisters(5, 1)).toEqual([5]);
  });

  it("a stream that is not Modbus ends the connection: waiting requests fail, later ones too", async () => {
    const c = await setup((r) => r.conn.write(adu(r.tid, r.unit, registersPdu(3, [1]), 0x1234)));
    const e = await c.readHoldingRegisters(0, 1).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ModbusFrameError);
    expect((e as Error).message).toMatch(/protocol id 0x1234/);
    expect(c.closed).toBe(true);
    await expect(c.readHoldingRegisters(0, 1)).rejects.toThrow(/protocol id/);
    expect(logs.join("\n")).toMatch(/modbus client: closing the connection .*protocol id 0x1234/);
  });

  it("the server closing fails the waiting requests with socketclosed", async () => {
    const c = await setup((r) => r.conn.end());
    await expect(c.readHoldingRegisters(0, 1)).rejects.toMatchObject({ code: "socketclosed" });
    await expect(c.readCoils(0, 1)).rejects.toMatchObject({ code: "socketclosed" });
  });

  it("close() fails the waiting requests at once", async () => {
    const c = await setup(() => {});
    const p = c.readHoldingRegisters(0, 1);
    c.close();
    await expect(p).rejects.toMatchObject({ code: "socketclosed" });
  });

  it("beyond maxInFlight, requests wait their turn; their timeout runs while they wait", async () => {
    const held: RawRequest[] = [];
    const c = await setup((r) => held.push(r), { maxInFlight: 2, timeout: 300 });
    const ps = [0, 1, 2, 3].map((a) => c.readHoldingRegisters(a, 1).catch((e: Error) => e));
    expect(c.inFlight).toBe(2);
    expect(c.queued).toBe(2);
    await until(rt, () => held.length === 2, 2000, "two requests");
    held[0].conn.write(echoRead(held[0])); // frees a place: the third goes out
    await until(rt, () => held.length === 3, 2000, "the third request");
    held[1].conn.write(echoRead(held[1]));
    held[2].conn.write(echoRead(held[2]));
    const got = await Promise.all(ps);
    expect(got.slice(0, 3)).toEqual([[0], [1], [2]]);
    expect(got[3]).toMatchObject({ code: "timeout" }); // sent, never answered
    expect(held.length).toBe(4);
  });
});
