/**
 * The load generator: its own process, plain node:net clients (and, for the WebSocket rows, a
 * `ws` client or ours through the hook). The orchestrator starts a load, takes two `mark`s around
 * the measurement window (counters and latencies between them), and stops it.
 *
 * Loads: `stream` (each connection keeps `inflight` bytes of `chunk`-sized writes in flight and
 * counts the echoed bytes), `rr` (each connection sends `size` bytes, waits for all of them to
 * come back, sends again), `ws-echo` (the same over WebSocket messages). Other commands hold
 * idle connections (`idle-open` / `idle-close`) and play the slow reader (`reader-*`).
 */
import * as net from "node:net";
import { serve } from "./ipc.js";
import { oursWs, type WsEchoClient } from "./ws-hooks.js";
import { connectWsClient } from "./ws-baseline.js";
import { NativeLoad } from "./native.js";

const HOST = "127.0.0.1";

function connect(port: number, localAddress?: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: HOST, localAddress, noDelay: true });
    s.once("error", reject);
    s.once("connect", () => {
      s.off("error", reject);
      s.on("error", () => undefined);
      resolve(s);
    });
  });
}

// ------------------------------------------------------------------ counted loads

export interface StreamSpec {
  kind: "stream";
  port: number;
  chunk: number;
  conns: number;
  /** Most bytes sent and not yet echoed, per connection. */
  inflight: number;
}

export interface RrSpec {
  kind: "rr";
  port: number;
  size: number;
  conns: number;
}

export interface WsEchoSpec {
  kind: "ws-echo";
  side: "ours" | "base";
  port: number;
  size: number;
  conns: number;
}

/**
 * Any load with `native: true` runs in the native load generator (native/loadgen.c, compiled by
 * run.ts) instead of in this process: the same for both sides (a WebSocket load then uses its
 * own minimal client, not each side's), and never the bottleneck at 100 connections. Its CPU is
 * the one reported in marks.
 */
export type LoadSpec = (StreamSpec | RrSpec | WsEchoSpec) & { native?: boolean };

export interface Mark {
  /** performance.now() of the mark, ms. */
  t: number;
  /** Bytes echoed (stream) or round trips done (rr, ws-echo) since the load started. */
  count: number;
  /** Round-trip latency percentiles since the start mark (rr, ws-echo), ms. */
  p50?: number;
  p99?: number;
  /** Errors seen by the clients. */
  errors: number;
  /** CPU time of the load generator process since it started, ms. */
  cpuMs: number;
}

interface Load {
  count(): number;
  errors(): number;
  stop(): void;
}

let count = 0;
let errors = 0;
let recording = false;
let latencies = new Float64Array(1 << 16);
let nLat = 0;

function record(ms: number): void {
  if (!recording) return;
  if (nLat === latencies.length) {
    const bigger = new Float64Array(latencies.length * 2);
    bigger.set(latencies);
    latencies = bigger;
  }
  latencies[nLat++] = ms;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

async function startStream(spec: StreamSpec): Promise<Load> {
  const payload = Buffer.alloc(spec.chunk, 0x61);
  const sockets = await Promise.all(Array.from({ length: spec.conns }, () => connect(spec.port)));
  for (const s of sockets) {
    let sent = 0;
    let received = 0;
    let blocked = false;
    const pump = () => {
      while (!blocked && sent - received + spec.chunk <= spec.inflight) {
        sent += spec.chunk;
        if (!s.write(payload)) blocked = true;
      }
    };
    s.on("drain", () => {
      blocked = false;
      pump();
    });
    s.on("data", (d: Buffer) => {
      received += d.length;
      count += d.length;
      pump();
    });
    s.on("error", () => errors++);
    pump();
  }
  return { count: () => count, errors: () => errors, stop: () => sockets.forEach((s) => s.destroy()) };
}

async function startRr(spec: RrSpec): Promise<Load> {
  const request = Buffer.alloc(spec.size, 0x62);
  const sockets = await Promise.all(Array.from({ length: spec.conns }, () => connect(spec.port)));
  for (const s of sockets) {
    let got = 0;
    let t0 = 0;
    const send = () => {
      t0 = performance.now();
      s.write(request);
    };
    s.on("data", (d: Buffer) => {
      got += d.length;
      if (got >= spec.size) {
        got -= spec.size;
        count++;
        record(performance.now() - t0);
        send();
      }
    });
    s.on("error", () => errors++);
    send();
  }
  return { count: () => count, errors: () => errors, stop: () => sockets.forEach((s) => s.destroy()) };
}

async function startWsEcho(spec: WsEchoSpec): Promise<Load> {
  const factory = spec.side === "ours" ? oursWs.connectClient : connectWsClient;
  if (!factory) throw new Error("ws-hooks.ts: connectClient is not filled in yet");
  const url = `ws://${HOST}:${spec.port}/`;
  const clients: WsEchoClient[] = await Promise.all(Array.from({ length: spec.conns }, () => factory(url)));
  const payload = new Uint8Array(spec.size).fill(0x64);
  let stopped = false;
  for (const c of clients) {
    void (async () => {
      try {
        while (!stopped) {
          const t0 = performance.now();
          await c.roundTrip(payload);
          count++;
          record(performance.now() - t0);
        }
      } catch {
        if (!stopped) errors++;
      }
    })();
  }
  return {
    count: () => count,
    errors: () => errors,
    stop: () => {
      stopped = true;
      clients.forEach((c) => c.close());
    },
  };
}

let load: Load | undefined;
let native: NativeLoad | undefined;

function startNative(spec: LoadSpec): Promise<NativeLoad> {
  if (spec.kind === "stream") return NativeLoad.start("stream", spec.port, spec.conns, spec.chunk, spec.inflight);
  return NativeLoad.start(spec.kind === "rr" ? "rr" : "ws", spec.port, spec.conns, spec.size);
}

// ------------------------------------------------------------------ idle connections

let idle: net.Socket[] = [];

/**
 * Opens `count` connections, `batch` at a time. Each proves it is served before it goes idle:
 * one byte echoed (TCP), or the `101` answer to a WebSocket upgrade (`ws: true`).
 */
async function idleOpen(a: { port: number; count: number; batch: number; ws?: boolean }): Promise<{ opened: number; ms: number }> {
  const t0 = performance.now();
  const one = async () => {
    const s = await connect(a.port);
    idle.push(s);
    await new Promise<void>((resolve, reject) => {
      let got = "";
      s.once("error", reject);
      // WebSocket: the upgrade, then one message echoed (a masked 1-byte binary frame; the
      // answer is 3 bytes), so what a server keeps after first use is counted too.
      let upgraded = false;
      const onData = (d: Buffer) => {
        got += d.toString("latin1");
        if (a.ws && !upgraded && got.includes("\r\n\r\n")) {
          if (!got.startsWith("HTTP/1.1 101")) return reject(new Error(`upgrade refused: ${got.split("\r\n")[0]}`));
          upgraded = true;
          got = got.slice(got.indexOf("\r\n\r\n") + 4);
          s.write(Buffer.from([0x82, 0x81, 1, 2, 3, 4, 0x78 ^ 1]));
        }
        if (a.ws ? upgraded && got.length >= 3 : got.length >= 1) {
          s.off("data", onData);
          s.off("error", reject);
          resolve();
        }
      };
      s.on("data", onData);
      if (a.ws)
        s.write(
          "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        );
      else s.write("x");
    });
  };
  for (let done = 0; done < a.count; ) {
    const n = Math.min(a.batch, a.count - done);
    await Promise.all(Array.from({ length: n }, one));
    done += n;
  }
  return { opened: idle.length, ms: performance.now() - t0 };
}

// ------------------------------------------------------------------ the slow reader

let readerServer: net.Server | undefined;
let readerSocket: net.Socket | undefined;
let readerConnected: Promise<net.Socket> | undefined;

function readerListen(): Promise<{ port: number }> {
  readerServer = net.createServer();
  readerConnected = new Promise((resolve) => readerServer!.once("connection", resolve));
  return new Promise((resolve) =>
    readerServer!.listen(0, HOST, () => resolve({ port: (readerServer!.address() as net.AddressInfo).port })),
  );
}

/**
 * Reads at `rate` bytes/s (pausing the socket whenever it is ahead) for `warmupMs + durationMs`;
 * returns the rate achieved in the last `durationMs`.
 */
async function readerMeasure(a: { rate: number; warmupMs: number; durationMs: number }): Promise<{ rate: number; bytes: number }> {
  const s = (readerSocket = await readerConnected!);
  s.on("error", () => undefined);
  const t0 = performance.now();
  let consumed = 0;
  const allowed = () => ((performance.now() - t0) / 1000) * a.rate;
  s.on("data", (d: Buffer) => {
    consumed += d.length;
    if (consumed > allowed()) s.pause();
  });
  const tick = setInterval(() => {
    if (s.isPaused() && consumed <= allowed()) s.resume();
  }, 5);
  await new Promise((r) => setTimeout(r, a.warmupMs));
  const c0 = consumed;
  const w0 = performance.now();
  await new Promise((r) => setTimeout(r, a.durationMs));
  const bytes = consumed - c0;
  const seconds = (performance.now() - w0) / 1000;
  clearInterval(tick);
  return { rate: bytes / seconds, bytes };
}

function readerClose(): null {
  readerSocket?.destroy();
  readerServer?.close();
  readerSocket = readerServer = readerConnected = undefined;
  return null;
}

// ------------------------------------------------------------------ serving the orchestrator

serve({
  "load-start": async (spec: LoadSpec) => {
    if (load || native) throw new Error("a load is running already");
    count = errors = nLat = 0;
    recording = false;
    if (spec.native) {
      native = await startNative(spec);
      return null;
    }
    load = spec.kind === "stream" ? await startStream(spec) : spec.kind === "rr" ? await startRr(spec) : await startWsEcho(spec);
    return null;
  },
  mark: async (a: { phase: "start" | "end" }): Promise<Mark> => {
    if (native) {
      const m = await native.mark();
      return {
        t: m.t,
        count: m.count,
        errors: m.errors,
        cpuMs: m.cpuMs,
        p50: a.phase === "end" ? m.p50 : undefined,
        p99: a.phase === "end" ? m.p99 : undefined,
      };
    }
    const cpu = process.cpuUsage();
    const m: Mark = { t: performance.now(), count: load?.count() ?? 0, errors: load?.errors() ?? 0, cpuMs: (cpu.user + cpu.system) / 1000 };
    if (a.phase === "start") {
      nLat = 0;
      recording = true;
    } else if (nLat > 0) {
      recording = false;
      const sorted = latencies.slice(0, nLat).sort();
      m.p50 = percentile(sorted, 0.5);
      m.p99 = percentile(sorted, 0.99);
    } else recording = false;
    return m;
  },
  "load-stop": () => {
    load?.stop();
    load = undefined;
    native?.stop();
    native = undefined;
    return null;
  },
  "idle-open": idleOpen,
  "idle-close": () => {
    for (const s of idle) s.destroy();
    idle = [];
    return null;
  },
  "reader-listen": readerListen,
  "reader-measure": readerMeasure,
  "reader-close": readerClose,
});
