/**
 * The cosocket proxy (seed example 13) on the device, in front of the echo service (example 9)
 * on the same device, or of config "proxy.target" ("host:port") when set.
 * Ports: config "proxy.port" (8080), "echo.port" (7). Each proxied connection uses 3 of the
 * 8 lwIP TCP PCBs when the target is the local echo service (2 otherwise).
 *   cd manifests/proxy && mcconfig -d -m -p esp32/<board> ssid=<ssid> password=<password> [proxy.target=host:port]
 */
import config from "mc/config";
import { deviceRuntime } from "cosock/device/runtime";
import { example9 } from "cosock/examples/09-cosocket-echo";
import { example13 } from "cosock/examples/13-proxy";

const settings = config as Record<string, unknown>;
const echoPort = Number(settings["echo.port"] ?? 7);
const proxyPort = Number(settings["proxy.port"] ?? 8080);
const target = String(settings["proxy.target"] ?? "");
const rt = deviceRuntime();

async function main(): Promise<void> {
  let host = "127.0.0.1";
  let port = echoPort;
  if (target) {
    const colon = target.lastIndexOf(":");
    host = target.slice(0, colon);
    port = Number(target.slice(colon + 1));
  } else {
    await example9(rt, echoPort, "0.0.0.0");
    trace(`cosock echo (example 9) listening on port ${echoPort}\n`);
  }
  const proxy = await example13(rt, { host, port }, proxyPort, "0.0.0.0");
  trace(`cosock proxy (example 13) listening on port ${proxy.sockname()?.port} -> ${host}:${port}\n`);
}

main().catch((e: unknown) => trace(`cosock proxy: ${String(e)}\n`));
