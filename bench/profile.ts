/**
 * Where the time (or the memory) goes, for rows that miss their goal.
 *
 * - CPU: the server process runs under `node --cpu-prof` while the case's load is on it; only the
 *   samples inside the measurement window count (the profile's clock is the monotonic clock that
 *   `process.hrtime` reads, so the server reports the window in the same units). Self time is
 *   summed by function and by file.
 * - Memory: heap snapshots of the server at rest before and after opening connections, objects
 *   counted by constructor, the difference divided by the connections.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { ROOT, sourceOf } from "./build.js";
import type { Child } from "./ipc.js";
import { startLoadgen, startServer, waitConnections, type CaseDef, type Settings, type Side } from "./cases.js";
import { fmt, sleep } from "./stats.js";

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface CpuSummary {
  /** Sampled ms inside the window, not idle. */
  activeMs: number;
  idleMs: number;
  functions: { name: string; file: string; ms: number }[];
  files: { file: string; ms: number }[];
}

function shortFile(url: string): string {
  if (!url) return "(V8 / native)";
  if (url.startsWith("file://")) {
    const p = fileURLToPath(url);
    const rel = sourceOf(path.relative(ROOT, p));
    return rel.startsWith("node_modules") ? rel.replace(/^node_modules\//, "npm:") : rel;
  }
  return url;
}

export function summarize(profile: CpuProfile, fromUs: number, toUs: number): CpuSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const fn = new Map<string, { name: string; file: string; ms: number }>();
  const files = new Map<string, number>();
  let t = profile.startTime;
  let active = 0;
  let idle = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i];
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000; // this sample lasts until the next one
    if (t < fromUs || t > toUs || dt <= 0) continue;
    const node = byId.get(profile.samples[i])!;
    const name = node.callFrame.functionName || "(anonymous)";
    if (name === "(idle)") {
      idle += dt;
      continue;
    }
    active += dt;
    const file = shortFile(node.callFrame.url);
    const key = `${name}\u0000${file}`;
    const e = fn.get(key) ?? { name, file, ms: 0 };
    e.ms += dt;
    fn.set(key, e);
    files.set(file, (files.get(file) ?? 0) + dt);
  }
  return {
    activeMs: active,
    idleMs: idle,
    functions: [...fn.values()].sort((a, b) => b.ms - a.ms),
    files: [...files].map(([file, ms]) => ({ file, ms })).sort((a, b) => b.ms - a.ms),
  };
}

/** Markdown for one side's CPU summary. */
export function cpuMarkdown(title: string, s: CpuSummary, units: number, unitName: string, top = 15): string[] {
  const share = (ms: number) => `${((ms / s.activeMs) * 100).toFixed(1)}%`;
  const ours = (f: string) => f.startsWith("src/") || f.startsWith("hosts/") || f.startsWith("examples/");
  const groups = new Map<string, number>();
  for (const f of s.files) {
    const g = ours(f.file) ? f.file : f.file.startsWith("node:") ? "node: internals" : f.file;
    groups.set(g, (groups.get(g) ?? 0) + f.ms);
  }
  // Busy time by kind, per unit of work.
  const kinds: Record<string, number> = {
    "socket writes (`writeBuffer` & co., with the kernel's send)": 0,
    "garbage collector": 0,
    "ours (src/, hosts/, examples/)": 0,
    "Node internals (node:*)": 0,
    "other (V8, program, bench)": 0,
  };
  const kindNames = Object.keys(kinds);
  for (const f of s.functions) {
    const k = /^write(Buffer|v|Utf8String|Latin1String)$/.test(f.name)
      ? 0
      : f.name === "(garbage collector)"
        ? 1
        : ours(f.file)
          ? 2
          : f.file.startsWith("node:")
            ? 3
            : 4;
    kinds[kindNames[k]] += f.ms;
  }
  const perUnit = (ms: number) => (units > 0 ? `${fmt((ms * 1000) / units)} µs` : `${fmt(ms)} ms`);
  const out = [
    `**${title}** — ${fmt(s.activeMs)} ms busy of ${fmt(s.activeMs + s.idleMs)} ms sampled` +
      (units > 0 ? `, ${fmt((s.activeMs * 1000) / units)} µs busy per ${unitName}` : ""),
    "",
    `Busy time per ${unitName}: ` + kindNames.map((k) => `${k} ${perUnit(kinds[k])}`).join("; ") + ".",
    "",
    "| Self time | Function | File |",
    "|---:|---|---|",
    ...s.functions.slice(0, top).map((f) => `| ${share(f.ms)} | \`${f.name}\` | ${f.file} |`),
    "",
    "By file (self time): " +
      [...groups]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 10)
        .map(([g, ms]) => `${g} ${share(ms)}`)
        .join(", "),
    "",
  ];
  return out;
}

interface LoadMark {
  t: number;
  count: number;
}

/** Profiles both sides of a load case; returns markdown. */
export async function profileLoadCase(def: CaseDef, s: Settings, dir: string): Promise<string[]> {
  const recipe = def.profile!;
  fs.mkdirSync(dir, { recursive: true });
  const out: string[] = [];
  const summaries: Partial<Record<Side, { sum: CpuSummary; units: number }>> = {};
  for (const side of ["ours", "base"] as Side[]) {
    const kept: Child[] = [];
    try {
      const lg = await startLoadgen();
      kept.push(lg);
      let extra = recipe.args;
      if (recipe.needsDestination) {
        const d = await startServer("echo-pipe");
        kept.push(d.child);
        extra = [...extra, "--target", String(d.port)];
      }
      const name = `${def.id}-${side}.cpuprofile`;
      const file = path.join(dir, name);
      fs.rmSync(file, { force: true });
      const srv = await startServer(recipe.role[side], extra, ["--cpu-prof", `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}`]);
      kept.push(srv.child);
      await lg.call("load-start", recipe.spec!(srv.port));
      await sleep(Math.max(500, s.warmupMs));
      const [m0, t0] = await Promise.all([lg.call<LoadMark>("mark", { phase: "start" }), srv.child.call<number>("clock")]);
      await sleep(Math.max(3000, s.durationMs));
      const [m1, t1] = await Promise.all([lg.call<LoadMark>("mark", { phase: "end" }), srv.child.call<number>("clock")]);
      await lg.call("load-stop");
      await waitConnections(srv.child, 0);
      await srv.child.stop(); // exits normally: the profile is written
      const profile = JSON.parse(fs.readFileSync(file, "utf8")) as CpuProfile;
      summaries[side] = { sum: summarize(profile, t0, t1), units: m1.count - m0.count };
    } finally {
      await Promise.all(kept.map((c) => c.stop()));
    }
  }
  const bytes = def.figures[0].unit.includes("MiB");
  const unitName = bytes ? "MiB" : "round trip";
  const per = (u: number) => (bytes ? u / (1 << 20) : u);
  for (const side of ["ours", "base"] as Side[]) {
    const x = summaries[side]!;
    out.push(
      ...cpuMarkdown(
        side === "ours" ? `Ours (${def.ours})` : `Baseline (${def.base})`,
        x.sum,
        per(x.units),
        unitName,
        side === "ours" ? 20 : 8,
      ),
    );
  }
  out.push(
    `Profiles: \`${path.relative(ROOT, dir)}/${def.id}-ours.cpuprofile\` and \`-base.cpuprofile\` (open in Chrome DevTools → Performance, or VS Code).`,
    "",
  );
  return out;
}

type Counts = Record<string, [number, number]>;

/** Heap objects per idle connection by constructor, both sides; returns markdown. */
export async function profileIdleCase(def: CaseDef, s: Settings): Promise<string[]> {
  const recipe = def.profile!;
  const n = Math.min(2000, s.idleCount);
  const diffs: Partial<Record<Side, { key: string; count: number; bytes: number }[]>> = {};
  const totals: Partial<Record<Side, number>> = {};
  for (const side of ["ours", "base"] as Side[]) {
    const kept: Child[] = [];
    try {
      const lg = await startLoadgen();
      kept.push(lg);
      const srv = await startServer(recipe.role[side], recipe.args);
      kept.push(srv.child);
      await lg.call("idle-open", { port: srv.port, count: 100, batch: 100, ws: recipe.ws });
      await lg.call("idle-close");
      await waitConnections(srv.child, 0);
      const before = await srv.child.call<Counts>("heap-counts", {}, 120_000);
      await lg.call("idle-open", { port: srv.port, count: n, batch: 250, ws: recipe.ws }, 120_000);
      await waitConnections(srv.child, n);
      const after = await srv.child.call<Counts>("heap-counts", {}, 120_000);
      const rows: { key: string; count: number; bytes: number }[] = [];
      let total = 0;
      for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
        const [c0, b0] = before[key] ?? [0, 0];
        const [c1, b1] = after[key] ?? [0, 0];
        total += (b1 - b0) / n;
        rows.push({ key, count: (c1 - c0) / n, bytes: (b1 - b0) / n });
      }
      diffs[side] = rows.sort((a, b) => b.bytes - a.bytes);
      totals[side] = total;
    } finally {
      await Promise.all(kept.map((c) => c.stop()));
    }
  }
  const out: string[] = [];
  for (const side of ["ours", "base"] as Side[]) {
    const rows = diffs[side]!.filter((r) => r.bytes >= 8 || r.count >= 0.5);
    out.push(
      `**${side === "ours" ? `Ours (${def.ours})` : `Baseline (${def.base})`}** — heap snapshot difference at ${n} idle connections: ${fmt(totals[side]!)} B of V8 heap per connection`,
      "",
      "| Bytes / conn | Objects / conn | Heap object (type, constructor or closure name) |",
      "|---:|---:|---|",
      ...rows.slice(0, side === "ours" ? 25 : 12).map((r) => `| ${fmt(r.bytes)} | ${fmt(r.count)} | \`${r.key}\` |`),
      "",
    );
  }
  return out;
}
