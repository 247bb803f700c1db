/**
 * The SNTP client (modules/ntp) on the device: time, offset and round-trip delay from an NTP
 * server, with timeout and retries; sets the device clock. Server: config "ntp.server" / "ntp.port".
 *   cd manifests/sntp && mcconfig -d -m -p esp32/<board> ssid=<ssid> password=<password> [ntp.server=<host>]
 */
import config from "mc/config";
import Time from "time";
import { deviceRuntime } from "cosock/device/runtime";
import { exampleSntp } from "cosock/examples/sntp";

const settings = config as Record<string, unknown>;
const server = String(settings["ntp.server"] ?? "pool.ntp.org");
const port = Number(settings["ntp.port"] ?? 123);
const rt = deviceRuntime();

exampleSntp(rt, server, port, (line) => trace(line + "\n")).then(
  (r) => Time.set(Math.round(r.time / 1000)),
  (e: unknown) => trace(`cosock sntp: ${String(e)}\n`),
);
