/**
 * The server process under test. `--role` picks what it runs; the orchestrator (run.ts) drives it
 * over IPC: `window-start` / `window-stop` bracket a measurement (CPU and sampled memory),
 * `memory` reports memory at rest (gc'd), `connections` counts open connections, `heap-counts`
 * aggregates a heap snapshot by constructor, and the flow-control writers take `write-start` /
 * `write-stop`.
 *
 * Roles — ours: `echo-ours` (example 9), `proxy-ours` (example 13), `writer-ours` (a cosocket
 * writer), `ws-echo-ours` (hook, ws-hooks.ts). Baselines on plain node:net: `echo-pipe`
 * (`socket.pipe(socket)`), `echo-raw` (`'data'` → `write()`), `echo-raw-job` (the same, writing
 * from a promise job), `proxy-pipe` (pipe both ways), `writer-net` (`write()` / `'drain'`), and
 * `ws-echo-ws` (the `ws` server).
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as v8 from "node:v8";
import { Runtime, type RuntimeOptions, type Socket } from "../src/index.js";
import { nodeHost, type NodeHostOptions } from "../hosts/node/index.js";
import { example9 } from "../examples/09-cosocket-echo.js";
import { example13 } from "../examples/13-proxy.js";
import { webConsole } from "../examples/web-console.js";
import WsClient from "ws";
import { argvOptions, serve } from "./ipc.js";
import { restingMemory, WindowSampler } from "./sampler.js";
import { oursWs } from "./ws-hooks.js";
import { startWsEchoServer } from "./ws-baseline.js";

const opts = argvOptions();
const role = opts.role;
const HOST = "127.0.0.1";

/**
 * Ours runs with the defaults unless run.ts was given `--runtime-options` / `--host-options`
 * (JSON, for trying a change of RuntimeOptions or NodeHostOptions without editing src/).
 */
const runtimeOptions = JSON.parse(process.env.COSOCK_BENCH_RUNTIME_OPTIONS || "{}") as Partial<RuntimeOptions>;
const hostOptions = JSON.parse(process.env.COSOCK_BENCH_HOST_OPTIONS || "{}") as NodeHostOptions;
const runtime = () => new Runtime(nodeHost(hostOptions), runtimeOptions);

interface Started {
  port: number;
  connections: () => number;
}

/** Plain node:net server with a connection counter; `handle` sets each connection up. */
function netServer(handle: (s: net.Socket) => void): Promise<Started> {
  let open = 0;
  const server = net.createServer((s) => {
    open++;
    s.on("error", () => undefined);
    s.on("close", () => open--);
    handle(s);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, HOST, () => resolve({ port: (server.address() as net.AddressInfo).port, connections: () => open }));
  });
}

function portOf(listener: Socket): number {
  const port = listener.sockname()?.port;
  if (!port) throw new Error("listener has no port");
  return port;
}

async function start(): Promise<Started> {
  const target = Number(opts.target);
  switch (role) {
    case "echo-ours": {
      const rt = runtime();
      const l = await example9(rt, 0, HOST);
      return { port: portOf(l), connections: () => rt.stat().activeCons };
    }
    case "echo-console": {
      // example 9 with the web console open: one page (a \`ws\` client in this process, which
      // only counts the messages) receives the statistics and the socket table every 500 ms
      const rt = runtime();
      const l = await example9(rt, 0, HOST);
      const web = await webConsole(rt, { echo: { host: HOST, port: portOf(l) }, statEvery: 500 });
      const page = new WsClient(`ws://${HOST}:${web.port}/ws`);
      await new Promise<void>((resolve, reject) => page.once("message", () => resolve()).once("error", reject));
      return { port: portOf(l), connections: () => rt.stat().activeCons - web.sockets.size };
    }
    case "proxy-ours": {
      const rt = runtime();
      const l = await example13(rt, { host: HOST, port: target }, 0, HOST);
      // Each proxied connection is two sockets (client side and destination side).
      return { port: portOf(l), connections: () => rt.stat().activeCons / 2 };
    }
    case "echo-pipe":
      return netServer((s) => s.pipe(s));
    case "echo-raw":
      return netServer((s) => s.on("data", (d) => s.write(d)));
    case "echo-raw-job":
      // echo-raw with each write made from a promise job, as a coroutine's does after `await read()`
      return netServer((s) => s.on("data", (d) => Promise.resolve(d).then((x) => s.write(x))));
    case "proxy-pipe":
      return netServer((c) => {
        const d = net.connect(target, HOST);
        d.on("error", () => c.destroy());
        c.on("error", () => d.destroy());
        c.on("close", () => d.destroy());
        d.on("close", () => c.destroy());
        c.pipe(d);
        d.pipe(c);
      });
    case "writer-ours":
    case "writer-net":
      return { port: 0, connections: () => 0 };
    case "ws-echo-ws": {
      const s = await startWsEchoServer();
      return { port: s.port, connections: s.connections };
    }
    case "ws-echo-ours": {
      if (!oursWs.startEchoServer) throw new Error("ws-hooks.ts: startEchoServer is not filled in yet");
      const s = await oursWs.startEchoServer();
      return { port: s.port, connections: s.connections };
    }
    default:
      throw new Error(`unknown role "${role}"`);
  }
}

// ------------------------------------------------------------------ flow control: the writers

interface WriterReport {
  /** Bytes the writer handed over (accepted by write()). */
  written: number;
  /** Highest bytes held in user space by the writer's side: our queue plus what Node holds. */
  queuedPeak: number;
  /** Highest heap + ArrayBuffer memory over the value before writing started, bytes. */
  memoryPeakDelta: number;
  rssPeakDelta: number;
  cpuMs: number;
}

interface Writer {
  stop(): WriterReport;
}

/** The node:net socket connected to `port` (ours hides it behind the host seam). */
function netSocketTo(port: number): net.Socket | undefined {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  return handles.find((h): h is net.Socket => h instanceof net.Socket && h.remotePort === port);
}

function startWriter(port: number, chunkSize: number): Promise<Writer> {
  const chunk = new Uint8Array(chunkSize).fill(0x63);
  const before = process.memoryUsage();
  const cpu0 = process.cpuUsage();
  let written = 0;
  let queuedPeak = 0;
  let memPeak = 0;
  let rssPeak = 0;
  let stopped = false;
  let queued: () => number = () => 0;
  const sample = () => {
    const m = process.memoryUsage();
    memPeak = Math.max(memPeak, m.heapUsed + m.arrayBuffers);
    rssPeak = Math.max(rssPeak, m.rss);
    queuedPeak = Math.max(queuedPeak, queued());
  };
  const timer = setInterval(sample, 10);
  const report = (): WriterReport => {
    sample();
    clearInterval(timer);
    const cpu = process.cpuUsage(cpu0);
    return {
      written,
      queuedPeak,
      memoryPeakDelta: memPeak - (before.heapUsed + before.arrayBuffers),
      rssPeakDelta: rssPeak - before.rss,
      cpuMs: (cpu.user + cpu.system) / 1000,
    };
  };

  if (role === "writer-ours") {
    const rt = runtime();
    return new Promise((resolve, reject) => {
      rt.event(async (sock: Socket) => {
        try {
          await sock.connect(HOST, port);
        } catch (e) {
          reject(e);
          return;
        }
        const s = netSocketTo(port);
        queued = () => sock.queued + (s?.writableLength ?? 0);
        resolve({
          stop: () => {
            stopped = true;
            const r = report();
            rt.shutdown();
            return r;
          },
        });
        while (!stopped) {
          await sock.write(chunk); // suspends while the reader is behind
          written += chunk.length;
        }
      });
    });
  }

  const s = net.connect(port, HOST);
  s.on("error", () => undefined);
  queued = () => s.writableLength;
  return new Promise((resolve, reject) => {
    s.once("error", reject);
    s.once("connect", () => {
      const pump = () => {
        while (!stopped) {
          written += chunk.length;
          if (!s.write(chunk)) {
            s.once("drain", pump);
            return;
          }
        }
      };
      pump();
      resolve({
        stop: () => {
          stopped = true;
          const r = report();
          s.destroy();
          return r;
        },
      });
    });
  });
}

// ------------------------------------------------------------------ heap snapshot by constructor

/** Counts and self sizes of heap objects by type and name (constructor), from a heap snapshot. */
function heapCounts(): Record<string, [count: number, bytes: number]> {
  const file = v8.writeHeapSnapshot(path.join(os.tmpdir(), `cosock-bench-${process.pid}-${Date.now()}.heapsnapshot`));
  // Parse in this process: the snapshot of a few thousand connections is tens of MB.
  const snap = JSON.parse(fs.readFileSync(file, "utf8")) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  fs.unlinkSync(file);
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const iType = fields.indexOf("type");
  const iName = fields.indexOf("name");
  const iSize = fields.indexOf("self_size");
  const out: Record<string, [number, number]> = {};
  const nodes = snap.nodes;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + iType]];
    let name = snap.strings[nodes[i + iName]];
    if (type === "string" || type === "concatenated string" || type === "sliced string") name = "(strings)";
    else if (type === "code") name = "(code)";
    else if (type === "number") name = "(numbers)";
    if (name.length > 60) name = name.slice(0, 57) + "...";
    const key = `${type} ${name}`;
    const e = (out[key] ??= [0, 0]);
    e[0]++;
    e[1] += nodes[i + iSize];
  }
  return out;
}

// ------------------------------------------------------------------ serving the orchestrator

const sampler = new WindowSampler();
let started: Started | undefined;
let writer: Writer | undefined;

serve({
  ready: async () => {
    started = await start();
    return { port: started.port, pid: process.pid };
  },
  "window-start": () => {
    sampler.start();
    return null;
  },
  "window-stop": () => sampler.stop(),
  memory: () => restingMemory(),
  /** The monotonic clock in µs: the clock of `--cpu-prof` profiles. */
  clock: () => Number(process.hrtime.bigint() / 1000n),
  connections: () => started?.connections() ?? 0,
  "heap-counts": async () => {
    await restingMemory();
    return heapCounts();
  },
  "write-start": async (a: { port: number; chunk: number }) => {
    writer = await startWriter(a.port, a.chunk);
    return null;
  },
  "write-stop": () => {
    const r = writer?.stop();
    writer = undefined;
    return r;
  },
});
