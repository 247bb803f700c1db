/**
 * Example 6: example 1 with an asynchronous socket. The UDP socket gets a coroutine; its read
 * suspends the coroutine, not a pool thread. Returns the socket; `onTime` gets the result.
 */
import { n2h, type Runtime, type UdpSocket } from "../src/index.js";
import { ntpRequest, NTP_UNIX_OFFSET } from "./01-ntp-blocking.js";
import { print, type Log } from "./log.js";

export async function example6(
  rt: Runtime,
  server: string,
  port: number,
  onTime: (secs: number | null) => void,
  log: Log = print,
): Promise<UdpSocket> {
  const s = await rt.udpcon(server, port);
  s.write(ntpRequest());
  return s.event(async (sock: UdpSocket) => {
    try {
      const d = await sock.read(5000);
      if (d.length !== 48) throw new Error("Invalid response");
      const secs = n2h(4, d, 40) - NTP_UNIX_OFFSET;
      log(`NTP Date and time: ${new Date(secs * 1000).toUTCString()}`);
      onTime(secs);
    } catch (e) {
      log(`NTP failed: ${(e as Error).message}`);
      onTime(null);
    }
  });
}
