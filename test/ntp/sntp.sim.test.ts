/**
 * SNTP without real sockets (runs under jest and on XS): the packet codec, and the client on the
 * simulated network against an NTP server written on the runtime's UDP sockets, through loss.
 */
import { Runtime } from "../../src/index.js";
import { SimNetwork } from "../../hosts/sim/index.js";
import {
  clientRequest,
  decodePacket,
  encodePacket,
  fromNtp,
  MODE,
  NTP_UNIX_OFFSET,
  NtpError,
  sntp,
  toNtp,
} from "../../modules/ntp/index.js";
import { ntpServer } from "./ntp-server.js";

describe("NTP packet codec", () => {
  it("timestamps: ms since 1970 and back, to well under a millisecond", () => {
    for (const ms of [0, 1, 999.5, 1_700_000_000_123, Date.UTC(2035, 11, 31, 23, 59, 59, 999)])
      expect(Math.abs(fromNtp(toNtp(ms)) - ms)).toBeLessThan(0.001);
    expect(toNtp(0)).toEqual({ seconds: NTP_UNIX_OFFSET, fraction: 0 });
    expect(toNtp(500)).toEqual({ seconds: NTP_UNIX_OFFSET, fraction: 0x80000000 });
  });

  it("era 1: seconds with the top bit clear are after 2036-02-07", () => {
    const after = Date.UTC(2040, 0, 1);
    const t = toNtp(after);
    expect(t.seconds).toBeLessThan(0x80000000);
    expect(fromNtp(t)).toBe(after);
    expect(fromNtp({ seconds: 0x80000000, fraction: 0 })).toBe((0x80000000 - NTP_UNIX_OFFSET) * 1000);
  });

  it("encodes and decodes every header field", () => {
    const p = {
      leap: 1,
      version: 4,
      mode: MODE.SERVER,
      stratum: 2,
      poll: 6,
      precision: -20,
      rootDelay: 0.5,
      rootDispersion: 1.25,
      referenceId: Uint8Array.of(192, 168, 1, 1),
      reference: { seconds: 1, fraction: 2 },
      originate: { seconds: 3, fraction: 4 },
      receive: { seconds: 5, fraction: 6 },
      transmit: { seconds: 0xfffffffe, fraction: 0xffffffff },
    };
    const b = encodePacket(p);
    expect(b.length).toBe(48);
    expect(b[0]).toBe(0x64); // LI 1, VN 4, mode 4
    expect(decodePacket(b)).toEqual(p);
    expect(decodePacket(b.subarray(0, 47))).toBeUndefined();
  });

  it("a client request is LI 0, version 4, mode 3, with our transmit timestamp", () => {
    const b = clientRequest({ seconds: 0x12345678, fraction: 0x9abcdef0 });
    expect([...b.subarray(0, 4)]).toEqual([0x23, 0, 0, 0]);
    expect([...b.subarray(40)]).toEqual([0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0]);
  });
});

describe("SNTP on the simulated network", () => {
  it("offset and delay from a server 1.5 s ahead, 20 ms away", async () => {
    const net = new SimNetwork({ seed: 3, link: { latency: 20 } });
    const server = new Runtime(net.host("10.0.0.1"));
    const client = new Runtime(net.host("10.0.0.2"));
    try {
      await ntpServer(server, 1500);
      const r = await sntp(client, "10.0.0.1", { timeout: 100 });
      expect(r.offset).toBeCloseTo(1500, 3);
      expect(r.delay).toBeCloseTo(40, 3);
      expect(r.time).toBeCloseTo(client.host.wallClock() + 1500, 3);
      expect(r.referenceId).toBe("GPS");
      expect(r.attempts).toBe(1);
    } finally {
      server.shutdown();
      client.shutdown();
    }
  });

  it("retries through datagram loss, the same way for the same seed", async () => {
    const runs: string[] = [];
    for (let run = 0; run < 2; run++) {
      const net = new SimNetwork({ seed: 7, link: { latency: 20, loss: 0.5 } });
      const server = new Runtime(net.host("10.0.0.1"));
      const client = new Runtime(net.host("10.0.0.2"));
      try {
        const s = await ntpServer(server, -250);
        const r = await sntp(client, "10.0.0.1", { timeout: 100, retries: 10 });
        expect(r.offset).toBeCloseTo(-250, 3);
        runs.push(`${r.attempts}/${s.served()}`);
      } finally {
        server.shutdown();
        client.shutdown();
      }
    }
    expect(runs[0]).toBe(runs[1]);
    expect(Number(runs[0].split("/")[0])).toBeGreaterThan(1); // the loss made it retry
  });

  it("kiss-o'-death from the server: NtpError with the code DENY, at once", async () => {
    const net = new SimNetwork({ seed: 1, link: { latency: 5 } });
    const server = new Runtime(net.host("10.0.0.1"));
    const client = new Runtime(net.host("10.0.0.2"));
    try {
      const s = await ntpServer(server, 0, 0);
      const e = await sntp(client, "10.0.0.1", { timeout: 100, retries: 5 }).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(NtpError);
      expect(e).toMatchObject({ code: "kissofdeath", kiss: "DENY", attempts: 1 });
      expect(s.served()).toBe(1);
    } finally {
      server.shutdown();
      client.shutdown();
    }
  });

  it("nothing listening: timeout after every attempt", async () => {
    const net = new SimNetwork({ seed: 1, link: { latency: 5 } });
    const client = new Runtime(net.host("10.0.0.2"));
    try {
      const t0 = client.host.now();
      await expect(sntp(client, "10.0.0.9", { timeout: 250, retries: 3 })).rejects.toMatchObject({ code: "timeout" });
      expect(client.host.now() - t0).toBeGreaterThanOrEqual(1000);
    } finally {
      client.shutdown();
    }
  });
});
