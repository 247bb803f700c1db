/**
 * The web console on the device: the echo service (seed example 9) and the console page with its
 * statistics WebSocket (examples/web-console.ts), both served by the device's own runtime, HTTP
 * server and WebSocket, within the device heap. Open http://<device address>:<console.port>/.
 *   cd manifests/console && mcconfig -d -m -p esp32/<board> ssid=<ssid> password=<password>
 *
 * Config: "console.port" (80), "console.echo" (the echo service's port, 7), "console.rows"
 * (socket rows per statistics message, 8: a small message), "console.every" (ms between them).
 */
import config from "mc/config";
import { deviceRuntime } from "cosock/device/runtime";
import { example9 } from "cosock/examples/09-cosocket-echo";
import { webConsole } from "cosock/examples/web-console";

const c = config as Record<string, unknown>;
const port = Number(c["console.port"] ?? 80);
const echoPort = Number(c["console.echo"] ?? 7);
const rows = Number(c["console.rows"] ?? 8);
const every = Number(c["console.every"] ?? 1000);
const rt = deviceRuntime();

async function start(): Promise<void> {
  const echo = await example9(rt, echoPort, "0.0.0.0");
  trace(`cosock echo (example 9) listening on port ${echo.sockname()?.port}\n`);
  const web = await webConsole(rt, {
    port,
    intf: "0.0.0.0",
    echo: { host: "127.0.0.1", port: echo.sockname()!.port },
    rows,
    maxRows: rows,
    statEvery: every,
    sameHostOrigin: true, // the page is opened at the device's LAN address
  });
  trace(`cosock console on http://<this device>:${web.port}/\n`);
}

start().catch((e: unknown) => trace(`cosock console: ${String(e)}\n`));
