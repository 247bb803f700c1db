/**
 * Example 1: a blocking socket in a worker-pool job asks an NTP server for the time
 * (request/response over UDP). In the seed this runs in a Lua Server Page's thread; here the job
 * runs in the runtime's worker pool and awaits its socket like blocking code.
 */
import { n2h, type Runtime } from "../src/index.js";
import { print, type Log } from "./log.js";

/** Seconds between 1900 (NTP's epoch) and 1970 (Unix time). */
export const NTP_UNIX_OFFSET = 2208988800;

/** A 48-byte SNTP client request: LI 0, version 4, mode 3 (client). */
export function ntpRequest(): Uint8Array {
  const req = new Uint8Array(48);
  req[0] = (0 << 6) | (4 << 3) | 3;
  return req;
}

/** Returns the server's time (Unix seconds) or throws; prints like the seed. */
export async function printTime(rt: Runtime, server: string, port = 123, log: Log = print): Promise<number> {
  const s = await rt.udpcon(server, port);
  try {
    s.write(ntpRequest());
    const d = await s.read(5000);
    if (d.length !== 48) throw new Error("Invalid response");
    const secs = n2h(4, d, 40) - NTP_UNIX_OFFSET; // transmit timestamp, seconds part
    log(`NTP Date and time: ${new Date(secs * 1000).toUTCString()}`);
    return secs;
  } finally {
    s.close();
  }
}

/** Runs printTime as a pool job: a blocking socket in a thread of the pool. */
export function example1(rt: Runtime, server: string, port?: number, log?: Log): Promise<number> {
  return rt.pool.run(printTime, rt, server, port, log);
}
