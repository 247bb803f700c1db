/**
 * The SNTP client against chrony on loopback (started by the tests), and against a scripted UDP
 * server of our own (node:dgram) that sends bad replies. sntp.sim.test.ts runs it on the
 * simulated network.
 */
import { createSocket, type Socket as DgramSocket } from "node:dgram";
import { Runtime, SocketError } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { decodePacket, encodePacket, fromNtp, MODE, NtpError, sntp, toNtp, type NtpPacket } from "../../modules/ntp/index.js";
import { itWithPeer, startChrony, type Peer } from "../support/peers.js";

let rt: Runtime;
beforeEach(() => {
  rt = new Runtime(nodeHost());
});
afterEach(() => rt.shutdown());

describe("SNTP against chrony", () => {
  const itChrony = itWithPeer("chronyd", "apt-get install chrony");
  let chrony: Peer | undefined;
  afterEach(async () => {
    await chrony?.stop();
    chrony = undefined;
  });

  itChrony("gets the time, offset, delay and stratum", async () => {
    chrony = await startChrony();
    const before = Date.now();
    const r = await sntp(rt, "127.0.0.1", { port: chrony.port, timeout: 1000 });
    const after = Date.now();
    expect(r.stratum).toBe(8); // "local stratum 8"
    expect(r.server).toBe("127.0.0.1");
    expect(r.port).toBe(chrony.port);
    expect(r.attempts).toBe(1);
    expect(r.leap).not.toBe(3);
    // the same machine's clock: the offset is within a few ms, the delay small
    expect(Math.abs(r.offset)).toBeLessThan(50);
    expect(r.delay).toBeGreaterThanOrEqual(0);
    expect(r.delay).toBeLessThan(100);
    expect(r.time).toBeGreaterThanOrEqual(before - 50);
    expect(r.time).toBeLessThanOrEqual(after + 50);
  });

  itChrony("several queries in a row each get an answer", async () => {
    chrony = await startChrony();
    for (let i = 0; i < 3; i++) {
      const r = await sntp(rt, "127.0.0.1", { port: chrony.port, timeout: 1000 });
      expect(r.stratum).toBe(8);
    }
  });
});

/** A scripted NTP server on node:dgram: `answer` builds the reply (or none) for each request. */
interface FakeNtp {
  port: number;
  requests: NtpPacket[];
  stop(): Promise<void>;
}

type Answer = (req: NtpPacket, n: number) => Uint8Array | Uint8Array[] | null | { delay: number; reply: Uint8Array };

async function fakeNtp(answer: Answer): Promise<FakeNtp> {
  const s: DgramSocket = createSocket("udp4");
  const requests: NtpPacket[] = [];
  const timers = new Set<ReturnType<typeof setTimeout>>();
  s.on("message", (msg, from) => {
    const req = decodePacket(new Uint8Array(msg))!;
    requests.push(req);
    const a = answer(req, requests.length);
    if (!a) return;
    const send = (b: Uint8Array) => s.send(b, from.port, from.address);
    if (a instanceof Uint8Array) send(a);
    else if (Array.isArray(a)) a.forEach(send);
    else {
      const t = setTimeout(() => {
        timers.delete(t);
        send(a.reply);
      }, a.delay);
      timers.add(t);
    }
  });
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
  return {
    port: s.address().port,
    requests,
    stop: () => {
      for (const t of timers) clearTimeout(t);
      return new Promise<void>((r) => s.close(() => r()));
    },
  };
}

/** A good server reply to `req`, its clock `skew` ms ahead of ours; `over` changes fields. */
function reply(req: NtpPacket, skew = 0, over: Partial<NtpPacket> = {}): Uint8Array {
  const now = toNtp(Date.now() + skew);
  return encodePacket({
    leap: 0,
    version: 4,
    mode: MODE.SERVER,
    stratum: 2,
    referenceId: Uint8Array.of(10, 0, 0, 1),
    reference: now,
    originate: req.transmit,
    receive: now,
    transmit: now,
    ...over,
  });
}

describe("SNTP against a scripted server", () => {
  let fake: FakeNtp | undefined;
  afterEach(async () => {
    await fake?.stop();
    fake = undefined;
  });
  const query = (o: { timeout?: number; retries?: number } = {}) =>
    sntp(rt, "127.0.0.1", { port: fake!.port, timeout: 150, retries: 1, ...o });
  /** The error a query throws (fails the test if it succeeds). */
  const failure = (o?: { timeout?: number; retries?: number }): Promise<NtpError> =>
    query(o).then(
      (r) => {
        throw new Error(`expected a failure, got ${JSON.stringify(r)}`);
      },
      (e: unknown) => e as NtpError,
    );

  it("computes the offset from the four timestamps (a server 5 s ahead)", async () => {
    fake = await fakeNtp((req) => reply(req, 5000));
    const r = await query();
    expect(r.offset).toBeGreaterThan(4980);
    expect(r.offset).toBeLessThan(5020);
    expect(r.delay).toBeLessThan(50);
    expect(Math.abs(r.time - (Date.now() + 5000))).toBeLessThan(50);
    expect(r.stratum).toBe(2);
    expect(r.referenceId).toBe("10.0.0.1");
  });

  it("the request is mode 3, version 4, with a transmit timestamp near now", async () => {
    fake = await fakeNtp((req) => reply(req));
    await query();
    const [req] = fake.requests;
    expect(req.mode).toBe(MODE.CLIENT);
    expect(req.version).toBe(4);
    expect(Math.abs(fromNtp(req.transmit) - Date.now())).toBeLessThan(1000);
  });

  it("the delay excludes the server's own time, and a slow server is no error", async () => {
    // T2 1 s before T3: the server "held" the request 1 s; the reply comes after ~30 ms
    fake = await fakeNtp((req) => ({
      delay: 30,
      reply: reply(req, 0, { receive: toNtp(Date.now()), transmit: toNtp(Date.now() + 1000) }),
    }));
    const r = await query({ timeout: 1000 });
    expect(r.delay).toBeLessThan(50);
    expect(r.offset).toBeGreaterThan(450);
  });

  it("kiss-o'-death: rejected with the kiss code, and no retry", async () => {
    fake = await fakeNtp((req) => reply(req, 0, { stratum: 0, referenceId: Uint8Array.of(0x52, 0x41, 0x54, 0x45) }));
    const e = await failure({ retries: 3 });
    expect(e).toBeInstanceOf(NtpError);
    expect(e).toMatchObject({ code: "kissofdeath", kiss: "RATE", attempts: 1 });
    expect(e.message).toMatch(/kiss-o'-death RATE/);
    expect(fake.requests).toHaveLength(1);
  });

  it("a wrong mode is rejected (after the retries)", async () => {
    fake = await fakeNtp((req) => reply(req, 0, { mode: MODE.CLIENT }));
    const e = await failure();
    expect(e).toMatchObject({ code: "badmode", attempts: 2 });
    expect(e.message).toMatch(/mode 3/);
    expect(fake.requests).toHaveLength(2);
  });

  it("a broadcast (mode 5) reply is rejected", async () => {
    fake = await fakeNtp((req) => reply(req, 0, { mode: MODE.BROADCAST }));
    expect(await failure({ retries: 0 })).toMatchObject({ code: "badmode" });
  });

  it("a zero transmit timestamp is rejected", async () => {
    fake = await fakeNtp((req) => reply(req, 0, { transmit: { seconds: 0, fraction: 0 } }));
    expect(await failure()).toMatchObject({ code: "zerotransmit", attempts: 2 });
  });

  it("a reply whose originate timestamp is not our request's is rejected", async () => {
    fake = await fakeNtp((req) =>
      reply(req, 0, { originate: { seconds: req.transmit.seconds, fraction: (req.transmit.fraction ^ 1) >>> 0 } }),
    );
    expect(await failure()).toMatchObject({ code: "badoriginate", attempts: 2 });
  });

  it("a short packet is rejected", async () => {
    fake = await fakeNtp((req) => reply(req).subarray(0, 44));
    const e = await failure();
    expect(e).toMatchObject({ code: "short" });
    expect(e.message).toMatch(/44 bytes/);
  });

  it("an unsynchronized server (leap 3) is rejected", async () => {
    fake = await fakeNtp((req) => reply(req, 0, { leap: 3, stratum: 16 }));
    expect(await failure({ retries: 0 })).toMatchObject({ code: "unsynchronized" });
  });

  it("a forged reply is discarded and the real one that follows is taken", async () => {
    fake = await fakeNtp((req) => [
      reply(req, 9999, { originate: { seconds: 1, fraction: 2 } }),
      reply(req, 0, { mode: MODE.CLIENT }),
      reply(req, 3000),
    ]);
    const r = await query();
    expect(r.offset).toBeGreaterThan(2950);
    expect(r.attempts).toBe(1);
  });

  it("no answer: `timeout` after the first try and every retry, each counted", async () => {
    fake = await fakeNtp(() => null);
    const t0 = Date.now();
    const e = await failure({ timeout: 100, retries: 2 });
    expect(e).toBeInstanceOf(SocketError);
    expect(e).toMatchObject({ code: "timeout" });
    expect(e.message).toMatch(/to 3 requests \(100 ms each\)/);
    expect(fake.requests).toHaveLength(3);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    // each retry is a fresh request
    expect(new Set(fake.requests.map((r) => `${r.transmit.seconds}.${r.transmit.fraction}`)).size).toBe(3);
  });

  it("a lost first request is retried, and the second attempt's answer is taken", async () => {
    fake = await fakeNtp((req, n) => (n === 1 ? null : reply(req, 1000)));
    const r = await query({ retries: 2 });
    expect(r.attempts).toBe(2);
    expect(fake.requests).toHaveLength(2);
    expect(r.offset).toBeGreaterThan(950);
  });

  it("a late answer to the first request, arriving during the retry, is accepted and timed from its own request", async () => {
    fake = await fakeNtp((req, n) => (n === 1 ? { delay: 200, reply: reply(req, 2000) } : null));
    const r = await query({ timeout: 150, retries: 3 });
    expect(r.attempts).toBeGreaterThanOrEqual(2); // 2 unless this machine is very slow
    expect(r.offset).toBeGreaterThan(1700); // delay ~200 ms: offset = 2000 - ~100
    expect(r.offset).toBeLessThan(2000);
    expect(r.delay).toBeGreaterThan(150);
  });
});
