/**
 * `npm run test:xs [-- NAME…]`: runs the suites listed in tools/xs/suites.ts on the XS engine.
 * Each suite is bundled with the XS test shim (tools/xs/shim/) into one ES module and run by a
 * fresh `xsnap` (built from @agoric/xsnap by tools/xs/build-xsnap.ts). Prints each test's
 * result, the XS version, and a closing "N passed, N failed" line; exits 1 on any failure.
 * NAME arguments keep only the suites whose file path contains one of them; `--file PATH` runs
 * a test file that is not (yet) in the list, to try a suite on XS before adding it.
 */
import { spawn, spawnSync } from "node:child_process";
import { basename, join } from "node:path";
import { performance } from "node:perf_hooks";
import { ensureXsnap, xsVersion } from "./build-xsnap.js";
import { BUNDLES, bundle, spec } from "./bundle.js";
import { suites, type XsSuite } from "./suites.js";

/** A test that prints nothing for this long (real time) is stopped and fails. */
const SILENCE_LIMIT_MS = Number(process.env.XS_TEST_TIMEOUT_MS) || 120_000;

interface Counts {
  passed: number;
  failed: number;
  na: number;
  skipped: number;
}

function entrySource(suite: XsSuite): string {
  return [
    `import { installGlobals, run } from ${spec("tools/xs/shim/runner.ts")};`,
    `installGlobals();`,
    `await run({`,
    `  notApplicable: ${JSON.stringify(suite.notApplicable ?? {})},`,
    `  load: () => import(${spec(suite.file)}),`,
    `});`,
    ``,
  ].join("\n");
}

const hasStdbuf = spawnSync("stdbuf", ["--version"], { stdio: "ignore" }).status === 0;

/** Runs one bundle; prints results as they come; resolves with the suite's counts. */
function runSuite(xsnap: string, file: string, suite: XsSuite): Promise<Counts> {
  const counts: Counts = { passed: 0, failed: 0, na: 0, skipped: 0 };
  // Line-buffered stdout, so that a stopped xsnap has told us which test it was in.
  const [cmd, args] = hasStdbuf ? ["stdbuf", ["-oL", xsnap, file]] : [xsnap, [file]];
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  let current: string | undefined;
  let done = false;
  let stopped = false;
  let stderr = "";
  let pending = "";
  let watchdog: NodeJS.Timeout | undefined;
  const arm = () => {
    if (watchdog) clearTimeout(watchdog);
    watchdog = setTimeout(() => {
      stopped = true;
      child.kill("SIGKILL");
    }, SILENCE_LIMIT_MS);
  };
  const failNow = (name: string, lines: string[]) => {
    counts.failed++;
    console.log(`  ✗ ${name}`);
    for (const l of lines) console.log(`      ${l}`);
  };
  const line = (l: string) => {
    if (l.startsWith("@@")) arm();
    if (l.startsWith("@@start ")) current = l.slice(8);
    else if (l.startsWith("@@pass ")) {
      const m = /^@@pass (\d+) (.*)$/.exec(l)!;
      counts.passed++;
      current = undefined;
      console.log(`  ✓ ${m[2]} (${m[1]} ms)`);
    } else if (l.startsWith("@@fail ")) {
      counts.failed++;
      current = undefined;
      console.log(`  ✗ ${l.slice(7)}`);
    } else if (l.startsWith("@@| ")) console.log(`      ${l.slice(4)}`);
    else if (l.startsWith("@@na ")) {
      const [name, reason] = l.slice(5).split(" @@ ");
      counts.na++;
      console.log(`  - ${name}\n      not applicable on XS: ${reason}`);
    } else if (l.startsWith("@@skip ")) {
      counts.skipped++;
      console.log(`  ○ ${l.slice(7)} (skipped)`);
    } else if (l.startsWith("@@done ")) done = true;
    else if (l.startsWith("unhandled rejection:")) {
      // XS reports a rejected promise nobody handled when its run loop ends, so the test that
      // left it is not known; the suite fails.
      failNow(`${suite.file}: ${l}`, ["a promise was rejected and never handled (XS reports it when the run ends)"]);
    } else if (l.length) console.log(`    | ${l}`);
  };
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const l of lines) line(l);
  });
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => (stderr += chunk));
  arm();
  return new Promise((resolve) => {
    child.on("close", (code, signal) => {
      if (watchdog) clearTimeout(watchdog);
      if (pending) line(pending);
      if (!done) {
        const why = stopped
          ? `no progress for ${SILENCE_LIMIT_MS / 1000} s: stopped`
          : `xsnap ended early (exit ${code ?? signal}): a pending promise that never settles, or an abort`;
        failNow(current ?? `${suite.file} (the run)`, [why, ...stderr.trim().split("\n").filter(Boolean)]);
      } else if (stderr.trim()) for (const l of stderr.trim().split("\n")) console.log(`    stderr | ${l}`);
      resolve(counts);
    });
  });
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const fileAt = args.indexOf("--file");
  const selected =
    fileAt >= 0
      ? [{ file: args[fileAt + 1] ?? "" }]
      : suites.filter((s) => args.length === 0 || args.some((f) => s.file.includes(f)));
  const filters = args;
  if (selected.length === 0) {
    console.log(`no suite matches ${filters.join(", ")}`);
    return 1;
  }
  const xsnap = ensureXsnap("release");
  const version = xsVersion(xsnap);
  console.log(`Running ${selected.length} suite(s) on ${version} (${xsnap})`);
  const total: Counts = { passed: 0, failed: 0, na: 0, skipped: 0 };
  const t0 = performance.now();
  for (const suite of selected) {
    const out = join(BUNDLES, basename(suite.file).replace(/\.ts$/, ".mjs"));
    console.log(`\n${suite.file}`);
    let counts: Counts;
    try {
      await bundle(entrySource(suite), out);
      counts = await runSuite(xsnap, out, suite);
    } catch (e) {
      console.log(`  ✗ bundling failed: ${(e as Error).message}`);
      counts = { passed: 0, failed: 1, na: 0, skipped: 0 };
    }
    total.passed += counts.passed;
    total.failed += counts.failed;
    total.na += counts.na;
    total.skipped += counts.skipped;
  }
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(`\nOn ${version}: ${selected.length} suites in ${secs} s; ${total.na} not applicable on XS, ${total.skipped} skipped`);
  console.log(`${total.passed} passed, ${total.failed} failed`);
  return total.failed > 0 || total.passed === 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    console.log("0 passed, 1 failed");
    process.exit(1);
  },
);
