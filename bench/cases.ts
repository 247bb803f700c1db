/**
 * The benchmark cases: what runs on each side, how it is measured, and which figures it reports.
 *
 * Every case runs ours and its baseline in the same run, alternating (ours first in odd rounds,
 * the baseline first in even ones) after an unmeasured warm-up of each, and reports per-round
 * samples; run.ts takes medians and ratios. Servers under test and load generators are separate
 * processes (see ipc.ts); everything is on 127.0.0.1.
 */
import * as fs from "node:fs";
import { built } from "./build.js";
import { Child } from "./ipc.js";
import type { LoadSpec, Mark } from "./loadgen.js";
import type { WindowReport, RestingMemory } from "./sampler.js";
import { sleep } from "./stats.js";
import { pendingReason } from "./ws-hooks.js";

// The child processes run the compiled JavaScript (see build.ts).
export const SERVER = built("server.ts");
export const LOADGEN = built("loadgen.ts");
export const PARSE = built("parse.ts");

export type Side = "ours" | "base";
export const SIDES: Side[] = ["ours", "base"];

/** One round's figures for one side, by figure key. */
export type Sample = Record<string, number>;

export interface Figure {
  key: string;
  label: string;
  unit: string;
  /** Raw sample values are divided by this for display. */
  scale: number;
  better: "higher" | "lower";
  /** The goal for ours/baseline: at least this (higher is better) or at most this (lower). */
  goal?: number;
  /** "main": the headline table; "steady": RSS and heap at steady load; "detail": the rest. */
  section: "main" | "steady" | "detail";
}

export interface Settings {
  quick: boolean;
  rounds: number;
  warmupMs: number;
  durationMs: number;
  /** Connections held open in the idle-connection rows. */
  idleCount: number;
  /** Rate of the slow reader, bytes/s. */
  readerRate: number;
  log: (line: string) => void;
}

export interface CaseResult {
  samples: Record<Side, Sample[]>;
}

/** What the profiler needs to put the same load on one server process again. */
export interface ProfileRecipe {
  kind: "load" | "idle";
  role: Record<Side, string>;
  args: string[];
  spec?: (port: number) => LoadSpec;
  ws?: boolean;
  /** A proxy's destination (an echo in its own process) is needed. */
  needsDestination?: boolean;
}

export interface CaseDef {
  id: string;
  group: string;
  title: string;
  /** How ours and the baseline are built, for the report. */
  ours: string;
  base: string;
  figures: Figure[];
  /** Set when ours cannot run yet: only the baseline runs. */
  pending?: string;
  run(s: Settings, pending: boolean): Promise<CaseResult>;
  profile?: ProfileRecipe;
}

const MiB = 1 << 20;
const KiB = 1 << 10;

// ------------------------------------------------------------------ process helpers

/** Starts a server process with `role`; resolves with it and its listening port. */
export async function startServer(role: string, extra: string[] = [], nodeArgs: string[] = []): Promise<{ child: Child; port: number }> {
  const { child, ready } = await Child.start<{ port: number }>(SERVER, ["--role", role, ...extra], {
    name: `server ${role}`,
    nodeArgs: ["--expose-gc", ...nodeArgs],
  });
  return { child, port: ready.port };
}

export async function startLoadgen(): Promise<Child> {
  return (await Child.start(LOADGEN, [], { name: "load generator" })).child;
}

/** Waits until the server reports `n` open connections (or fails after `ms`). */
export async function waitConnections(server: Child, n: number, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  let last = -1;
  while (Date.now() < end) {
    last = await server.call<number>("connections");
    if (last === n) return;
    await sleep(50);
  }
  throw new Error(`${server.name}: ${last} connections open, expected ${n}`);
}

/** Runs `fn` with the processes it starts, stopping them all afterwards whatever happens. */
async function withProcesses<T>(fn: (keep: <C extends Child>(c: C) => C) => Promise<T>): Promise<T> {
  const kept: Child[] = [];
  try {
    return await fn((c) => (kept.push(c), c));
  } finally {
    await Promise.all(kept.map((c) => c.stop()));
  }
}

/** The alternation: an unmeasured warm-up of each side, then rounds, swapping who goes first. */
async function alternate(
  s: Settings,
  sides: Side[],
  once: (side: Side, warmup: boolean) => Promise<Sample>,
  warmupRound = true,
): Promise<Record<Side, Sample[]>> {
  const out: Record<Side, Sample[]> = { ours: [], base: [] };
  if (warmupRound) for (const side of sides) await once(side, true);
  for (let r = 0; r < s.rounds; r++) {
    const order = r % 2 === 0 ? sides : [...sides].reverse();
    for (const side of order) {
      const sample = await once(side, false);
      out[side].push(sample);
      s.log(
        `    round ${r + 1} ${side}: ${Object.entries(sample)
          .map(([k, v]) => `${k}=${typeof v !== "number" || Number.isInteger(v) ? v : v.toPrecision(4)}`)
          .join(" ")}`,
      );
    }
  }
  return out;
}

// ------------------------------------------------------------------ loads against a server

interface LoadCaseOptions {
  role: Record<Side, string>;
  /** The load for the server of `side` listening on `port`. */
  spec: (port: number, side: Side) => LoadSpec;
  /** Per second of `count` (bytes or round trips). */
  unit: "bytes" | "trips";
  /** A plain node:net echo in its own process as the destination (proxy rows). */
  destination?: boolean;
  /**
   * A fresh server process per side and round (each warmed by its own warm-up): a row whose
   * figure depends on the state a process settles in (JIT, heap) shows one run per process, so
   * a process stuck in a slow mode shows as a run of its own (see report.ts, two modes).
   */
  fresh?: boolean;
  /** Rounds at least this many (fresh rows: the processes per side). */
  minRounds?: number;
  /** Measured window at least this long, ms (a slow mode may set in after a while). */
  minDurationMs?: number;
}

/** Puts a load on a server and reports its rate, the server's CPU per unit and memory. */
function loadCase(o: LoadCaseOptions): CaseDef["run"] {
  return (s0, pending) =>
    withProcesses(async (keep) => {
      const s: Settings = {
        ...s0,
        rounds: s0.quick ? s0.rounds : Math.max(s0.rounds, o.minRounds ?? 0),
        durationMs: s0.quick ? s0.durationMs : Math.max(s0.durationMs, o.minDurationMs ?? 0),
      };
      const sides = pending ? (["base"] as Side[]) : SIDES;
      const loadgen = startLoadgen().then(keep);
      let extra: string[] = [];
      if (o.destination) {
        const d = await startServer("echo-pipe");
        keep(d.child);
        extra = ["--target", String(d.port)];
      }
      const servers = {} as Record<Side, { child: Child; port: number }>;
      if (!o.fresh)
        await Promise.all(
          sides.map(async (side) => {
            servers[side] = await startServer(o.role[side], extra);
            keep(servers[side].child);
          }),
        );
      const lg = await loadgen;
      const samples = await alternate(
        s,
        sides,
        async (side, warmup) => {
          const srv = o.fresh ? await startServer(o.role[side], extra) : servers[side];
          try {
            await lg.call("load-start", o.spec(srv.port, side), 60_000);
            await sleep(warmup || o.fresh ? Math.max(s.warmupMs, 300) : s.warmupMs);
            let sample: Sample = {};
            if (!warmup) {
              const [m0] = await Promise.all([lg.call<Mark>("mark", { phase: "start" }), srv.child.call("window-start")]);
              await sleep(s.durationMs);
              const [m1, win] = await Promise.all([lg.call<Mark>("mark", { phase: "end" }), srv.child.call<WindowReport>("window-stop")]);
              if (m1.errors > 0) throw new Error(`${side}: the load generator saw ${m1.errors} connection errors`);
              const n = m1.count - m0.count;
              if (n <= 0) throw new Error(`${side}: no progress during the measurement`);
              const seconds = (m1.t - m0.t) / 1000;
              sample = {
                rate: n / seconds,
                // CPU of the server process per unit: ms per MiB, or µs per round trip.
                cpuPerUnit: o.unit === "bytes" ? win.cpuMs / (n / MiB) : (win.cpuMs * 1000) / n,
                cpuLoad: win.cpuMs / win.wallMs,
                loadgenCpuLoad: (m1.cpuMs - m0.cpuMs) / (m1.t - m0.t),
                rssPeak: win.rssPeak,
                heapMean: win.heapMean,
              };
              if (m1.p50 !== undefined) sample.p50 = m1.p50;
              if (m1.p99 !== undefined) sample.p99 = m1.p99;
            }
            await lg.call("load-stop");
            await waitConnections(srv.child, 0);
            return sample;
          } finally {
            if (o.fresh) await srv.child.stop();
          }
        },
        !o.fresh,
      );
      return { samples };
    });
}

function steadyFigures(): Figure[] {
  return [
    { key: "rssPeak", label: "server RSS, peak", unit: "MiB", scale: MiB, better: "lower", section: "steady" },
    { key: "heapMean", label: "server JS heap used, mean", unit: "MiB", scale: MiB, better: "lower", section: "steady" },
    { key: "cpuLoad", label: "server CPU load", unit: "cores", scale: 1, better: "lower", section: "steady" },
    { key: "loadgenCpuLoad", label: "load generator CPU load", unit: "cores", scale: 1, better: "lower", section: "detail" },
  ];
}

function throughputFigures(goal: number): Figure[] {
  return [
    { key: "rate", label: "throughput", unit: "MiB/s", scale: MiB, better: "higher", goal, section: "main" },
    { key: "cpuPerUnit", label: "server CPU per MiB", unit: "ms", scale: 1, better: "lower", section: "detail" },
    ...steadyFigures(),
  ];
}

function rateFigures(goal: number | undefined, unit = "req/s"): Figure[] {
  return [
    { key: "rate", label: "rate", unit, scale: 1, better: "higher", goal, section: "main" },
    { key: "p50", label: "latency p50", unit: "ms", scale: 1, better: "lower", section: "detail" },
    { key: "p99", label: "latency p99", unit: "ms", scale: 1, better: "lower", section: "detail" },
    { key: "cpuPerUnit", label: "server CPU per round trip", unit: "µs", scale: 1, better: "lower", section: "detail" },
    ...steadyFigures(),
  ];
}

// ------------------------------------------------------------------ idle connections

interface IdleOptions {
  role: Record<Side, string>;
  ws?: boolean;
}

/**
 * Memory per idle connection: for each side and round a fresh server process (so its RSS has not
 * grown before), warmed with a few connections, measured at rest (gc'd) before and after the load
 * generator opens `idleCount` connections that have each done one exchange.
 */
function idleCase(o: IdleOptions): CaseDef["run"] {
  return (s, pending) =>
    withProcesses(async (keep) => {
      checkOpenFiles(s.idleCount + 100);
      const sides = pending ? (["base"] as Side[]) : SIDES;
      const lg = keep(await startLoadgen());
      // No warm-up round: every round has a fresh server, warmed with a few connections first.
      const samples = await alternate(
        s,
        sides,
        async (side): Promise<Sample> => {
          const srv = await startServer(o.role[side]);
          try {
            const warm = Math.min(200, s.idleCount);
            await lg.call("idle-open", { port: srv.port, count: warm, batch: 100, ws: o.ws });
            await lg.call("idle-close");
            await waitConnections(srv.child, 0);
            const m0 = await srv.child.call<RestingMemory>("memory");
            await lg.call("idle-open", { port: srv.port, count: s.idleCount, batch: 250, ws: o.ws }, 120_000);
            await waitConnections(srv.child, s.idleCount);
            const m1 = await srv.child.call<RestingMemory>("memory");
            await lg.call("idle-close");
            const n = s.idleCount;
            return {
              rssPerConn: (m1.rss - m0.rss) / n,
              heapPerConn: (m1.heapUsed - m0.heapUsed) / n,
              heapTotalPerConn: (m1.heapTotal - m0.heapTotal) / n,
              externalPerConn: (m1.external - m0.external) / n,
            };
          } finally {
            await lg.call("idle-close").catch(() => undefined);
            await srv.child.stop();
          }
        },
        false,
      );
      return { samples };
    });
}

/** Each process holds `needed` sockets: fail early and clearly if the open-file limit is lower. */
function checkOpenFiles(needed: number): void {
  let limits: string;
  try {
    limits = fs.readFileSync("/proc/self/limits", "utf8");
  } catch {
    return; // not Linux: let the case find out
  }
  const soft = Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1]);
  if (soft < needed)
    throw new Error(`the idle rows need ${needed} open files per process, the limit is ${soft}: raise it (ulimit -n) or pass --idle N`);
}

function idleFigures(): Figure[] {
  return [
    { key: "rssPerConn", label: "RSS per connection", unit: "B", scale: 1, better: "lower", goal: 1, section: "main" },
    { key: "heapPerConn", label: "JS heap used per connection", unit: "B", scale: 1, better: "lower", section: "detail" },
    { key: "heapTotalPerConn", label: "JS heap committed per connection", unit: "B", scale: 1, better: "lower", section: "detail" },
    { key: "externalPerConn", label: "external (buffers) per connection", unit: "B", scale: 1, better: "lower", section: "detail" },
  ];
}

// ------------------------------------------------------------------ flow control

/**
 * A writer in the server process writes 16 KiB chunks as fast as it may to a reader (in the load
 * generator) that reads at `readerRate`. Reports the rate the reader achieved, the most bytes the
 * writer held in user space (ours: its queue plus what Node holds; node:net: `writableLength`),
 * and its peak memory over its resting value.
 */
const flowRun: CaseDef["run"] = (s) =>
  withProcesses(async (keep) => {
    const loadgen = startLoadgen().then(keep);
    const writers = {} as Record<Side, Child>;
    await Promise.all(
      SIDES.map(async (side) => (writers[side] = keep((await startServer(side === "ours" ? "writer-ours" : "writer-net")).child))),
    );
    const lg = await loadgen;
    const samples = await alternate(s, SIDES, async (side, warmup) => {
      const { port } = await lg.call<{ port: number }>("reader-listen");
      await writers[side].call("write-start", { port, chunk: 16 * KiB });
      const durationMs = warmup ? 300 : s.durationMs;
      const got = await lg.call<{ rate: number }>("reader-measure", { rate: s.readerRate, warmupMs: s.warmupMs, durationMs });
      const w = await writers[side].call<{
        queuedPeak: number;
        memoryPeakDelta: number;
        rssPeakDelta: number;
        cpuMs: number;
        written: number;
      }>("write-stop");
      await lg.call("reader-close");
      return {
        rate: got.rate,
        ofReader: got.rate / s.readerRate,
        queuedPeak: w.queuedPeak,
        memoryPeakDelta: w.memoryPeakDelta,
        rssPeakDelta: w.rssPeakDelta,
      };
    });
    return { samples };
  });

// ------------------------------------------------------------------ WebSocket frame parsing

function parseRun(frameSize: number): CaseDef["run"] {
  return (s, pending) =>
    withProcesses(async (keep) => {
      const sides = pending ? (["base"] as Side[]) : SIDES;
      const procs = {} as Record<Side, Child>;
      await Promise.all(sides.map(async (side) => (procs[side] = keep((await Child.start(PARSE, [], { name: `parser ${side}` })).child))));
      const samples = await alternate(s, sides, async (side, warmup): Promise<Sample> => {
        const r = await procs[side].call<{ rate: number }>("parse", {
          side,
          frameSize,
          warmupMs: warmup ? 300 : Math.min(200, s.warmupMs),
          durationMs: warmup ? 100 : s.durationMs,
        });
        return warmup ? {} : { rate: r.rate };
      });
      return { samples };
    });
}

// ------------------------------------------------------------------ the list

const tcpEcho = { ours: "echo-ours", base: "echo-raw" };
/** Ours with the web console open against ours with it closed: what the statistics stream costs. */
const consoleOpen = { ours: "echo-console", base: "echo-ours" };

export function cases(s: Settings): CaseDef[] {
  const list: CaseDef[] = [
    {
      id: "echo-16k",
      group: "TCP",
      title: "TCP echo, 16 KiB chunks, 1 connection",
      ours: "example 9 (cosocket echo)",
      base: "node:net `socket.pipe(socket)`",
      figures: throughputFigures(0.9),
      run: loadCase({
        role: { ours: "echo-ours", base: "echo-pipe" },
        spec: (port) => ({ kind: "stream", port, chunk: 16 * KiB, conns: 1, inflight: 1024 * KiB, native: true }),
        unit: "bytes",
        // A slow mode that a process falls into and stays in (issue 15) shows only across
        // processes and over seconds: one fresh process per run, at least 6 runs of 6 s per side.
        fresh: true,
        minRounds: 6,
        minDurationMs: 6000,
      }),
      profile: {
        kind: "load",
        role: { ours: "echo-ours", base: "echo-pipe" },
        args: [],
        spec: (port) => ({ kind: "stream", port, chunk: 16 * KiB, conns: 1, inflight: 1024 * KiB, native: true }),
      },
    },
    ...[1, 100].map(
      (conns): CaseDef => ({
        id: `rr-64-${conns}`,
        group: "TCP",
        title: `TCP echo, 64 B request/response, ${conns} connection${conns > 1 ? "s" : ""}`,
        ours: "example 9 (cosocket echo)",
        base: "node:net `'data'` → `write()`",
        figures: rateFigures(conns > 1 ? 1 : 0.8), // issue 15: at 100 connections, at least raw's rate
        run: loadCase({
          role: tcpEcho,
          spec: (port) => ({ kind: "rr", port, size: 64, conns, native: true }),
          unit: "trips",
          minDurationMs: 3000,
        }),
        profile: { kind: "load", role: tcpEcho, args: [], spec: (port) => ({ kind: "rr", port, size: 64, conns, native: true }) },
      }),
    ),
    {
      id: "rr-64-100-job",
      group: "TCP",
      title: "TCP echo, 64 B request/response, 100 connections: node:net writing from a promise job vs from the event",
      ours: "node:net, `'data'` → a promise job → `write()` (what a coroutine's `await read()` adds)",
      base: "node:net `'data'` → `write()`",
      figures: rateFigures(undefined), // a reference for the reading, not a goal of ours
      run: loadCase({
        role: { ours: "echo-raw-job", base: "echo-raw" },
        spec: (port) => ({ kind: "rr", port, size: 64, conns: 100, native: true }),
        unit: "trips",
        minDurationMs: 3000,
      }),
    },
    {
      id: "console-echo-16k",
      group: "Console",
      title: "TCP echo, 16 KiB chunks, 1 connection: web console open vs closed",
      ours: "example 9 + web console, one page (stats and 20 socket rows every 500 ms)",
      base: "example 9, no console",
      figures: throughputFigures(0.95),
      run: loadCase({
        role: consoleOpen,
        spec: (port) => ({ kind: "stream", port, chunk: 16 * KiB, conns: 1, inflight: 1024 * KiB }),
        unit: "bytes",
      }),
    },
    {
      id: "console-rr-64-100",
      group: "Console",
      title: "TCP echo, 64 B request/response, 100 connections: web console open vs closed",
      ours: "example 9 + web console, one page (stats and 20 socket rows every 500 ms)",
      base: "example 9, no console",
      figures: rateFigures(0.95),
      run: loadCase({ role: consoleOpen, spec: (port) => ({ kind: "rr", port, size: 64, conns: 100 }), unit: "trips" }),
    },
    {
      id: "proxy-64k",
      group: "TCP",
      title: "Proxy, 64 KiB chunks, 1 connection (to an echo in its own process)",
      ours: "example 13 (cosocket proxy)",
      base: "node:net pipe both ways",
      figures: throughputFigures(0.9),
      run: loadCase({
        role: { ours: "proxy-ours", base: "proxy-pipe" },
        spec: (port) => ({ kind: "stream", port, chunk: 64 * KiB, conns: 1, inflight: 1024 * KiB, native: true }),
        unit: "bytes",
        destination: true,
        fresh: true,
        minRounds: 5,
        minDurationMs: 4000,
      }),
      profile: {
        kind: "load",
        role: { ours: "proxy-ours", base: "proxy-pipe" },
        args: [],
        spec: (port) => ({ kind: "stream", port, chunk: 64 * KiB, conns: 1, inflight: 1024 * KiB, native: true }),
        needsDestination: true,
      },
    },
    {
      id: "flow-slow-reader",
      group: "TCP",
      title: `Flow control: 16 KiB writes to a reader taking ${(s.readerRate / MiB).toFixed(0)} MiB/s`,
      ours: "a cosocket writer (`await sock.write`)",
      base: "node:net `write()` / `'drain'`",
      figures: [
        { key: "rate", label: "reader's achieved rate", unit: "MiB/s", scale: MiB, better: "higher", section: "main" },
        { key: "queuedPeak", label: "writer: bytes queued in user space, peak", unit: "KiB", scale: KiB, better: "lower", section: "main" },
        {
          key: "memoryPeakDelta",
          label: "writer: heap + buffers over rest, peak",
          unit: "KiB",
          scale: KiB,
          better: "lower",
          section: "detail",
        },
        { key: "rssPeakDelta", label: "writer: RSS over rest, peak", unit: "MiB", scale: MiB, better: "lower", section: "detail" },
        { key: "ofReader", label: "achieved / reader's rate", unit: "×", scale: 1, better: "higher", section: "detail" },
      ],
      run: flowRun,
    },
    {
      id: "idle-tcp",
      group: "TCP",
      title: `Idle connections: memory per connection at ${s.idleCount.toLocaleString("en")} open`,
      ours: "example 9 (cosocket echo)",
      base: "node:net echo (`'data'` → `write()`)",
      figures: idleFigures(),
      run: idleCase({ role: tcpEcho }),
      profile: { kind: "idle", role: tcpEcho, args: [] },
    },
    // WebSocket echo rows: the servers under test get the same client, the native load
    // generator's (one masked binary frame per message), so the row compares servers only.
    ...[
      [64, 1],
      [1024, 1],
      [16 * KiB, 1],
      [60 * KiB, 1],
      [64, 100],
    ].map(
      ([size, conns]): CaseDef => ({
        id: `ws-echo-${size >= KiB ? `${size / KiB}k` : size}${conns > 1 ? `-${conns}` : ""}`,
        group: "WebSocket",
        title: `WebSocket echo, ${size >= KiB ? `${size / KiB} KiB` : `${size} B`} messages, ${conns} connection${conns > 1 ? "s" : ""}`,
        ours: "our WebSocket server (ws-hooks.ts)",
        base: "`ws` server",
        figures: rateFigures(1.0, "msg/s"),
        pending: pendingReason("startEchoServer"),
        run: loadCase({
          role: { ours: "ws-echo-ours", base: "ws-echo-ws" },
          spec: (port, side) => ({ kind: "ws-echo", side, port, size, conns, native: true }),
          unit: "trips",
          minDurationMs: 3000,
        }),
        profile: {
          kind: "load",
          role: { ours: "ws-echo-ours", base: "ws-echo-ws" },
          args: [],
          spec: (port) => ({ kind: "ws-echo", side: "base", port, size, conns, native: true }),
        },
      }),
    ),
    ...[64, 16 * KiB].map(
      (size): CaseDef => ({
        id: `ws-parse-${size >= KiB ? `${size / KiB}k` : size}`,
        group: "WebSocket",
        title: `WebSocket frame parsing, masked ${size >= KiB ? `${size / KiB} KiB` : `${size} B`} binary frames`,
        ours: "our frame parser",
        base: "`ws` Receiver",
        figures: [{ key: "rate", label: "parse rate", unit: "MB/s", scale: 1e6, better: "higher", goal: 1.0, section: "main" }],
        pending: pendingReason("createParser"),
        run: parseRun(size),
      }),
    ),
    {
      id: "idle-ws",
      group: "WebSocket",
      title: `Idle WebSocket connections: memory per connection at ${s.idleCount.toLocaleString("en")} open`,
      ours: "our WebSocket server",
      base: "`ws` server",
      figures: idleFigures(),
      pending: pendingReason("startEchoServer"),
      run: idleCase({ role: { ours: "ws-echo-ours", base: "ws-echo-ws" }, ws: true }),
    },
  ];
  return list;
}
