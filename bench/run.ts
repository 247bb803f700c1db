/**
 * `npm run bench`: runs every case (ours against its baseline, alternating, several rounds),
 * prints the table and writes it to bench/results.md (raw samples to bench/results.json). Rows
 * that miss their goal are profiled afterwards (CPU with `node --cpu-prof`, idle memory with heap
 * snapshots) and the summary is added. bench/analysis.md, if present, is appended as written.
 *
 * Options:
 *   --quick            1 round, short windows, 500 idle connections, no profiling; writes
 *                      bench/results.quick.{md,json}. Under a minute: the CI smoke check.
 *   --only a,b         only the cases whose id starts with one of these: echo-16k, rr-64-1,
 *                      rr-64-100, console-echo-16k, console-rr-64-100, proxy-64k, flow-slow-reader, idle-tcp,
 *                      ws-echo-*, ws-parse-*, idle-ws
 *   --rounds N  --duration MS  --warmup MS  --idle N
 *   --profile          profile every profilable row, met or not;  --no-profile  never
 *   --out FILE         where to write the markdown (the JSON goes next to it)
 *   --render           no run: rebuild the markdown from the JSON (after editing analysis.md)
 *   --runtime-options JSON, --host-options JSON
 *                      RuntimeOptions / NodeHostOptions for ours, to try a change without editing
 *                      src/; the report names them. Default: the runtime's defaults.
 *
 * Exit status: 1 if a case failed (a process crashed, a client saw errors, a timeout); ratios
 * never fail the run.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { buildForBench } from "./build.js";
import { buildNativeLoadgen } from "./native.js";
import { cases, type Settings } from "./cases.js";
import { argvOptions } from "./ipc.js";
import { profileIdleCase, profileLoadCase } from "./profile.js";
import { figureStat, machine, render, type Outcome, type RunRecord } from "./report.js";

const BENCH = fileURLToPath(new URL(".", import.meta.url));
const opts = argvOptions();
const quick = opts.quick === "true";
const num = (k: string, d: number) => (opts[k] !== undefined ? Number(opts[k]) : d);

const settings: Settings = {
  quick,
  rounds: num("rounds", quick ? 1 : 5),
  warmupMs: num("warmup", quick ? 200 : 500),
  durationMs: num("duration", quick ? 400 : 2000),
  idleCount: num("idle", quick ? 500 : 10_000),
  readerRate: 4 * 2 ** 20,
  log: (line) => process.stderr.write(line + "\n"),
};
const mdFile = opts.out ?? path.join(BENCH, quick ? "results.quick.md" : "results.md");
const jsonFile = mdFile.replace(/\.md$/, "") + ".json";
const only = opts.only?.split(",").filter(Boolean);
const profileMode = opts["no-profile"] === "true" || quick ? "never" : opts.profile === "true" ? "all" : "missed";
if (opts["runtime-options"]) process.env.COSOCK_BENCH_RUNTIME_OPTIONS = JSON.stringify(JSON.parse(opts["runtime-options"]));
if (opts["host-options"]) process.env.COSOCK_BENCH_HOST_OPTIONS = JSON.stringify(JSON.parse(opts["host-options"]));

/** The case definitions matched to a record's outcomes. */
function outcomesOf(run: RunRecord): Outcome[] {
  const defs = new Map(cases({ ...run.settings, log: settings.log }).map((d) => [d.id, d]));
  return run.outcomes.flatMap((o) => {
    const def = defs.get(o.id);
    if (!def) return [];
    return [{ def, result: o.samples ? { samples: o.samples } : undefined, error: o.error, seconds: o.seconds }];
  });
}

/** Writes the markdown (and prints it): tables, profiles, then the hand-written analysis. */
function publish(run: RunRecord): void {
  const md = render(outcomesOf(run), run);
  md.push(...run.profiles);
  const analysis = path.join(BENCH, "analysis.md");
  if (!run.settings.quick && fs.existsSync(analysis)) md.push(fs.readFileSync(analysis, "utf8").trimEnd(), "");
  const text = md.join("\n");
  process.stdout.write(text + "\n");
  fs.writeFileSync(mdFile, text + "\n");
  settings.log(`wrote ${path.relative(process.cwd(), mdFile)}`);
}

async function runAll(): Promise<number> {
  const started = new Date();
  const t0 = performance.now();
  settings.log(`compiled ${buildForBench()} files to bench/.build/ for the child processes`);
  settings.log(`compiled the native load generator: ${path.relative(process.cwd(), buildNativeLoadgen())}`);
  const defs = cases(settings).filter((c) => !only || only.some((p) => c.id.startsWith(p)));
  if (defs.length === 0) throw new Error(`no case matches --only ${opts.only}`);
  const outcomes: Outcome[] = [];
  for (const def of defs) {
    settings.log(`${def.id}: ${def.title}${def.pending ? ` (baseline only — ${def.pending})` : ""}`);
    const c0 = performance.now();
    try {
      const result = await def.run(settings, def.pending !== undefined);
      outcomes.push({ def, result, seconds: (performance.now() - c0) / 1000 });
    } catch (e) {
      const error = (e as Error)?.stack ?? String(e);
      settings.log(`  FAILED: ${error}`);
      outcomes.push({ def, error, seconds: (performance.now() - c0) / 1000 });
    }
  }
  const seconds = (performance.now() - t0) / 1000;

  // Profiles of the rows that miss their goal.
  const profiles: string[] = [];
  const toProfile = outcomes.filter(
    (o) =>
      o.result &&
      !o.def.pending &&
      o.def.profile &&
      (profileMode === "all" || (profileMode === "missed" && o.def.figures.some((f) => figureStat(o, f)?.met === false))),
  );
  if (toProfile.length) {
    profiles.push("## Where the time and memory go (profiles)", "");
    profiles.push(
      "Taken after the measured rounds, one server process per side under the same load. CPU: `node --cpu-prof`, " +
        "self time of the samples inside a 3 s window; `writeBuffer` is Node's native socket write and includes the " +
        "kernel's work for the write system call (on loopback, delivering the bytes to the peer too). Idle memory: " +
        "heap snapshots at rest before and after opening the connections, by constructor.",
      "",
    );
    for (const o of toProfile) {
      settings.log(`profiling ${o.def.id}`);
      profiles.push(`### ${o.def.title}`, "");
      try {
        if (o.def.profile!.kind === "idle") profiles.push(...(await profileIdleCase(o.def, settings)));
        else profiles.push(...(await profileLoadCase(o.def, settings, path.join(BENCH, "profiles"))));
      } catch (e) {
        profiles.push(`Profiling failed: ${(e as Error)?.message ?? e}`, "");
      }
    }
  }

  const { log: _log, ...plain } = settings;
  const run: RunRecord = {
    started: started.toISOString(),
    seconds,
    settings: plain,
    machine: machine(),
    oursOptions:
      process.env.COSOCK_BENCH_RUNTIME_OPTIONS || process.env.COSOCK_BENCH_HOST_OPTIONS
        ? { runtime: process.env.COSOCK_BENCH_RUNTIME_OPTIONS, host: process.env.COSOCK_BENCH_HOST_OPTIONS }
        : undefined,
    outcomes: outcomes.map((o) => ({ id: o.def.id, samples: o.result?.samples, error: o.error, seconds: o.seconds })),
    profiles,
  };
  fs.writeFileSync(jsonFile, JSON.stringify(run, null, 1) + "\n");
  publish(run);
  settings.log(`${Math.round((performance.now() - t0) / 1000)} s in all`);
  const failed = outcomes.filter((o) => o.error);
  if (failed.length) settings.log(`${failed.length} case(s) failed: ${failed.map((o) => o.def.id).join(", ")}`);
  return failed.length ? 1 : 0;
}

async function main(): Promise<number> {
  if (opts.render === "true") {
    publish(JSON.parse(fs.readFileSync(jsonFile, "utf8")) as RunRecord);
    return 0;
  }
  return runAll();
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`bench: ${(e as Error)?.stack ?? e}\n`);
    process.exit(1);
  },
);
