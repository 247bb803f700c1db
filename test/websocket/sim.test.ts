/**
 * WebSocket on the simulated network (hosts/sim): the whole stack — HTTP upgrade, frame parser,
 * connection, flow control — over a link whose segment size and faults we choose.
 *
 * - A 65536-byte frame (binary, and text with multibyte characters) delivered one byte per
 *   segment (`mss: 1`), in random segment sizes, and whole, gives the same message; the
 *   pieces the server reads (`bytesRead`/`frameLen`) follow the delivery.
 * - An echo round trip (example 5's handler) over a slow, lossy, jittery link.
 */
import { Runtime, encodeUtf8 } from "../../src/index.js";
import { SimNetwork, type LinkOptions } from "../../hosts/sim/index.js";
import { HttpServer } from "../../src/http/server.js";
import { req2sock, wsConnect } from "../../src/websocket/handshake.js";
import { WebSocket } from "../../src/websocket/connection.js";
import type { FramePiece } from "../../src/websocket/frame-parser.js";
import { wsEchoHandler } from "../../examples/05-websocket-server.js";
import { KEY, prng, rawFrame } from "./codec-helpers.js";
import { equalBytes, randomBytes, until } from "../support/util.js";

const SERVER = "10.0.0.1";
const CLIENT = "10.0.0.2";

interface Received {
  pieces: { length: number; bytesRead: number; frameLen: number; fin: boolean; isText: boolean; first: boolean }[];
  data: Uint8Array;
}

interface World {
  sim: SimNetwork;
  server: Runtime;
  client: Runtime;
  http: HttpServer;
  /** What either runtime logged (nothing, in a passing test). */
  logs: string[];
  done(): void;
}

async function world(
  link: LinkOptions,
  seed = 1,
  handler?: Parameters<typeof HttpServer.listen>[1],
): Promise<World & { received: Promise<Received> }> {
  const sim = new SimNetwork({ seed, link });
  // maxRead large enough that a frame delivered whole is read whole
  const logs: string[] = [];
  const server = new Runtime(sim.host(SERVER), { maxRead: 1 << 17, log: (m) => logs.push(m) });
  const client = new Runtime(sim.host(CLIENT), { log: (m) => logs.push(m) });
  let deliver!: (r: Received) => void;
  const received = new Promise<Received>((r) => (deliver = r));
  const http = await HttpServer.listen(
    server,
    handler ??
      (async (req, res) => {
        const ws = await req2sock(req, res);
        if (!(ws instanceof WebSocket)) return;
        ws.event(async (w: WebSocket) => {
          // read one frame piece by piece, as the seed's example 15 does
          const pieces: Received["pieces"] = [];
          const parts: Uint8Array[] = [];
          let p: FramePiece | null;
          do {
            p = await w.read();
            if (!p) throw new Error("closed before the frame ended");
            pieces.push({
              length: p.data.length,
              bytesRead: p.bytesRead,
              frameLen: p.frameLen,
              fin: p.fin,
              isText: p.isText,
              first: p.first,
            });
            parts.push(p.data.slice());
          } while (p.bytesRead !== p.frameLen);
          const data = new Uint8Array(p.frameLen);
          let at = 0;
          for (const part of parts) {
            data.set(part, at);
            at += part.length;
          }
          deliver({ pieces, data });
          await w.write("got it");
          await w.readMessage(); // until the client's close
        });
      }),
    { port: 80 },
  );
  return {
    sim,
    server,
    client,
    http,
    received,
    logs,
    done() {
      http.close();
      server.shutdown();
      client.shutdown();
    },
  };
}

const binary = randomBytes(65536, 99);
/** 65536 bytes of text: 21845 euro signs (3 bytes each) and one "a". */
const text = encodeUtf8("€".repeat(21845) + "a");

type Delivery = { name: string; link: LinkOptions; pieces?: (n: number) => number[] };

const deliveries: Delivery[] = [
  { name: "whole (one segment)", link: { mss: 70000, sendBuffer: 80000, recvWindow: 80000 } },
  { name: "one byte per segment (mss 1)", link: { mss: 1, latency: 1 } },
  ...[7, 8, 9].map((seed) => ({
    name: `random segment sizes (seed ${seed})`,
    link: { mss: 1436 },
    pieces: (n: number) => {
      const rand = prng(seed);
      const out: number[] = [];
      for (let left = n; left > 0; ) {
        const k = Math.min(left, 1 + Math.floor(rand() * 3000));
        out.push(k);
        left -= k;
      }
      return out;
    },
  })),
];

describe("a 65536-byte frame parses to the same message however it is cut", () => {
  for (const [kind, payload, opcode] of [
    ["binary", binary, 2],
    ["text (multibyte)", text, 1],
  ] as const) {
    for (const d of deliveries) {
      it(`${kind}: ${d.name}`, async () => {
        const w = await world(d.link);
        try {
          const ws = await wsConnect(w.client, `ws://${SERVER}/`);
          // the frame's bytes, written by hand so we choose how they are cut
          const frame = rawFrame({ opcode, payload, mask: KEY });
          if (!d.pieces) await ws.sock.write(frame);
          else {
            let at = 0;
            for (const k of d.pieces(frame.length)) {
              await ws.sock.write(frame.subarray(at, at + k));
              at += k;
              await w.client.sleep(1); // each write leaves as its own segment(s)
            }
          }
          const r = await w.received;
          expect(r.data.length).toBe(65536);
          expect(equalBytes(r.data, payload)).toBe(true);
          // the pieces: the frame's length throughout, bytesRead growing to it, fin on the frame
          expect(r.pieces.every((p) => p.frameLen === 65536 && p.fin && p.isText === (opcode === 1))).toBe(true);
          expect(r.pieces.map((p) => p.first)).toEqual(r.pieces.map((_, i) => i === 0));
          let sum = 0;
          for (const p of r.pieces) {
            sum += p.length;
            expect(p.bytesRead).toBe(sum);
          }
          if (d.name.startsWith("whole")) expect(r.pieces).toHaveLength(1);
          else if (d.name.startsWith("one byte")) {
            // nearly every byte arrives in its own read (a few may be read together)
            expect(r.pieces.length).toBeGreaterThan(30000);
            expect(r.pieces.some((p) => p.length === 1)).toBe(true); // (no spread: 30000 arguments overflow the XS stack)
          } else expect(r.pieces.length).toBeGreaterThan(20);
          expect(new TextDecoder().decode((await ws.readMessage())!.data)).toBe("got it");
          await ws.close();
          await until(w.server, () => w.server.stat().activeCons === 0 && w.client.stat().activeCons === 0, 10000);
          expect(w.logs).toEqual([]);
        } finally {
          w.done();
        }
      }, 60000);
    }
  }
});

describe("echo over a slow, lossy link", () => {
  const link: LinkOptions = { latency: 40, jitter: 15, bandwidth: 20, loss: 0.05, rto: 200, sendBuffer: 2048, recvWindow: 4096, mss: 536 };

  for (const seed of [1, 2]) {
    it(`text, binary, 64 KiB, fragmented both ways, ping, close (seed ${seed})`, async () => {
      // the server cuts its messages into 1000-byte frames; so does the client
      const w = await world(link, seed, wsEchoHandler({ maxFrame: 1000, maxMessage: 1 << 17 }));
      try {
        const t0 = w.sim.now;
        const ws = await wsConnect(w.client, `ws://${SERVER}/ws`, { maxFrame: 1000, maxMessage: 1 << 17, timeout: 60000 });
        const messages: [Uint8Array | string, boolean][] = [
          ["hello over a bad link", true],
          ["héllo wörld € 𝄞", true],
          ["", true],
          [randomBytes(1, 1), false],
          [randomBytes(65536, 2), false],
          ["€".repeat(20000), true], // 60000 bytes in 60 frames, cut inside characters
          [randomBytes(100000, 3), false],
        ];
        for (const [data, isText] of messages) {
          await ws.write(data, isText);
          const m = await ws.readMessage(120000);
          expect(m).not.toBeNull();
          expect(m!.isText).toBe(isText);
          const want = typeof data === "string" ? encodeUtf8(data) : data;
          expect(equalBytes(m!.data, want)).toBe(true);
        }
        // a ping with a read in progress to take in the pong, then a last message
        const last = ws.readMessage(120000);
        await ws.ping("still there?", 60000);
        await ws.write("bye");
        expect(new TextDecoder().decode((await last)!.data)).toBe("bye");
        expect(await ws.close(1000)).toBe(true);
        expect(ws.closeCode).toBe(1000); // the server echoed our close
        await until(w.server, () => w.server.stat().activeCons === 0 && w.client.stat().activeCons === 0, 60000);
        const stats = w.sim.stats();
        expect(stats.lostSegments).toBeGreaterThan(0); // the link really lost segments
        expect(w.sim.now - t0).toBeGreaterThan(10000); // and it was slow: ≥ 10 virtual seconds
        expect(w.logs).toEqual([]);
      } finally {
        w.done();
      }
    }, 60000);
  }
});

describe("one reader at a time", () => {
  it("a second read while one waits is incorrect use; the waiting read still gets its message, and a timed-out read leaves the connection usable", async () => {
    const w = await world({ latency: 2 }, 1, wsEchoHandler());
    try {
      const ws = await wsConnect(w.client, `ws://${SERVER}/ws`);
      await expect(ws.readMessage(20)).rejects.toMatchObject({ code: "timeout" });
      const first = ws.readMessage(5000);
      await expect(ws.read()).rejects.toMatchObject({ code: "incorrectuse" });
      await expect(ws.readFrame()).rejects.toMatchObject({ code: "incorrectuse" });
      await ws.write("after the refusals");
      expect(new TextDecoder().decode((await first)!.data)).toBe("after the refusals");
      expect(await ws.close()).toBe(true);
      expect(w.logs).toEqual([]);
    } finally {
      w.done();
    }
  });
});
