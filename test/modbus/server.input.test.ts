/**
 * Our Modbus TCP server fed by a raw node:net client: malformed frames, frames split across
 * segments, pipelined requests, every exception the server answers, callbacks (sync, async,
 * throwing), and the connection limits. The server must answer or close with a logged reason,
 * and never crash.
 */
import { connect, type Socket as NetSocket } from "node:net";
import { Runtime } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { ModbusError, ModbusServer, type ModbusServerOptions } from "../../modules/modbus/index.js";
import { until } from "../support/util.js";
import { adu } from "./fake-server.js";

let rt: Runtime;
let server: ModbusServer | undefined;
let logs: string[];
const raws: Raw[] = [];

beforeEach(() => {
  logs = [];
  rt = new Runtime(nodeHost(), { log: (m) => logs.push(`runtime: ${m}`) });
});
afterEach(() => {
  for (const r of raws.splice(0)) r.sock.destroy();
  server?.close();
  server = undefined;
  rt.shutdown();
});

interface Frame {
  tid: number;
  unit: number;
  pdu: number[];
}

/** A raw TCP client: writes bytes, collects response frames, sees the close. */
class Raw {
  buf = Buffer.alloc(0);
  closed = false;
  constructor(readonly sock: NetSocket) {
    sock.on("data", (d) => (this.buf = Buffer.concat([this.buf, d])));
    sock.on("close", () => (this.closed = true));
    sock.on("error", () => {});
  }

  static async open(port: number): Promise<Raw> {
    const sock = connect(port, "127.0.0.1");
    await new Promise<void>((resolve, reject) => {
      sock.once("connect", resolve);
      sock.once("error", reject);
    });
    const r = new Raw(sock);
    raws.push(r);
    return r;
  }

  write(...bufs: (Buffer | number[])[]): void {
    this.sock.write(Buffer.concat(bufs.map((b) => Buffer.from(b))));
  }

  #parsed(): Frame[] {
    const out: Frame[] = [];
    let b = this.buf;
    while (b.length >= 7 && b.length >= 6 + b.readUInt16BE(4)) {
      const n = 6 + b.readUInt16BE(4);
      out.push({ tid: b.readUInt16BE(0), unit: b[6], pdu: [...b.subarray(7, n)] });
      b = b.subarray(n);
    }
    return out;
  }

  async frames(n: number): Promise<Frame[]> {
    await until(rt, () => this.#parsed().length >= n || this.closed, 5000, `${n} response frames`);
    return this.#parsed();
  }

  async closedByServer(): Promise<void> {
    await until(rt, () => this.closed, 5000, "the server to close the connection");
  }
}

/** A request ADU. */
const req = (tid: number, pdu: number[], unit = 1) => adu(tid, unit, pdu);
const readHolding = (tid: number, address: number, n: number) => req(tid, [3, address >> 8, address & 255, n >> 8, n & 255]);

async function start(options: ModbusServerOptions = {}): Promise<ModbusServer> {
  server = await ModbusServer.listen(rt, {
    port: 0,
    holdingRegisters: Array.from({ length: 200 }, (_, i) => i),
    coils: new Array<boolean>(4000).fill(false),
    log: (m) => logs.push(m),
    ...options,
  });
  return server;
}

describe("Modbus server: framing", () => {
  it("a frame split into single bytes across segments waits and is answered", async () => {
    const s = await start();
    const c = await Raw.open(s.port);
    const frame = readHolding(7, 10, 2);
    for (const byte of frame) {
      c.write([byte]);
      await new Promise((r) => setTimeout(r, 3));
    }
    expect(await c.frames(1)).toEqual([{ tid: 7, unit: 1, pdu: [3, 4, 0, 10, 0, 11] }]);
    expect(c.closed).toBe(false);
  });

  it("pipelined requests (several in one segment, one split) are answered in order", async () => {
    const s = await start();
    const c = await Raw.open(s.port);
    const third = readHolding(3, 30, 1);
    c.write(readHolding(1, 10, 1), readHolding(2, 20, 1), third.subarray(0, 4));
    await new Promise((r) => setTimeout(r, 20));
    c.write(third.subarray(4));
    const f = await c.frames(3);
    expect(f.map((x) => [x.tid, x.pdu[3]])).toEqual([
      [1, 10],
      [2, 20],
      [3, 30],
    ]);
  });

  it("pipelined requests are answered in order even when an earlier one takes longer", async () => {
    const s = await start({
      holdingRegisters: {
        read: async (address, n) => {
          await rt.sleep(address === 0 ? 60 : 1);
          return Array.from({ length: n }, (_, i) => address + i);
        },
      },
    });
    const c = await Raw.open(s.port);
    c.write(...[0, 1, 2, 3, 4].map((a) => readHolding(100 + a, a, 1)));
    const f = await c.frames(5);
    expect(f.map((x) => x.tid)).toEqual([100, 101, 102, 103, 104]);
    expect(f.map((x) => x.pdu[3])).toEqual([0, 1, 2, 3, 4]);
  });

  const garbage: [string, Buffer, RegExp][] = [
    ["a wrong protocol id", adu(1, 1, [3, 0, 0, 0, 1], 0x0001), /protocol id 0x0001 is not 0/],
    ["HTTP instead of Modbus", Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), /protocol id 0x5420 is not 0/],
    ["an MBAP length of 1 (no function code)", Buffer.from([0, 1, 0, 0, 0, 1, 1]), /MBAP length 1 is too small/],
    ["an MBAP length of 0", Buffer.from([0, 1, 0, 0, 0, 0]), /MBAP length 0 is too small/],
    ["an MBAP length of 255 (an ADU over 260 bytes)", Buffer.from([0, 1, 0, 0, 0, 255, 1, 3]), /MBAP length 255 is too big/],
    ["an MBAP length of 65535", Buffer.from([0, 1, 0, 0, 255, 255]), /MBAP length 65535 is too big/],
  ];
  for (const [what, bytes, reason] of garbage)
    it(`${what} closes the connection with a logged reason`, async () => {
      const s = await start();
      const c = await Raw.open(s.port);
      c.write(bytes);
      await c.closedByServer();
      expect(logs.join("\n")).toMatch(new RegExp(`modbus server: closing 127\\.0\\.0\\.1:\\d+: .*${reason.source}`));
      expect(s.stat().protocolErrors).toBe(1);
      expect(logs.filter((l) => l.startsWith("runtime:"))).toEqual([]); // nothing crashed
      // the server goes on serving others
      const d = await Raw.open(s.port);
      d.write(readHolding(9, 5, 1));
      expect((await d.frames(1))[0].pdu).toEqual([3, 2, 0, 5]);
    });

  it("requests before garbage in the same segment are still answered", async () => {
    const s = await start();
    const c = await Raw.open(s.port);
    c.write(readHolding(1, 1, 1), readHolding(2, 2, 1), adu(3, 1, [3, 0, 0, 0, 1], 7));
    await c.closedByServer();
    const f = await c.frames(2);
    expect(f.map((x) => x.tid)).toEqual([1, 2]);
  });

  it("the longest ADUs are taken: 259 bytes (FC16 with 123 registers) and 260 (MBAP length 254)", async () => {
    const s = await start();
    const c = await Raw.open(s.port);
    const pdu = [16, 0, 0, 0, 123, 246, ...new Array<number>(246).fill(1)];
    const longest = req(6, [...pdu, 0]); // one byte more than FC16 allows: exception 3, not a framing error
    expect(req(5, pdu).length).toBe(259);
    expect(longest.length).toBe(260);
    c.write(req(5, pdu), longest);
    const f = await c.frames(2);
    expect(f.map((x) => x.pdu)).toEqual([
      [16, 0, 0, 0, 123],
      [0x90, 3],
    ]);
    expect(c.closed).toBe(false);
  });

  it("a client closing mid-frame is logged, not a crash", async () => {
    const s = await start();
    const c = await Raw.open(s.port);
    c.write(readHolding(1, 1, 1).subarray(0, 9));
    await new Promise((r) => setTimeout(r, 20));
    c.sock.end();
    await until(rt, () => logs.some((l) => /closed the connection in the middle of a frame \(9 bytes\)/.test(l)), 5000);
    await until(rt, () => s.stat().connections === 0, 5000);
  });
});

describe("Modbus server: exceptions", () => {
  /** Sends one request PDU and returns the response PDU. */
  async function ask(pdu: number[], unit = 1): Promise<number[]> {
    const c = await Raw.open(server!.port);
    c.write(req(42, pdu, unit));
    const [f] = await c.frames(1);
    c.sock.destroy(); // one connection per question (maxConnections is 8)
    expect(f.tid).toBe(42);
    expect(f.unit).toBe(unit);
    return f.pdu;
  }

  it("exception 1 for unknown function codes, and the connection goes on", async () => {
    const s = await start();
    const c = await Raw.open(s.port);
    c.write(req(1, [0x2b, 0x0e, 1, 0]), req(2, [0x07]), req(3, [0x08, 0, 0, 0x12, 0x34]), req(4, [0x00]), readHolding(5, 9, 1));
    const f = await c.frames(5);
    expect(f.map((x) => [x.tid, ...x.pdu])).toEqual([
      [1, 0xab, 1],
      [2, 0x87, 1],
      [3, 0x88, 1],
      [4, 0x80, 1],
      [5, 3, 2, 0, 9],
    ]);
    expect(c.closed).toBe(false);
    expect(s.stat().exceptions).toBe(4);
  });

  it("exception 1 for an area that is not served or is read-only", async () => {
    await start({
      coils: undefined,
      holdingRegisters: { read: (a, n) => new Array<number>(n).fill(a) },
    });
    expect(await ask([1, 0, 0, 0, 1])).toEqual([0x81, 1]); // no coils
    expect(await ask([2, 0, 0, 0, 1])).toEqual([0x82, 1]); // no discrete inputs
    expect(await ask([3, 0, 9, 0, 2])).toEqual([3, 4, 0, 9, 0, 9]); // read callback
    expect(await ask([6, 0, 9, 0, 2])).toEqual([0x86, 1]); // no write callback
    expect(await ask([22, 0, 9, 0, 2, 0, 0])).toEqual([0x96, 1]);
  });

  it("exception 2 for addresses outside a table", async () => {
    await start();
    expect(await ask([3, 0, 199, 0, 2])).toEqual([0x83, 2]);
    expect(await ask([6, 0, 200, 0, 1])).toEqual([0x86, 2]);
    expect(await ask([16, 0, 199, 0, 2, 4, 0, 1, 0, 2])).toEqual([0x90, 2]);
    expect(await ask([5, 0x0f, 0xa0, 0xff, 0])).toEqual([0x85, 2]); // coil 4000
    expect(await ask([3, 0xff, 0xff, 0, 2])).toEqual([0x83, 2]); // passes 65535
  });

  it("exception 3 for quantities beyond the specification's limits", async () => {
    await start({ holdingRegisters: new Array<number>(65536).fill(0), coils: new Array<boolean>(65536).fill(false) });
    expect(await ask([3, 0, 0, 0, 125])).toHaveLength(2 + 250); // FC3: 125 is the most
    expect(await ask([3, 0, 0, 0, 126])).toEqual([0x83, 3]);
    expect(await ask([3, 0, 0, 0, 0])).toEqual([0x83, 3]);
    expect(await ask([4, 0, 0, 0, 126])).toEqual([0x84, 3]);
    expect((await ask([1, 0, 0, 0x07, 0xd0]))[1]).toBe(250); // FC1: 2000 coils
    expect(await ask([1, 0, 0, 0x07, 0xd1])).toEqual([0x81, 3]);
    expect(await ask([2, 0, 0, 0x07, 0xd1])).toEqual([0x82, 3]);
    expect(await ask([16, 0, 0, 0, 124, 248, ...new Array<number>(248 - 6).fill(0)])).toEqual([0x90, 3]);
    expect(await ask([15, 0, 0, 0x07, 0xb1, 247, ...new Array<number>(240).fill(0)])).toEqual([0x8f, 3]);
    expect(await ask([23, 0, 0, 0, 1, 0, 0, 0, 122, 244, ...new Array<number>(240).fill(0)])).toEqual([0x97, 3]);
  });

  it("exception 3 for byte counts and lengths that do not fit the function", async () => {
    await start();
    expect(await ask([16, 0, 0, 0, 2, 3, 0, 1, 0])).toEqual([0x90, 3]); // byte count 3 for 2 registers
    expect(await ask([16, 0, 0, 0, 2, 4, 0, 1, 0])).toEqual([0x90, 3]); // 3 data bytes for 4
    expect(await ask([15, 0, 0, 0, 9, 1, 0xff])).toEqual([0x8f, 3]); // 9 coils need 2 bytes
    expect(await ask([3, 0, 0, 0, 1, 0])).toEqual([0x83, 3]); // one byte too many
    expect(await ask([3, 0, 0, 0])).toEqual([0x83, 3]); // one byte short
    expect(await ask([6, 0, 0])).toEqual([0x86, 3]);
    expect(await ask([22, 0, 0, 0xff, 0xff])).toEqual([0x96, 3]);
    expect(await ask([5, 0, 0, 0x12, 0x34])).toEqual([0x85, 3]); // a coil is 0xFF00 or 0
  });

  it("callbacks: sync and async values, ModbusError chooses the exception, other throws are 4 and logged", async () => {
    await start({
      holdingRegisters: {
        read: (address, n) => {
          if (address === 13) throw new Error("sensor unplugged");
          if (address === 66) throw new ModbusError(6);
          if (address === 7) return [1]; // wrong count
          if (address >= 1000) throw new ModbusError(2);
          return Array.from({ length: n }, (_, i) => address * 10 + i);
        },
        write: async (address) => {
          await rt.sleep(5);
          if (address === 99) throw new Error("read-only register");
        },
      },
      discreteInputs: { read: async (_a, n) => new Array<boolean>(n).fill(true) },
    });
    expect(await ask([3, 0, 2, 0, 2])).toEqual([3, 4, 0, 20, 0, 21]);
    expect(await ask([2, 0, 0, 0, 3])).toEqual([2, 1, 7]);
    expect(await ask([3, 0, 13, 0, 1])).toEqual([0x83, 4]);
    expect(await ask([3, 0, 66, 0, 1])).toEqual([0x83, 6]);
    expect(await ask([3, 0, 7, 0, 2])).toEqual([0x83, 4]);
    expect(await ask([3, 0x03, 0xe8, 0, 1])).toEqual([0x83, 2]);
    expect(await ask([6, 0, 1, 0, 5])).toEqual([6, 0, 1, 0, 5]);
    expect(await ask([6, 0, 99, 0, 5])).toEqual([0x86, 4]);
    expect(logs.join("\n")).toMatch(/function 3 failed: sensor unplugged/);
    expect(logs.join("\n")).toMatch(/function 3 failed: a read callback returned 1 values for 2 addresses/);
    expect(logs.join("\n")).toMatch(/function 6 failed: read-only register/);
  });

  it("mask write and read/write multiple work on tables; onWrite reports writes", async () => {
    const writes: string[] = [];
    const hr = [0x12, 0, 0, 0];
    await start({ holdingRegisters: hr, onWrite: (area, a, n) => writes.push(`${area}:${a}+${n}`) });
    expect(await ask([22, 0, 0, 0, 0xf2, 0, 0x25])).toEqual([22, 0, 0, 0, 0xf2, 0, 0x25]);
    expect(hr[0]).toBe(0x17);
    expect(await ask([23, 0, 0, 0, 3, 0, 1, 0, 2, 4, 0, 7, 0, 8])).toEqual([23, 6, 0, 0x17, 0, 7, 0, 8]);
    expect(writes).toEqual(["holdingRegisters:0+1", "holdingRegisters:1+2"]);
  });

  it("unit ids not served are answered with exception 0x0B", async () => {
    await start({ unitIds: [1, 2] });
    expect(await ask([3, 0, 0, 0, 1], 2)).toEqual([3, 2, 0, 0]);
    expect(await ask([3, 0, 0, 0, 1], 3)).toEqual([0x83, 0x0b]);
  });

  it("unit id 255 (a device addressed by its IP address) is answered, by default and when listed", async () => {
    await start();
    expect(await ask([3, 0, 5, 0, 1], 255)).toEqual([3, 2, 0, 5]);
    expect(await ask([3, 0, 5, 0, 1], 0)).toEqual([3, 2, 0, 5]);
    server!.close();
    await start({ unitIds: [255] });
    expect(await ask([3, 0, 6, 0, 1], 255)).toEqual([3, 2, 0, 6]);
    expect(await ask([3, 0, 6, 0, 1], 1)).toEqual([0x83, 0x0b]);
  });

  it("unitIds outside 0..255 are refused with incorrectuse before listening", async () => {
    await expect(start({ unitIds: [1, 256] })).rejects.toMatchObject({
      code: "incorrectuse",
      message: expect.stringMatching(/unit id 256 is not 0\.\.255/),
    });
    await expect(start({ unitIds: [-1] })).rejects.toMatchObject({ code: "incorrectuse" });
    await expect(start({ unitIds: [1.5] })).rejects.toMatchObject({ code: "incorrectuse" });
    expect(rt.stat().listeners).toBe(0);
  });
});

describe("Modbus server: connection limits", () => {
  it("connections beyond maxConnections are reset at once and logged", async () => {
    const s = await start({ maxConnections: 2 });
    const a = await Raw.open(s.port);
    const b = await Raw.open(s.port);
    await until(rt, () => s.stat().connections === 2, 5000);
    const c = await Raw.open(s.port).catch((e: NodeJS.ErrnoException) => e);
    if (c instanceof Raw) await c.closedByServer();
    else expect(c.code).toBe("ECONNRESET"); // the reset came before node saw the connection up
    expect(logs.join("\n")).toMatch(/refusing 127\.0\.0\.1:\d+: 2 connections open \(maxConnections\)/);
    expect(s.stat().refused).toBe(1);
    a.write(readHolding(1, 3, 1));
    b.write(readHolding(2, 4, 1));
    expect((await a.frames(1))[0].pdu).toEqual([3, 2, 0, 3]);
    expect((await b.frames(1))[0].pdu).toEqual([3, 2, 0, 4]);
  });

  it("an idle connection is closed after idleTimeout", async () => {
    const s = await start({ idleTimeout: 80 });
    const c = await Raw.open(s.port);
    c.write(readHolding(1, 3, 1).subarray(0, 5)); // a partial frame, then nothing
    await c.closedByServer();
    expect(logs.join("\n")).toMatch(/closing 127\.0\.0\.1:\d+: idle for 80 ms/);
  });

  it("close() stops the listener and ends open connections", async () => {
    const s = await start();
    const c = await Raw.open(s.port);
    await until(rt, () => s.stat().connections === 1, 5000);
    s.close();
    await c.closedByServer();
    await expect(Raw.open(s.port)).rejects.toThrow();
    server = undefined;
  });
});
