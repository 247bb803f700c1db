/**
 * Modbus TCP server example: the device *is* the Modbus server. It serves
 *
 * - input registers 0-1: a temperature (float, high word first) read from a sensor callback,
 *   input register 2: seconds since start;
 * - holding registers 0-9: a table of settings (register 0 is the setpoint in tenths of °C);
 * - coils 0-7: a table of relays; discrete inputs 0-7: whether each relay is on and the
 *   temperature is above the setpoint (a callback computed on each read).
 *
 * Writes are printed. Returns the server; `server.close()` stops it.
 */
import type { Runtime } from "../src/index.js";
import { encodeFloat, ModbusError, ModbusServer, EXCEPTION } from "../modules/modbus/index.js";
import { print, type Log } from "./log.js";

/** A pretend sensor: 21.5 °C and a slow wave. */
export function readTemperature(rt: Runtime): number {
  return 21.5 + Math.sin(rt.host.now() / 10000);
}

export async function exampleModbusServer(rt: Runtime, port = 502, log: Log = print, intf = "127.0.0.1"): Promise<ModbusServer> {
  const started = rt.host.now();
  const settings = new Array<number>(10).fill(0);
  settings[0] = 220; // setpoint 22.0 °C
  const relays = new Array<boolean>(8).fill(false);
  const server = await ModbusServer.listen(rt, {
    port,
    intf,
    holdingRegisters: settings,
    coils: relays,
    inputRegisters: {
      read(address, quantity) {
        const regs = [...encodeFloat(readTemperature(rt)), Math.floor((rt.host.now() - started) / 1000) & 0xffff];
        if (address + quantity > regs.length) throw new ModbusError(EXCEPTION.ILLEGAL_DATA_ADDRESS);
        return regs.slice(address, address + quantity);
      },
    },
    discreteInputs: {
      read(address, quantity) {
        if (address + quantity > relays.length) throw new ModbusError(EXCEPTION.ILLEGAL_DATA_ADDRESS);
        const warm = readTemperature(rt) * 10 > settings[0];
        return relays.slice(address, address + quantity).map((on) => on && warm);
      },
    },
    onWrite(area, address, count) {
      const table = area === "coils" ? relays : settings;
      log(`modbus: ${area} ${address}..${address + count - 1} = ${table.slice(address, address + count).join(" ")}`);
    },
  });
  log(`modbus server listening on ${intf}:${server.port}`);
  return server;
}
