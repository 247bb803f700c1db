/**
 * Flow control you can watch (the web console's two demo buttons). Both run on the runtime they
 * are given, over a local connection to a listener of their own, and end by themselves within
 * `limit` ms (on the runtime's clock), closing everything they opened.
 *
 * `flowDemo`: a fast cosocket writer into a deliberately slow reader. The reader first does not
 * read at all (`stall` ms), then reads one chunk every 100 ms (`slow` ms), then as fast as it can.
 * The writer runs `writers` writing loops on its one socket, each writing `queuelen / writers`
 * bytes at a time, for `write` ms: once the host's buffers are full, the queue fills to its
 * length and every loop is suspended in `write()`; when the reader speeds up, they drain and
 * resume; when the writer stops, the queue empties and the suspended writers go to 0.
 *
 * `queueFullDemo`: the writer that must not suspend (an asynchronous socket using `trywrite`)
 * against a stalled reader: every 100 ms it writes 1 KiB pieces until refused (at most 1 MiB):
 * `trywrite` accepts until the host's buffers and then the queue (`queuelen` bytes) are full, then
 * answers with the queued byte count ("queue full") and takes nothing, until the reader reads.
 */
import type { Runtime, Socket } from "../src/index.js";

export interface FlowDemoOptions {
  /** The reader does not read for this long (ms). */
  stall?: number;
  /** Then it reads one chunk every 100 ms for this long (ms), then as fast as it can. */
  slow?: number;
  /** The writer writes for this long (ms). */
  write?: number;
  /** Everything is closed after this long (ms), whatever happened. */
  limit?: number;
  /** Writing loops on the writer's socket (at most the runtime's `maxWriters`). */
  writers?: number;
}

/** What a demo tells the page as it goes. */
export interface DemoReport {
  demo: "flow" | "trywrite";
  phase: string;
  /** The demo's listening port: its two sockets are the ones with this port at one end. */
  port?: number;
  sent?: number;
  received?: number;
  /** trywrite: writes accepted, writes refused, the last "queue full" answer. */
  accepted?: number;
  refused?: number;
  full?: number;
  queuelen?: number;
}

const FLOW_DEFAULTS: Required<FlowDemoOptions> = { stall: 5000, slow: 5000, write: 12000, limit: 20000, writers: 8 };

/** Closes `socks` when `limit` ms have passed; returns a function that cancels that. */
function bounded(rt: Runtime, limit: number, socks: Socket[]): () => void {
  return rt.dispatcher.timer(limit, () => {
    for (const s of socks) s.abort();
  });
}

/** The reader: stalls, reads slowly, then fast until end-of-stream. Resolves with the bytes read. */
function slowReader(
  rt: Runtime,
  listener: Socket,
  stall: number,
  slow: number,
  phase: (p: string) => void,
  socks: Socket[],
): Promise<number> {
  return new Promise((resolve) => {
    listener.event(async (l: Socket) => {
      const s = await l.accept();
      l.close();
      if (!s) return resolve(0);
      socks.push(s);
      s.event(async (r: Socket) => {
        let got = 0;
        try {
          await rt.sleep(stall);
          phase("slow reader");
          const slowEnd = rt.host.now() + slow;
          while (rt.host.now() < slowEnd) {
            const b = await r.read();
            if (!b) return;
            got += b.length;
            await rt.sleep(100);
          }
          phase("fast reader");
          for (;;) {
            const b = await r.read();
            if (!b) return;
            got += b.length;
          }
        } finally {
          resolve(got);
        }
      }, "s");
    }, "s");
  });
}

export async function flowDemo(rt: Runtime, report: (r: DemoReport) => void, options: FlowDemoOptions = {}): Promise<DemoReport> {
  const o = { ...FLOW_DEFAULTS, ...options };
  const writers = Math.max(1, Math.min(o.writers, rt.options.maxWriters));
  const listener = await rt.bind(0, { intf: "127.0.0.1" });
  const port = listener.sockname()!.port;
  const socks: Socket[] = [listener];
  const cancel = bounded(rt, o.limit, socks);
  let sent = 0;
  const phase = (p: string) => report({ demo: "flow", phase: p, port, sent });
  phase("stalled reader");
  const received = slowReader(rt, listener, o.stall, o.slow, phase, socks);
  const written = new Promise<void>((resolve) => {
    rt.event(async (w: Socket) => {
      try {
        await w.connect("127.0.0.1", port);
        socks.push(w);
        const chunk = new Uint8Array(Math.ceil(w.queuelen() / writers)).fill(0x2a);
        const end = rt.host.now() + o.write;
        const loop = async () => {
          while (rt.host.now() < end) {
            await w.write(chunk);
            sent += chunk.length;
          }
        };
        await Promise.all(Array.from({ length: writers }, loop));
        phase("writer stopped: draining");
        while (w.queued > 0) await rt.sleep(50);
      } catch {
        /* closed by the time limit */
      } finally {
        resolve();
      }
    }); // returning closes the socket: the reader sees end-of-stream
  });
  await written;
  const got = await received;
  cancel();
  for (const s of socks) s.close();
  const done: DemoReport = { demo: "flow", phase: "done", port, sent, received: got };
  report(done);
  return done;
}

export interface QueueFullOptions {
  /** The reader does not read for this long (ms), then reads everything. */
  stall?: number;
  /** The writer tries every 100 ms for this long (ms). */
  write?: number;
  limit?: number;
}

export async function queueFullDemo(rt: Runtime, report: (r: DemoReport) => void, options: QueueFullOptions = {}): Promise<DemoReport> {
  const o = { stall: 4000, write: 7000, limit: 15000, ...options };
  const listener = await rt.bind(0, { intf: "127.0.0.1" });
  const port = listener.sockname()!.port;
  const socks: Socket[] = [listener];
  const cancel = bounded(rt, o.limit, socks);
  const r: DemoReport = { demo: "trywrite", phase: "stalled reader", port, accepted: 0, refused: 0, sent: 0 };
  const received = slowReader(rt, listener, o.stall, 0, (p) => report({ ...r, phase: (r.phase = p) }), socks);
  const w = await rt.connect("127.0.0.1", port);
  socks.push(w);
  r.queuelen = w.queuelen();
  report({ ...r });
  await new Promise<void>((resolve) => {
    // an asynchronous socket: its writes must not suspend, so it uses trywrite
    w.event(async (s: Socket) => {
      const chunk = new Uint8Array(1024).fill(0x2d);
      const end = rt.host.now() + o.write;
      try {
        while (rt.host.now() < end) {
          // as much as it takes at once (at most 1 MiB a turn): the host's buffers, then the queue
          for (let i = 0; i < 1024; i++) {
            const answer = s.trywrite(chunk);
            if (answer === true) {
              r.accepted!++;
              r.sent! += chunk.length;
            } else {
              r.refused!++;
              r.full = answer; // "queue full": the bytes queued, nothing taken
              break;
            }
          }
          report({ ...r });
          await rt.sleep(100);
        }
        r.phase = "writer stopped: draining";
        report({ ...r });
        while (s.queued > 0) await rt.sleep(50);
      } catch {
        /* closed by the time limit */
      } finally {
        resolve();
      }
    });
  });
  r.received = await received;
  cancel();
  for (const s of socks) s.close();
  r.phase = "done";
  report({ ...r });
  return r;
}
