/**
 * Modbus TCP client example, for the device of modbus-server.ts: reads the temperature (a float
 * in two input registers), changes the setpoint, switches a relay, and reads several things at
 * once (requests in flight together, matched by transaction id). Prints what it does and returns
 * what it read.
 */
import type { Runtime } from "../src/index.js";
import { decodeFloat, ModbusClient, ModbusError } from "../modules/modbus/index.js";
import { print, type Log } from "./log.js";

export interface ClientReport {
  temperature: number;
  setpoint: number;
  relays: boolean[];
  uptime: number;
  /** The exception code the device answered to a read past its registers. */
  exception: number;
}

export async function exampleModbusClient(rt: Runtime, host: string, port = 502, log: Log = print): Promise<ClientReport> {
  const mb = await ModbusClient.connect(rt, host, { port, unitId: 1, timeout: 3000 });
  try {
    const temperature = decodeFloat(await mb.readInputRegisters(0, 2));
    log(`temperature: ${temperature.toFixed(2)} °C`);

    await mb.writeRegister(0, 215); // setpoint 21.5 °C
    await mb.writeCoil(2, true);

    // three requests in flight at once
    const [settings, relays, [uptime]] = await Promise.all([
      mb.readHoldingRegisters(0, 1),
      mb.readCoils(0, 8),
      mb.readInputRegisters(2, 1),
    ]);
    log(`setpoint: ${settings[0] / 10} °C, relays: ${relays.map((r) => (r ? 1 : 0)).join("")}, up ${uptime} s`);

    let exception = 0;
    try {
      await mb.readInputRegisters(0, 10);
    } catch (e) {
      if (!(e instanceof ModbusError)) throw e;
      exception = e.exception;
      log(`reading 10 input registers: exception ${e.exception} (${e.exceptionName})`);
    }
    return { temperature, setpoint: settings[0], relays, uptime, exception };
  } finally {
    mb.close();
  }
}
