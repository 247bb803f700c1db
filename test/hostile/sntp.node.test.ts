/**
 * The SNTP client (modules/ntp) against a flood of bogus datagrams: replies with a wrong
 * originate timestamp, of the wrong size, in the wrong mode, and well-formed answers to our
 * request sent from the wrong port or the wrong host (accepting one would set a forged time).
 * The real answer, when it comes amid the flood, is taken; when none comes the query ends on
 * time with a clear error counting what it discarded; nothing is left open. On the simulated
 * network (virtual time), and once over real UDP on 127.0.0.1.
 */
import { createSocket, type Socket as DgramSocket } from "node:dgram";
import { Runtime, type UdpSocket } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { SimNetwork } from "../../hosts/sim/index.js";
import { MODE, NtpError, decodePacket, encodePacket, sntp, toNtp, type NtpTimestamp } from "../../modules/ntp/index.js";

const SERVER = "10.0.0.1";
const CLIENT = "10.0.0.2";
const STRANGER = "10.0.0.3";
const SKEW = 1500; // the real server's clock is this far ahead
const FORGED = 99999; // what a forged answer claims

function reply(originate: NtpTimestamp, wallClock: number, skew: number, mode: number = MODE.SERVER): Uint8Array {
  const now = toNtp(wallClock + skew);
  return encodePacket({ mode, stratum: 1, referenceId: Uint8Array.of(0x47, 0x50, 0x53, 0), originate, receive: now, transmit: now });
}

/** Every kind of bogus datagram for a request with transmit timestamp `t`: [from the server's port?, bytes]. */
function bogus(t: NtpTimestamp, wallClock: number): [string, Uint8Array][] {
  const good = reply(t, wallClock, FORGED);
  return [
    ["server", reply({ seconds: t.seconds, fraction: (t.fraction ^ 0x5a5a) >>> 0 }, wallClock, FORGED)], // wrong originate
    ["server", good.subarray(0, 47)], // too short
    ["server", reply(t, wallClock, FORGED, 3)], // client mode
    ["server", reply(t, wallClock, FORGED, 5)], // broadcast mode
    ["wrongport", good], // right answer, wrong port
    ["stranger", good], // right answer, wrong host
  ];
}

interface Flood {
  sent: () => number;
  stop: () => void;
}

/**
 * An NTP server on the simulated network that answers each request with a flood of bogus
 * datagrams (`rounds` rounds, 1 ms apart), then the real answer unless `answer` is false.
 */
async function floodingServer(srt: Runtime, strt: Runtime, rounds: number, answer: boolean): Promise<Flood> {
  const udp = await srt.udpcon(123);
  const wrongPort = await srt.udpcon(124);
  const stranger = await strt.udpcon(123);
  const from: Record<string, UdpSocket> = { server: udp, wrongport: wrongPort, stranger };
  let sent = 0;
  let stopped = false;
  udp.event(async (s) => {
    for (;;) {
      const d = await s.readfrom();
      const req = decodePacket(d.data);
      if (!req) continue;
      void (async () => {
        for (let i = 0; i < rounds && !stopped; i++) {
          for (const [who, bytes] of bogus(req.transmit, srt.host.wallClock())) {
            await from[who].sendto(bytes, d.address, d.port);
            sent++;
          }
          await srt.sleep(1);
        }
        if (answer && !stopped) await s.sendto(reply(req.transmit, srt.host.wallClock(), SKEW), d.address, d.port);
      })();
    }
  });
  return {
    sent: () => sent,
    stop: () => {
      stopped = true;
      udp.close();
      wrongPort.close();
      stranger.close();
    },
  };
}

describe("SNTP against a flood of bogus datagrams (simulated network)", () => {
  let net: SimNetwork;
  let srt: Runtime;
  let strt: Runtime;
  let crt: Runtime;

  beforeEach(() => {
    net = new SimNetwork({ seed: 9, link: { latency: 5 } });
    srt = new Runtime(net.host(SERVER));
    strt = new Runtime(net.host(STRANGER));
    crt = new Runtime(net.host(CLIENT));
  });
  afterEach(() => {
    crt.shutdown();
    strt.shutdown();
    srt.shutdown();
  });

  it("the real answer after 600 bogus datagrams (forged answers among them) is taken, on the first attempt", async () => {
    const flood = await floodingServer(srt, strt, 100, true);
    const r = await sntp(crt, SERVER, { timeout: 1000, retries: 0 });
    expect(Math.abs(r.offset - SKEW)).toBeLessThanOrEqual(100); // the flood delayed the answer by 100 ms; not FORGED
    expect(r.attempts).toBe(1);
    expect(flood.sent()).toBe(600);
    expect(crt.stat().udpSockets).toBe(0);
    flood.stop();
  });

  it("no valid answer in an endless flood: NtpError at the deadline of the last attempt (not later), counting the discarded replies", async () => {
    const flood = await floodingServer(srt, strt, Infinity, false);
    const t0 = crt.host.now();
    const e = await sntp(crt, SERVER, { timeout: 400, retries: 1 }).then(
      () => undefined,
      (x: unknown) => x,
    );
    const took = crt.host.now() - t0;
    expect(e).toBeInstanceOf(NtpError);
    const err = e as NtpError;
    expect(err.attempts).toBe(2);
    expect(err.discarded).toBeGreaterThan(100);
    expect(err.message).toMatch(
      new RegExp(
        `no valid reply from ${SERVER.replace(/\./g, "\\.")}:123 to 2 requests \\(400 ms each\\), ${err.discarded} replies discarded`,
      ),
    );
    expect(took).toBeGreaterThanOrEqual(800);
    expect(took).toBeLessThan(850); // the flood does not extend the wait
    expect(crt.stat().udpSockets).toBe(0);
    flood.stop();
  });
});

describe("SNTP against bogus datagrams over real UDP (127.0.0.1)", () => {
  const sockets: DgramSocket[] = [];
  afterEach(() => {
    for (const s of sockets.splice(0)) s.close();
  });

  async function bound(): Promise<DgramSocket> {
    const s = createSocket("udp4");
    sockets.push(s);
    await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
    return s;
  }

  it("200 rounds of bogus datagrams (1200), then the answer: taken; a forged answer from another port never is", async () => {
    const server = await bound();
    const other = await bound();
    server.on("message", (msg, from) => {
      const req = decodePacket(new Uint8Array(msg));
      if (!req) return;
      // one round per turn of the event loop: a burst larger than the receive queue (64) would
      // drop the tail, the real answer with it — as a flood at line rate does to any UDP client
      let round = 0;
      const next = () => {
        if (round++ === 200) return void server.send(reply(req.transmit, Date.now(), SKEW), from.port, from.address);
        for (const [who, bytes] of bogus(req.transmit, Date.now()))
          (who === "server" ? server : other).send(bytes, from.port, from.address);
        setImmediate(next);
      };
      next();
    });
    const rt = new Runtime(nodeHost());
    try {
      const r = await sntp(rt, "127.0.0.1", { port: server.address().port, timeout: 3000, retries: 0 });
      expect(Math.abs(r.offset - SKEW)).toBeLessThan(500); // the real server's, not the forged 99999
      expect(rt.stat().udpSockets).toBe(0);
    } finally {
      rt.shutdown();
    }
  });
});
