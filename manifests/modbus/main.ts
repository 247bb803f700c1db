/**
 * A Modbus TCP server on the device (modules/modbus): the device *is* the Modbus server, serving
 * its coils and registers to a PLC or SCADA client. Port: config "modbus.port" (502).
 *   cd manifests/modbus && mcconfig -d -m -p esp32/<board> ssid=<ssid> password=<password>
 */
import config from "mc/config";
import { deviceRuntime } from "cosock/device/runtime";
import { exampleModbusServer } from "cosock/examples/modbus-server";

const port = Number((config as Record<string, unknown>)["modbus.port"] ?? 502);
const rt = deviceRuntime();

exampleModbusServer(rt, port, (line) => trace(line + "\n"), "0.0.0.0").then(
  (server) => trace(`cosock modbus server listening on port ${server.port}\n`),
  (e: unknown) => trace(`cosock modbus: ${String(e)}\n`),
);
