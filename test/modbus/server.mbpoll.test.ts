/**
 * Our Modbus TCP server with a real client: mbpoll (Debian, libmodbus inside) run by the tests
 * against the server on loopback. Checks what mbpoll prints and what our tables hold afterwards.
 */
import { execFile } from "node:child_process";
import { Runtime } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { encodeFloat, ModbusServer } from "../../modules/modbus/index.js";
import { itWithPeer } from "../support/peers.js";
import { until } from "../support/util.js";

const itMbpoll = itWithPeer("mbpoll", "apt-get install mbpoll");

let rt: Runtime;
let server: ModbusServer;
let coils: boolean[];
let inputs: boolean[];
let holding: number[];
let inputRegs: Uint16Array;
let logs: string[];

beforeEach(async () => {
  logs = [];
  rt = new Runtime(nodeHost());
  coils = Array.from({ length: 32 }, (_, i) => i % 4 === 0);
  inputs = Array.from({ length: 16 }, (_, i) => i % 3 === 0);
  holding = Array.from({ length: 64 }, (_, i) => 100 + i);
  inputRegs = Uint16Array.from({ length: 16 }, (_, i) => 500 + i * 7);
  server = await ModbusServer.listen(rt, {
    port: 0,
    intf: "127.0.0.1",
    coils,
    discreteInputs: inputs,
    holdingRegisters: holding,
    inputRegisters: inputRegs,
    log: (m) => logs.push(m),
  });
});
afterEach(() => {
  server.close();
  rt.shutdown();
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs mbpoll against our server as unit 1 (asynchronously: the server lives in this process). */
function mbpoll(...args: string[]): Promise<Run> {
  return mbpollUnit(1, ...args);
}

/** Runs mbpoll addressing `unit` (`-a`). */
function mbpollUnit(unit: number, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      "mbpoll",
      ["-m", "tcp", "-p", String(server.port), "-a", String(unit), "-0", ...args],
      { timeout: 10000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The `[ref]: value` lines mbpoll prints for a poll. */
function values(out: string): Map<number, string> {
  const m = new Map<number, string>();
  for (const line of out.split("\n")) {
    const r = /^\[(\d+)\]:\s+(\S+)/.exec(line);
    if (r) m.set(Number(r[1]), r[2]);
  }
  return m;
}

describe("Modbus server with mbpoll as the client", () => {
  itMbpoll("FC3: reads holding registers", async () => {
    const r = await mbpoll("-t", "4", "-r", "0", "-c", "5", "-1", "127.0.0.1");
    expect(r.code).toBe(0);
    expect([...values(r.stdout)]).toEqual([
      [0, "100"],
      [1, "101"],
      [2, "102"],
      [3, "103"],
      [4, "104"],
    ]);
    expect(server.stat().functions[3]).toBe(1);
  });

  itMbpoll("unit id 255 (a device addressed by its IP address) is answered, for reads and writes", async () => {
    let r = await mbpollUnit(255, "-t", "4", "-r", "3", "-c", "2", "-1", "127.0.0.1");
    expect(r.code).toBe(0);
    expect([...values(r.stdout)]).toEqual([
      [3, "103"],
      [4, "104"],
    ]);
    r = await mbpollUnit(255, "-t", "4", "-r", "40", "127.0.0.1", "4321");
    expect(r.code).toBe(0);
    expect(holding[40]).toBe(4321);
    expect(server.stat()).toMatchObject({ requests: 2, exceptions: 0 });
  });

  itMbpoll("FC4: reads input registers", async () => {
    const r = await mbpoll("-t", "3", "-r", "2", "-c", "4", "-1", "127.0.0.1");
    expect(r.code).toBe(0);
    expect([...values(r.stdout).values()]).toEqual(["514", "521", "528", "535"]);
    expect(server.stat().functions[4]).toBe(1);
  });

  itMbpoll("FC2: reads discrete inputs", async () => {
    const r = await mbpoll("-t", "1", "-r", "0", "-c", "10", "-1", "127.0.0.1");
    expect(r.code).toBe(0);
    expect([...values(r.stdout).values()]).toEqual(inputs.slice(0, 10).map((b) => (b ? "1" : "0")));
    expect(server.stat().functions[2]).toBe(1);
  });

  itMbpoll("FC5 then FC1: sets a coil and reads the coils back", async () => {
    let r = await mbpoll("-t", "0", "-r", "3", "127.0.0.1", "1");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Written 1 references/);
    expect(coils[3]).toBe(true);
    expect(server.stat().functions[5]).toBe(1);
    r = await mbpoll("-t", "0", "-r", "0", "-c", "8", "-1", "127.0.0.1");
    expect(r.code).toBe(0);
    expect([...values(r.stdout).values()]).toEqual(["1", "0", "0", "1", "1", "0", "0", "0"]);
    expect(server.stat().functions[1]).toBe(1);
  });

  itMbpoll("FC15: sets several coils", async () => {
    const r = await mbpoll("-t", "0", "-r", "9", "127.0.0.1", "1", "1", "0", "1");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Written 4 references/);
    expect(coils.slice(9, 13)).toEqual([true, true, false, true]);
    expect(server.stat().functions[15]).toBe(1);
  });

  itMbpoll("FC16: writes registers", async () => {
    const r = await mbpoll("-t", "4", "-r", "10", "127.0.0.1", "111", "222", "333");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Written 3 references/);
    expect(holding.slice(9, 14)).toEqual([109, 111, 222, 333, 113]);
    expect(server.stat().functions[16]).toBe(1);
  });

  itMbpoll("FC6: writes one register", async () => {
    const r = await mbpoll("-t", "4", "-r", "20", "127.0.0.1", "65535");
    expect(r.code).toBe(0);
    expect(holding[20]).toBe(65535);
    expect(server.stat().functions[6]).toBe(1);
  });

  itMbpoll("floats in our registers read by mbpoll in both word orders (its default and -B)", async () => {
    holding.splice(30, 2, ...encodeFloat(2.25, { wordOrder: "little" }));
    holding.splice(32, 2, ...encodeFloat(-1.5, { wordOrder: "big" }));
    let r = await mbpoll("-t", "4:float", "-r", "30", "-c", "1", "-1", "127.0.0.1");
    expect(values(r.stdout).get(30)).toBe("2.25");
    r = await mbpoll("-t", "4:float", "-B", "-r", "32", "-c", "1", "-1", "127.0.0.1");
    expect(values(r.stdout).get(32)).toBe("-1.5");
  });

  itMbpoll("reads past a table are refused with exception 2, which mbpoll reports", async () => {
    let r = await mbpoll("-t", "3", "-r", "14", "-c", "5", "-1", "127.0.0.1");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Illegal data address/);
    r = await mbpoll("-t", "0", "-r", "40", "127.0.0.1", "1");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Illegal data address/);
    expect(server.stat().exceptions).toBe(2);
    await until(rt, () => server.stat().connections === 0, 5000, "mbpoll's connections to close");
  });
});
