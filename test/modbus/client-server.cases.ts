/**
 * Our Modbus client against our Modbus server, as a suite run on real loopback sockets
 * (client-server.node.test.ts) and on the simulated network (client-server.sim.test.ts, also on
 * XS): the same code path the device runs.
 */
import { SocketError } from "../../src/index.js";
import { decodeFloat, encodeFloat, ModbusClient, ModbusError, ModbusServer } from "../../modules/modbus/index.js";
import type { Env } from "../support/env.js";

export function clientServerSuite(make: () => Env): void {
  let env: Env;
  let server: ModbusServer;
  let mb: ModbusClient;
  let coils: boolean[];
  let holding: number[];
  let slowReads: number;

  beforeEach(async () => {
    env = make();
    coils = new Array<boolean>(3000).fill(false);
    holding = Array.from({ length: 1000 }, (_, i) => i);
    slowReads = 0;
    server = await ModbusServer.listen(env.server, {
      port: 0,
      intf: env.address,
      coils,
      discreteInputs: { read: (a, n) => Array.from({ length: n }, (_, i) => (a + i) % 2 === 1) },
      holdingRegisters: holding,
      inputRegisters: {
        read: async (a, n) => {
          slowReads++;
          await env.server.sleep(20);
          return Array.from({ length: n }, (_, i) => 40000 + a + i);
        },
      },
      log: () => {},
    });
    mb = await ModbusClient.connect(env.client, env.address, { port: server.port, timeout: 1000 });
  });
  afterEach(async () => {
    mb.close();
    server.close();
    await env.done();
  });

  it("every function code", async () => {
    await mb.writeCoil(5, true);
    await mb.writeCoils(2000, [true, true, false, true]);
    expect(await mb.readCoils(4, 3)).toEqual([false, true, false]);
    expect(await mb.readCoils(2000, 4)).toEqual([true, true, false, true]);
    expect(await mb.readDiscreteInputs(0, 4)).toEqual([false, true, false, true]);
    await mb.writeRegister(10, 0xabcd);
    await mb.writeRegisters(20, [1, 2, 3]);
    await mb.maskWriteRegister(10, 0xff00, 0x0012);
    expect(await mb.readHoldingRegisters(10, 1)).toEqual([0xab12]);
    expect(await mb.readWriteRegisters(19, 5, 23, [4, 5])).toEqual([19, 1, 2, 3, 4]);
    expect(await mb.readInputRegisters(7, 2)).toEqual([40007, 40008]);
    expect(holding.slice(20, 25)).toEqual([1, 2, 3, 4, 5]);
  });

  it("the largest reads and writes the protocol allows", async () => {
    const regs = Array.from({ length: 123 }, (_, i) => 60000 + i);
    await mb.writeRegisters(500, regs);
    expect(await mb.readHoldingRegisters(500, 125)).toEqual([...regs, 623, 624]);
    const bits = Array.from({ length: 1968 }, (_, i) => i % 5 === 0);
    await mb.writeCoils(1, bits);
    expect(await mb.readCoils(1, 1968)).toEqual(bits);
    expect(await mb.readDiscreteInputs(0, 2000)).toHaveLength(2000);
  });

  it("many requests in flight, answered in order by the server, matched by the client", async () => {
    const reads = Array.from({ length: 40 }, (_, i) => (i % 4 === 0 ? mb.readInputRegisters(i, 1) : mb.readHoldingRegisters(i * 10, 3)));
    const got = await Promise.all(reads);
    got.forEach((r, i) => expect(r).toEqual(i % 4 === 0 ? [40000 + i] : [i * 10, i * 10 + 1, i * 10 + 2]));
    expect(slowReads).toBe(10);
    expect(server.stat().requests).toBe(40);
  });

  it("exceptions and a timeout leave the connection usable", async () => {
    await expect(mb.readHoldingRegisters(999, 2)).rejects.toMatchObject({ exception: 2 });
    await expect(mb.readInputRegisters(0, 1, { timeout: 5 })).rejects.toThrow(SocketError);
    await expect(mb.readHoldingRegisters(1, 1)).resolves.toEqual([1]);
    await env.client.sleep(50);
    expect(mb.discarded).toBe(1); // the late answer to the timed-out read
    const e = await mb.readCoils(2999, 2).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ModbusError);
  });

  it("floats written by the client are in the server's table", async () => {
    await mb.writeRegisters(100, encodeFloat(-273.15, { wordOrder: "little" }));
    expect(decodeFloat(holding, 100, { wordOrder: "little" })).toBeCloseTo(-273.15, 4);
  });
}
