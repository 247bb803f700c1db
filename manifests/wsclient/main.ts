/**
 * A WebSocket client on the device (examples/ws-client.ts over `wsConnect`, with the device's
 * WebSocket limits): connects to config "ws.url", sends a text message every "ws.interval" ms,
 * prints what comes back, and connects again "ws.retry" ms after a close or an error.
 * The default URL is a desktop on the LAN running example 5's echo server
 * (`npx tsx examples/05-websocket-server.ts --port 8080`); set yours on the command line.
 * `wss:` goes over the device's TLS client (TLS 1.2, Moddable's TLSSocket): it trusts the CA in
 * config "ws.ca" (one PEM certificate; spaces may stand for its line breaks) and the CA
 * certificates built into the app as resources; empty "ws.ca": only those.
 *   cd manifests/wsclient && mcconfig -d -m -p esp32/<board> ssid=<ssid> password=<password> ws.url=ws://<desktop-ip>:8080/ws
 */
import config from "mc/config";
import { deviceConfig, deviceRuntime } from "cosock/device/runtime";
import { wsClientApp } from "cosock/examples/ws-client";

const settings = config as Record<string, unknown>;
const url = String(settings["ws.url"] ?? "ws://192.168.1.20:8080/ws");
const interval = Number(settings["ws.interval"] ?? 5000);
const retryDelay = Number(settings["ws.retry"] ?? 5000);
const ca = String(settings["ws.ca"] ?? "");
const rt = deviceRuntime();

const tls = ca ? { ca } : undefined;
const app = wsClientApp(rt, { ...deviceConfig().ws, url, interval, retryDelay, tls }, (line) => trace(line + "\n"));
app.done.catch((e: unknown) => trace(`cosock wsclient: ${String(e)}\n`));
