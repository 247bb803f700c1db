/**
 * An NTP server on a runtime's own UDP sockets (port 123), `skew` ms ahead of the host's clock:
 * the peer of the SNTP tests on the simulated network and of the device apps' tests on XS.
 * Stratum 0 answers as a kiss-of-death ("DENY").
 */
import type { Runtime } from "../../src/index.js";
import { MODE, decodePacket, encodePacket, toNtp } from "../../modules/ntp/index.js";

export async function ntpServer(rt: Runtime, skew: number, stratum = 1): Promise<{ served: () => number }> {
  const udp = await rt.udpcon(123);
  let served = 0;
  udp.event(async (s) => {
    for (;;) {
      const d = await s.readfrom();
      const req = decodePacket(d.data);
      if (!req) continue;
      served++;
      const now = toNtp(rt.host.wallClock() + skew);
      const reply = encodePacket({
        mode: MODE.SERVER,
        stratum,
        referenceId: stratum === 0 ? Uint8Array.of(0x44, 0x45, 0x4e, 0x59) : Uint8Array.of(0x47, 0x50, 0x53, 0),
        originate: req.transmit,
        receive: now,
        transmit: now,
      });
      await s.sendto(reply, d.address, d.port);
    }
  });
  return { served: () => served };
}
