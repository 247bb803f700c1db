/**
 * SNTP example: asks a time server for the time, with a timeout and retries, and prints the
 * time, how far our clock is off and the round trip. Returns the result; throws `NtpError` for a
 * refused or bad reply and `SocketError("timeout")` when nothing answered.
 */
import type { Runtime } from "../src/index.js";
import { sntp, type SntpResult } from "../modules/ntp/index.js";
import { print, type Log } from "./log.js";

export async function exampleSntp(rt: Runtime, server = "pool.ntp.org", port = 123, log: Log = print, timeout = 2000): Promise<SntpResult> {
  const r = await sntp(rt, server, { port, timeout, retries: 2 });
  log(`NTP time: ${new Date(r.time).toISOString()} from ${server} (stratum ${r.stratum})`);
  log(`our clock is off by ${r.offset.toFixed(1)} ms; round trip ${r.delay.toFixed(1)} ms`);
  return r;
}
