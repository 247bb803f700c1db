/**
 * The cosocket echo service (seed example 9) on the device. Port: config "echo.port" (7).
 *   cd manifests/echo && mcconfig -d -m -p esp32/<board> ssid=<ssid> password=<password>
 */
import config from "mc/config";
import { deviceRuntime } from "cosock/device/runtime";
import { example9 } from "cosock/examples/09-cosocket-echo";

const port = Number((config as Record<string, unknown>)["echo.port"] ?? 7);
const rt = deviceRuntime();

example9(rt, port, "0.0.0.0").then(
  (listener) => trace(`cosock echo (example 9) listening on port ${listener.sockname()?.port}\n`),
  (e: unknown) => trace(`cosock echo: ${String(e)}\n`),
);
