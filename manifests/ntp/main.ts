/**
 * Asks an NTP server for the time (seed example 1: a blocking-style UDP socket in a worker-pool
 * job), prints it, and sets the device clock. Server: config "ntp.server" / "ntp.port".
 *   cd manifests/ntp && mcconfig -d -m -p esp32/<board> ssid=<ssid> password=<password> [ntp.server=<host>]
 */
import config from "mc/config";
import Time from "time";
import { deviceRuntime } from "cosock/device/runtime";
import { example1 } from "cosock/examples/01-ntp-blocking";

const settings = config as Record<string, unknown>;
const server = String(settings["ntp.server"] ?? "pool.ntp.org");
const port = Number(settings["ntp.port"] ?? 123);
const rt = deviceRuntime();

example1(rt, server, port, (line) => trace(line + "\n")).then(
  (secs) => {
    Time.set(secs);
    trace(`device clock set from ${server}:${port}\n`);
  },
  (e: unknown) => trace(`cosock ntp: no answer from ${server}:${port} (${String(e)})\n`),
);
