/** The results as markdown: machine, method, tables, goals, noisy figures. */
import { execFileSync } from "node:child_process";
import * as os from "node:os";
import type { CaseDef, CaseResult, Figure, Settings, Side } from "./cases.js";
import { fmt, median, pct, spread, twoModes } from "./stats.js";

/** Spread across rounds above which a figure is called noisy. */
export const NOISY = 0.1;

export interface Outcome {
  def: CaseDef;
  result?: CaseResult;
  error?: string;
  seconds: number;
}

export interface FigureStat {
  ours: number;
  base: number;
  /** Ratio of the medians. */
  ratio: number;
  /** Per-round ratios (ours of round r / baseline of round r, run back to back): median, min, max. */
  paired: [number, number, number];
  spreadOurs: number;
  spreadBase: number;
  /** true met, false missed, undefined: no goal or nothing to compare. */
  met?: boolean;
}

export function figureStat(o: Outcome, f: Figure): FigureStat | undefined {
  if (!o.result) return undefined;
  const vals = (side: Side) => o.result!.samples[side].map((s) => s[f.key]).filter((v) => v !== undefined);
  const ours = median(vals("ours"));
  const base = median(vals("base"));
  const ratio = ours / base;
  const o1 = vals("ours");
  const b1 = vals("base");
  const pairs = o1.map((x, i) => x / b1[i]).filter((x) => Number.isFinite(x));
  const paired: [number, number, number] = pairs.length ? [median(pairs), Math.min(...pairs), Math.max(...pairs)] : [NaN, NaN, NaN];
  let met: boolean | undefined;
  if (f.goal !== undefined && Number.isFinite(ratio)) met = f.better === "higher" ? ratio >= f.goal : ratio <= f.goal;
  return { ours, base, ratio, paired, spreadOurs: spread(o1), spreadBase: spread(b1), met };
}

const loadAtStart = os
  .loadavg()
  .map((x) => x.toFixed(2))
  .join(", ");

/** The commit measured, and whether the runtime's files differ from it. */
function codeVersion(): string {
  const git = (...args: string[]) => execFileSync("git", args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  try {
    const commit = git("log", "-1", "--format=%h %s");
    const dirty = git("status", "--porcelain", "--", "src", "hosts", "examples");
    return (
      `- Code: commit ${commit}` +
      (dirty
        ? ` **with uncommitted changes** in ${dirty.split("\n").length} file(s) of src/, hosts/, examples/`
        : " (src/, hosts/, examples/ unchanged)")
    );
  } catch {
    return "- Code: not a git checkout";
  }
}

export function machine(): string[] {
  const cpus = os.cpus();
  return [
    codeVersion(),
    `- CPU: ${cpus.length} × ${cpus[0]?.model?.trim() ?? "unknown"} (logical cores: ${os.availableParallelism()})`,
    `- Memory: ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB; ${os.type()} ${os.release()} ${os.arch()}`,
    `- Node ${process.version} (V8 ${process.versions.v8})`,
    `- Load average (1, 5, 15 min) at the start: ${loadAtStart}; at the end: ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(", ")} ` + "(other work on the machine shares its cores with the benchmark)",
  ];
}

function goalCell(f: Figure, st: FigureStat | undefined): string {
  if (f.goal === undefined) return "";
  const sign = f.better === "higher" ? "≥" : "≤";
  const mark = st?.met === undefined ? "" : st.met ? " met" : " **missed**";
  return `${sign} ${f.goal}${mark}`;
}

function spreadCell(st: FigureStat | undefined): string {
  if (!st) return "";
  const one = (x: number) => (Number.isFinite(x) ? `${pct(x)}${x > NOISY ? " ⚠" : ""}` : "—");
  return `${one(st.spreadOurs)} / ${one(st.spreadBase)}`;
}

function rows(outcomes: Outcome[], section: Figure["section"], withGoal: boolean): string[] {
  const out: string[] = [];
  for (const o of outcomes) {
    for (const f of o.def.figures.filter((x) => x.section === section)) {
      const label = `${f.label} (${f.unit})`;
      const cells = [o.def.title, label];
      if (o.error) {
        cells.push(`failed: ${o.error.split("\n")[0].slice(0, 120)}`, "", "", "");
        if (withGoal) cells.push(goalCell(f, undefined));
        cells.push("");
        out.push(`| ${cells.join(" | ")} |`);
        break;
      }
      const st = figureStat(o, f)!;
      const pending = o.def.pending !== undefined;
      const ratio = pending || !Number.isFinite(st.ratio) ? "—" : `${st.ratio.toFixed(2)}×`;
      const [pm, plo, phi] = st.paired;
      const paired =
        pending || !Number.isFinite(pm)
          ? "—"
          : plo === phi
            ? `${pm.toFixed(2)}×`
            : `${pm.toFixed(2)}× (${plo.toFixed(2)}–${phi.toFixed(2)})`;
      cells.push(pending ? "pending" : fmt(st.ours / f.scale), fmt(st.base / f.scale), ratio, paired);
      if (withGoal) cells.push(pending ? (f.goal !== undefined ? `${f.better === "higher" ? "≥" : "≤"} ${f.goal}` : "") : goalCell(f, st));
      cells.push(spreadCell(st));
      out.push(`| ${cells.join(" | ")} |`);
    }
  }
  return out;
}

/** What a run saves (bench/results.json), enough to render the report again (`--render`). */
export interface RunRecord {
  started: string;
  seconds: number;
  settings: Omit<Settings, "log">;
  /** Machine and code lines, taken when the run ended. */
  machine: string[];
  /** Non-default options ours ran with, if any. */
  oursOptions?: { runtime?: string; host?: string };
  outcomes: { id: string; samples?: CaseResult["samples"]; error?: string; seconds: number }[];
  /** Markdown of the profiles taken after the run. */
  profiles: string[];
}

export function render(outcomes: Outcome[], run: RunRecord): string[] {
  const s = run.settings;
  const md: string[] = [];
  md.push(
    "# cosock benchmarks",
    "",
    `Run ${run.started.replace("T", " ").slice(0, 16)} UTC by \`npm run bench${s.quick ? " -- --quick" : ""}\` ` +
      `(${s.rounds} round${s.rounds > 1 ? "s" : ""} per side, ${s.durationMs} ms measured after ${s.warmupMs} ms of load each; ` +
      `${Math.round(run.seconds)} s of measuring, profiles apart). \`npm run bench -- --render\` rebuilds this page from \`bench/results.json\`.`,
    "",
    ...(run.oursOptions
      ? [
          `**Ours ran with non-default options**: runtime ${run.oursOptions.runtime ?? "{}"}, node host ${run.oursOptions.host ?? "{}"}.`,
          "",
        ]
      : []),
    "## Machine",
    "",
    ...run.machine,
    "",
    "## Method",
    "",
    "- Each row runs ours and its baseline in the same run: an unmeasured warm-up of each, then rounds alternating " +
      "ours and baseline (ours first in odd rounds, baseline first in even ones). Figures are medians over the rounds; " +
      "the ratio is ours / baseline (above 1 is better for rates, below 1 for CPU, latency and memory).",
    "- The server under test, the load generator and the proxy's destination are separate Node processes (child_process.fork) " +
      "on 127.0.0.1. The load rows' client is a native one (bench/native/loadgen.c, epoll, one thread, compiled at bench time with the " +
      "system's `cc`): a Node client saturates its own core at 100 connections; its CPU load is reported (*load generator CPU load*). " +
      "The WebSocket echo rows send each side the same masked binary frames from that client. " +
      "The child processes run plain `node` on JavaScript transpiled by TypeScript (bench/build.ts), ours and baselines alike — " +
      "not through tsx, whose `keepNames` transform gives every closure kept in a class field its own property dictionary " +
      "(~3 KB per idle connection of ours, a cost the device and compiled JavaScript do not have).",
    "- Throughput: each connection keeps up to 1 MiB written and not yet echoed; the rate counts echoed bytes. The echo and proxy " +
      "rows start a fresh server process per round (at least 6 and 5 rounds, windows of at least 6 s and 4 s): see *Every run*. " +
      "Request/response: each connection sends 64 B and waits for all of it to come back before the next.",
    "- Proxy: the destination is a plain `node:net` echo (`socket.pipe(socket)`) in its own process, the same for both sides, " +
      "so the server process under test holds only the proxy and its CPU and memory figures are the proxy's alone. " +
      "With two cores, three busy processes share them (load generator, proxy, echo); the CPU-per-MiB figure is the one that does not depend on that.",
    `- Flow control: the writer (in the server process) writes 16 KiB chunks as fast as it is allowed to a reader in the load ` +
      `generator that reads ${(s.readerRate / 2 ** 20).toFixed(0)} MiB/s (pausing its socket when ahead). "Bytes queued in user space" ` +
      "is, for ours, the socket's write queue plus what Node holds for the host socket; for node:net, `writableLength`; sampled every 10 ms.",
    `- Idle connections: a fresh server process per side and round (started with \`--expose-gc\`), warmed with 200 connections, ` +
      `then measured at rest (four full GCs) before and after the load generator opens ${s.idleCount} connections; each connection ` +
      "echoes one byte (WebSocket: completes the upgrade and echoes one 1-byte message) before it goes idle. RSS per connection includes native memory " +
      "(libuv handles, Node's socket wrappers); JS heap is V8's `heapUsed`.",
    "- Steady load: the server's RSS and heap are sampled every 50 ms during the measurement windows of the load rows.",
    "- *Ours / baseline* is the ratio of the medians; *per-round ratios* divide each round's ours by the same round's baseline " +
      "(measured back to back, so slow drifts in the machine's other load cancel out): median (min–max).",
    `- Spread is (max − min) / median over the rounds, ours / baseline; ⚠ marks more than ${NOISY * 100}% (noisy).`,
    "",
    "## Results",
    "",
    "| Case | Figure | Ours | Baseline | Ours / baseline | Per-round ratios | Goal | Spread |",
    "|---|---|---:|---:|---:|---:|---|---|",
    ...rows(outcomes, "main", true),
    "",
    "### Process RSS and heap at steady load",
    "",
    "| Case | Figure | Ours | Baseline | Ours / baseline | Per-round ratios | Spread |",
    "|---|---|---:|---:|---:|---:|---|",
    ...rows(outcomes, "steady", false),
    "",
    "### Details",
    "",
    "| Case | Figure | Ours | Baseline | Ours / baseline | Per-round ratios | Spread |",
    "|---|---|---:|---:|---:|---:|---|",
    ...rows(outcomes, "detail", false),
    "",
  );

  const pending = outcomes.filter((o) => o.def.pending);
  if (pending.length) {
    md.push("Rows marked *pending* ran the baseline only: " + [...new Set(pending.map((o) => o.def.pending))].join("; ") + ".", "");
  }

  md.push("## Goals", "");
  for (const o of outcomes) {
    for (const f of o.def.figures.filter((x) => x.goal !== undefined)) {
      const st = figureStat(o, f);
      const want = `${f.better === "higher" ? "≥" : "≤"} ${f.goal}× baseline`;
      if (o.error) md.push(`- ${o.def.title}, ${f.label}: not measured (the case failed)`);
      else if (o.def.pending) md.push(`- ${o.def.title}, ${f.label}: goal ${want} — not measured yet (${o.def.pending})`);
      else md.push(`- ${o.def.title}, ${f.label}: ${st!.ratio.toFixed(2)}× (goal ${want}) — ${st!.met ? "met" : "**missed**"}`);
    }
  }
  md.push("");

  const noisy: string[] = [];
  for (const o of outcomes)
    for (const f of o.def.figures) {
      const st = figureStat(o, f);
      if (!st) continue;
      const parts: string[] = [];
      if (st.spreadOurs > NOISY && !o.def.pending) parts.push(`ours ${pct(st.spreadOurs)}`);
      if (st.spreadBase > NOISY) parts.push(`baseline ${pct(st.spreadBase)}`);
      if (parts.length) noisy.push(`- ${o.def.title}, ${f.label}: spread ${parts.join(", ")}`);
    }
  md.push("## Noisy figures", "");
  if (s.rounds < 3) md.push(`Only ${s.rounds} round${s.rounds > 1 ? "s" : ""} per side: spreads are not meaningful.`, "");
  else if (noisy.length === 0) md.push(`None: every figure's spread across rounds is within ${NOISY * 100}%.`, "");
  else md.push(`Spread across rounds above ${NOISY * 100}% (treat these figures with care):`, "", ...noisy, "");

  // Every run of the headline figures: a process that fell into a slow mode is one run of its own.
  const runs: string[] = [];
  const modal: string[] = [];
  for (const o of outcomes) {
    if (!o.result) continue;
    for (const f of o.def.figures.filter((x) => x.section === "main")) {
      for (const side of ["ours", "base"] as Side[]) {
        const v = o.result.samples[side].map((x) => x[f.key]).filter((x) => x !== undefined);
        if (v.length === 0) continue;
        const modes = twoModes(v);
        const flag = modes ? " **two modes**" : "";
        runs.push(
          `| ${o.def.title} | ${f.label} (${f.unit}) | ${side === "ours" ? "ours" : "baseline"} | ${v.map((x) => fmt(x / f.scale)).join(", ")} | ${pct(spread(v))}${flag} |`,
        );
        if (modes)
          modal.push(
            `- ${o.def.title}, ${f.label}, ${side === "ours" ? "ours" : "baseline"}: ${modes.nLow} run(s) around ${fmt(modes.low / f.scale)} ` +
              `and ${modes.nHigh} around ${fmt(modes.high / f.scale)} ${f.unit}`,
          );
      }
    }
  }
  if (runs.length) {
    md.push(
      "## Every run",
      "",
      "The headline figure of every round, in the order run (rows marked fresh in `cases.ts` start a new server process per round). " +
        "**Two modes**: the runs split into two clusters further apart than either is wide (stats.ts `twoModes`) — " +
        "a sign of a state a process settles in, not of noise.",
      "",
      "| Case | Figure | Side | Runs | Spread |",
      "|---|---|---|---|---|",
      ...runs,
      "",
    );
    if (modal.length) md.push("Rows in two modes:", "", ...modal, "");
  }

  const failed = outcomes.filter((o) => o.error);
  if (failed.length) {
    md.push("## Failed cases", "");
    for (const o of failed) md.push(`- ${o.def.id}: ${o.error!.split("\n")[0]}`);
    md.push("");
  }
  return md;
}
