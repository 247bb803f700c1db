/**
 * Our Modbus TCP client against a real server: pymodbus (Debian) on loopback, started by the
 * tests with known data (see test/support/pymodbus-server.py). Every function code, exceptions,
 * several requests in flight, and the value helpers through a real server's registers.
 */
import { Runtime } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import {
  decodeDouble,
  decodeFloat,
  decodeString,
  encodeDouble,
  encodeFloat,
  encodeString,
  ModbusClient,
  ModbusError,
} from "../../modules/modbus/index.js";
import { itWithPymodbus, PYMODBUS_DATA as D, startPymodbus } from "../support/pymodbus.js";
import type { Peer } from "../support/peers.js";

const itPy = itWithPymodbus();
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

let server: Peer | undefined;
let rt: Runtime;
let mb: ModbusClient | undefined;

beforeAll(async () => {
  try {
    server = await startPymodbus();
  } catch (e) {
    if (process.env.CI === "true") throw e; // locally, a missing pymodbus skips the tests
  }
}, 30000);
afterAll(async () => {
  await server?.stop();
});
beforeEach(() => {
  rt = new Runtime(nodeHost());
});
afterEach(() => {
  mb?.close();
  mb = undefined;
  rt.shutdown();
});

async function client(): Promise<ModbusClient> {
  mb = await ModbusClient.connect(rt, "127.0.0.1", { port: server!.port, timeout: 2000 });
  return mb;
}

describe("Modbus client against pymodbus", () => {
  itPy("FC1 reads coils", async () => {
    const c = await client();
    expect(await c.readCoils(0, 20)).toEqual(range(0, 20).map(D.coil));
    expect(await c.readCoils(37, 11)).toEqual(range(37, 11).map(D.coil));
  });

  itPy("FC2 reads discrete inputs", async () => {
    const c = await client();
    expect(await c.readDiscreteInputs(3, 13)).toEqual(range(3, 13).map(D.discreteInput));
  });

  itPy("FC3 reads holding registers", async () => {
    const c = await client();
    expect(await c.readHoldingRegisters(0, 5)).toEqual([1000, 1001, 1002, 1003, 1004]);
    expect(await c.readHoldingRegisters(90, 10)).toEqual(range(90, 10).map(D.holding));
  });

  itPy("FC4 reads input registers", async () => {
    const c = await client();
    expect(await c.readInputRegisters(10, 3)).toEqual([2010, 2011, 2012]);
  });

  itPy("FC5 writes one coil", async () => {
    const c = await client();
    await c.writeCoil(1, true);
    await c.writeCoil(3, false);
    expect(await c.readCoils(0, 4)).toEqual([true, true, false, false]);
  });

  itPy("FC6 writes one register, negative values as two's complement", async () => {
    const c = await client();
    await c.writeRegister(20, 4242);
    await c.writeRegister(21, -2);
    expect(await c.readHoldingRegisters(20, 2)).toEqual([4242, 0xfffe]);
  });

  itPy("FC15 writes coils", async () => {
    const c = await client();
    const bits = [true, false, true, true, false, false, true, true, true, false, true];
    await c.writeCoils(60, bits);
    expect(await c.readCoils(60, bits.length)).toEqual(bits);
  });

  itPy("FC16 writes registers", async () => {
    const c = await client();
    await c.writeRegisters(40, [1, 2, 3, 65535]);
    expect(await c.readHoldingRegisters(39, 6)).toEqual([D.holding(39), 1, 2, 3, 65535, D.holding(44)]);
  });

  itPy("FC22 mask-writes a register (the specification's example: 0x12 AND 0xF2 OR 0x25 = 0x17)", async () => {
    const c = await client();
    await c.writeRegister(50, 0x12);
    await c.maskWriteRegister(50, 0x00f2, 0x0025);
    expect(await c.readHoldingRegisters(50, 1)).toEqual([0x17]);
  });

  itPy("FC23 writes then reads in one transaction", async () => {
    const c = await client();
    expect(await c.readWriteRegisters(70, 3, 71, [7, 8])).toEqual([D.holding(70), 7, 8]);
    expect(await c.readHoldingRegisters(72, 1)).toEqual([8]);
  });

  itPy("an out-of-range read is exception 2 (illegal data address) and the connection goes on", async () => {
    const c = await client();
    const e = await c.readHoldingRegisters(98, 5).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ModbusError);
    expect(e).toMatchObject({ exception: 2, exceptionName: "IllegalDataAddress", functionCode: 3 });
    await expect(c.readCoils(150, 1)).rejects.toMatchObject({ exception: 2, functionCode: 1 });
    await expect(c.writeRegister(500, 1)).rejects.toMatchObject({ exception: 2, functionCode: 6 });
    await expect(c.readInputRegisters(0, 2)).resolves.toEqual([2000, 2001]);
  });

  itPy("the unit id is sent and checked: 0..255", async () => {
    const c = await client();
    expect(await c.readInputRegisters(0, 1, { unitId: 17 })).toEqual([2000]);
    expect(await c.readInputRegisters(1, 1, { unitId: 248 })).toEqual([2001]);
    expect(await c.readInputRegisters(2, 1, { unitId: 0 })).toEqual([2002]);
    await expect(c.readInputRegisters(0, 1, { unitId: 256 })).rejects.toMatchObject({
      code: "incorrectuse",
      message: expect.stringMatching(/unit id 256 is not 0\.\.255/),
    });
    await expect(c.readInputRegisters(0, 1, { unitId: -1 })).rejects.toMatchObject({ code: "incorrectuse" });
    await expect(c.readInputRegisters(0, 1, { unitId: 2.5 })).rejects.toMatchObject({ code: "incorrectuse" });
    expect(() => new ModbusClient(rt, c.sock, { unitId: 300 })).toThrow(/unit id 300/);
  });

  itPy("unit id 255, the Modbus TCP address of a device reached by its IP address, as the client's default", async () => {
    mb = await ModbusClient.connect(rt, "127.0.0.1", { port: server!.port, unitId: 255 });
    expect(mb.unitId).toBe(255);
    expect(await mb.readHoldingRegisters(3, 2)).toEqual([D.holding(3), D.holding(4)]);
    await mb.writeRegister(90, 4242);
    expect(await mb.readHoldingRegisters(90, 1)).toEqual([4242]);
    await mb.writeRegister(90, D.holding(90)); // the server's data is shared by the file's tests
    await expect(mb.readHoldingRegisters(98, 5)).rejects.toMatchObject({ exception: 2, functionCode: 3 });
  });

  itPy("quantities beyond the protocol's limits are refused before sending", async () => {
    const c = await client();
    await expect(c.readHoldingRegisters(0, 126)).rejects.toMatchObject({ code: "incorrectuse" });
    await expect(c.readCoils(0, 2001)).rejects.toMatchObject({ code: "incorrectuse" });
    await expect(c.writeRegisters(0, new Array(124).fill(0))).rejects.toMatchObject({ code: "incorrectuse" });
    await expect(c.writeCoils(0, new Array(1969).fill(true))).rejects.toMatchObject({ code: "incorrectuse" });
    await expect(c.readHoldingRegisters(65535, 2)).rejects.toMatchObject({ code: "incorrectuse" });
    await expect(c.writeRegister(0, 70000)).rejects.toMatchObject({ code: "incorrectuse" });
    expect(c.inFlight).toBe(0);
    expect(await c.readHoldingRegisters(0, 125).catch((e: ModbusError) => e.exception)).toBe(2); // 125 > 100 here
  });

  itPy("several requests in flight on one connection are matched by transaction id", async () => {
    const c = await client();
    const reads = range(0, 12).map((i) => (i % 2 ? c.readHoldingRegisters(i * 5, 5) : c.readInputRegisters(i * 5, 5)));
    expect(c.inFlight).toBe(12);
    const got = await Promise.all(reads);
    got.forEach((regs, i) => expect(regs).toEqual(range(i * 5, 5).map(i % 2 ? D.holding : D.input)));
    expect(c.inFlight).toBe(0);
  });

  itPy("value helpers: float, double and string through real registers, in both word orders", async () => {
    const c = await client();
    await c.writeRegisters(80, [...encodeFloat(3.5, { wordOrder: "little" }), ...encodeDouble(-1234.5678), ...encodeString("cosock!", 4)]);
    const regs = await c.readHoldingRegisters(80, 10);
    expect(decodeFloat(regs, 0, { wordOrder: "little" })).toBe(3.5);
    expect(decodeDouble(regs, 2)).toBe(-1234.5678);
    expect(decodeString(regs, 6, 4)).toBe("cosock!");
  });
});
