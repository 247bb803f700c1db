/**
 * The Modbus examples as programs on real loopback sockets: the example server with the example
 * client, and with mbpoll reading its temperature.
 */
import { execFile } from "node:child_process";
import { Runtime } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { exampleModbusServer } from "../../examples/modbus-server.js";
import { exampleModbusClient } from "../../examples/modbus-client.js";
import type { ModbusServer } from "../../modules/modbus/index.js";
import { itWithPeer } from "../support/peers.js";

let rt: Runtime;
let server: ModbusServer;
let lines: string[];

beforeEach(async () => {
  rt = new Runtime(nodeHost());
  lines = [];
  server = await exampleModbusServer(rt, 0, (l) => lines.push(l));
});
afterEach(() => {
  server.close();
  rt.shutdown();
});

describe("Modbus examples", () => {
  it("the example client reads, writes and meets an exception on the example server", async () => {
    const r = await exampleModbusClient(rt, "127.0.0.1", server.port, (l) => lines.push(l));
    expect(r.temperature).toBeGreaterThan(20);
    expect(r.temperature).toBeLessThan(23);
    expect(r.setpoint).toBe(215);
    expect(r.relays).toEqual([false, false, true, false, false, false, false, false]);
    expect(r.exception).toBe(2);
    expect(lines[0]).toMatch(/^modbus server listening on 127\.0\.0\.1:\d+$/);
    expect(lines).toContain("modbus: holdingRegisters 0..0 = 215");
    expect(lines).toContain("modbus: coils 2..2 = true");
    expect(lines.join("\n")).toMatch(/setpoint: 21\.5 °C, relays: 00100000, up \d+ s/);
    expect(lines.join("\n")).toMatch(/exception 2 \(IllegalDataAddress\)/);
  });

  itWithPeer("mbpoll", "apt-get install mbpoll")("mbpoll reads the example server's temperature as a float", async () => {
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        "mbpoll",
        ["-m", "tcp", "-p", String(server.port), "-a", "1", "-0", "-t", "3:float", "-B", "-r", "0", "-c", "1", "-1", "127.0.0.1"],
        { timeout: 10000 },
        (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
      ),
    );
    const m = /^\[0\]:\s+(\S+)/m.exec(out);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(20);
    expect(Number(m![1])).toBeLessThan(23);
  });
});
