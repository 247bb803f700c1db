/**
 * `npm run test:xs [-- NAME…]`: runs the suites listed in tools/xs/suites.ts on the XS engine.
 * Each suite is bundled with the XS test shim (tools/xs/shim/) into one ES module and run by a
 * fresh `xsnap` (built from @agoric/xsnap by tools/xs/build-xsnap.ts). Prints each test's
 * result, the XS version, and a closing "N passed, N failed" line; exits 1 on any failure.
 * NAME arguments keep only the suites whose file path contains one of them; `--file PATH` runs
 * a test file that is not (yet) in the list, to try a suite on XS before adding it.
 *
 * The run is as strict as a device (DEVICE_LIMITS): the `device` build of xsnap, the
 * built-ins frozen before the suite's modules load (tools/xs/shim/freeze.ts), and once they are
 * loaded a JavaScript stack of 384 slots and a heap that may grow by a bounded number of bytes.
 * `--stack N` (slots) and `--heap N` (bytes) change a limit for one run (to measure what a suite
 * needs); `--loose` runs the plain 64-bit xsnap with nothing frozen, xsnap's own large stack and
 * a heap that grows as needed.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { ensureXsnap, ROOT, xsVersion } from "./build-xsnap.js";
import { BUNDLES, bundle, spec } from "./bundle.js";
import { suites, type XsSuite } from "./suites.js";

/** A test that prints nothing for this long (real time) is stopped and fails. */
const SILENCE_LIMIT_MS = Number(process.env.XS_TEST_TIMEOUT_MS) || 120_000;

/**
 * The limits of the strict run, set once the suite's modules are loaded. The stack is the
 * device's (Moddable's creation.stack on esp32: 384 slots, the intrinsics' prototypes included).
 * The heap (64-bit build: 32-byte slots) may grow by `heap` bytes over what the loaded
 * modules hold. See docs/device.md ("The XS test runner").
 */
export const DEVICE_LIMITS = { stack: 384, heap: 0 };

/**
 * Stack slots an xsnap machine holds that a device's machine does not: a device app's machine is
 * a clone of the preloaded one, whose stack keeps only 13 of XS's 156 "stack index" slots (the
 * intrinsics' prototypes stay in the preloaded machine, in flash); xsnap creates its machine from
 * scratch and keeps all 156 on its own stack (XS 13.3: mxStackIndexCount 156, 13 up to
 * mxInstanceInspectorsStackIndex). The limit given to xsnap is the device's plus these.
 */
export const XSNAP_OWN_STACK_SLOTS = 156 - 13;

export interface RunMode {
  /** Freeze the intrinsics before the suite loads. */
  freeze: boolean;
  /** Creation limits (undefined: xsnap's own). */
  limits?: { stack: number; heap: number };
}

interface Counts {
  passed: number;
  failed: number;
  na: number;
  skipped: number;
}

/** The device apps: manifests/<app>/main.ts. */
function deviceApps(): string[] {
  const dir = join(ROOT, "manifests");
  return readdirSync(dir)
    .filter((a) => existsSync(join(dir, a, "main.ts")))
    .sort();
}

/** A manifest's `config` over those of the local manifests it includes (as mcconfig merges them). */
function manifestConfig(path: string): Record<string, unknown> {
  const m = JSON.parse(readFileSync(path, "utf8")) as { include?: string | string[]; config?: Record<string, unknown> };
  const merged: Record<string, unknown> = {};
  for (const inc of ([] as string[]).concat(m.include ?? []))
    if (!inc.startsWith("$(")) Object.assign(merged, manifestConfig(join(dirname(path), inc)));
  return Object.assign(merged, m.config);
}

function entrySource(suite: XsSuite, mode: RunMode): string {
  return [
    `import { installGlobals, run } from ${spec("tools/xs/shim/runner.ts")};`,
    `import { freezeIntrinsics } from ${spec("tools/xs/shim/freeze.ts")};`,
    ...(suite.apps
      ? [
          `import { apps } from ${spec("tools/xs/device/apps.ts")};`,
          ...deviceApps().map(
            (a) =>
              `apps[${JSON.stringify(a)}] = { config: ${JSON.stringify(manifestConfig(join(ROOT, "manifests", a, "manifest.json")))}, load: () => import(${spec(`manifests/${a}/main.ts`)}) };`,
          ),
        ]
      : []),
    `installGlobals();`,
    mode.freeze ? `freezeIntrinsics();` : ``,
    `void run({`, // not awaited: the bundle's one module frame (every binding of every module) would come back on the stack at the end
    `  notApplicable: ${JSON.stringify(suite.notApplicable ?? {})},`,
    `  load: () => import(${spec(suite.file)}),`,
    suite.apps ? `  select: globalThis.cosockSelect,` : ``,
    mode.limits ? `  limits: ${JSON.stringify({ stack: mode.limits.stack + XSNAP_OWN_STACK_SLOTS, heap: mode.limits.heap })},` : ``,
    `});`,
    ``,
  ].join("\n");
}

const hasStdbuf = spawnSync("stdbuf", ["--version"], { stdio: "ignore" }).status === 0;

/**
 * Runs one bundle; prints results as they come; resolves with the suite's counts. `endAtDone`:
 * the run is over once the runner said `@@done` (a device app never ends by itself: xsnap is
 * then stopped).
 */
function runSuite(xsnap: string, file: string, suite: XsSuite, mode: RunMode, endAtDone = false): Promise<Counts> {
  const counts: Counts = { passed: 0, failed: 0, na: 0, skipped: 0 };
  // Line-buffered stdout, so that a stopped xsnap has told us which test it was in.
  // (The device build buffers by line itself.)
  const [cmd, args] = hasStdbuf && !mode.limits ? ["stdbuf", ["-oL", xsnap, file]] : [xsnap, [file]];
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
    } else if (l.startsWith("@@done ")) {
      done = true;
      if (endAtDone) child.kill("SIGKILL");
    } else if (l.startsWith("unhandled rejection:")) {
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

/**
 * An apps suite runs once per device app, each in an xsnap of its own (an app that overflows the
 * stack aborts its machine, as on the device, and must not take the other apps with it): a
 * small module next to the bundle selects the app's tests ("<app>:") and imports the bundle.
 */
async function runApps(xsnap: string, bundled: string, suite: XsSuite, mode: RunMode): Promise<Counts> {
  const total: Counts = { passed: 0, failed: 0, na: 0, skipped: 0 };
  for (const app of deviceApps()) {
    const file = join(dirname(bundled), `run-${app}.mjs`);
    writeFileSync(
      file,
      `globalThis.cosockSelect = ${JSON.stringify(app + ":")};\nawait import(${JSON.stringify("./" + basename(bundled))});\n`,
    );
    const counts = await runSuite(xsnap, file, { ...suite, file: `${suite.file} (${app})` }, mode, true);
    if (counts.passed + counts.failed + counts.na + counts.skipped === 0) {
      counts.failed++;
      console.log(`  ✗ ${app}: no test in ${suite.file} starts with "${app}:"`);
    }
    total.passed += counts.passed;
    total.failed += counts.failed;
    total.na += counts.na;
    total.skipped += counts.skipped;
  }
  return total;
}

/** Takes `--name N` out of args; the number, or undefined. */
function numberOption(args: string[], name: string): number | undefined {
  const at = args.indexOf(name);
  if (at < 0) return undefined;
  const n = Number(args[at + 1]);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} needs a whole number`);
  args.splice(at, 2);
  return n;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const loose = args.includes("--loose");
  if (loose) args.splice(args.indexOf("--loose"), 1);
  const mode: RunMode = loose
    ? { freeze: false }
    : {
        freeze: true,
        limits: {
          stack: numberOption(args, "--stack") ?? DEVICE_LIMITS.stack,
          heap: numberOption(args, "--heap") ?? DEVICE_LIMITS.heap,
        },
      };
  const fileAt = args.indexOf("--file");
  const selected =
    fileAt >= 0 ? [{ file: args[fileAt + 1] ?? "" }] : suites.filter((s) => args.length === 0 || args.some((f) => s.file.includes(f)));
  const filters = args;
  if (selected.length === 0) {
    console.log(`no suite matches ${filters.join(", ")}`);
    return 1;
  }
  const xsnap = ensureXsnap(loose ? "release" : "device");
  const version = xsVersion(xsnap);
  const l = mode.limits;
  const how = l
    ? `built-ins frozen, stack ${l.stack} slots, heap ${l.heap ? `growing by at most ${l.heap} bytes` : "growing freely"} after loading`
    : "loose: nothing frozen, xsnap's stack and heap";
  console.log(`Running ${selected.length} suite(s) on ${version} (${xsnap}); ${how}`);
  const total: Counts = { passed: 0, failed: 0, na: 0, skipped: 0 };
  const t0 = performance.now();
  for (const suite of selected) {
    const name = basename(suite.file).replace(/\.ts$/, "");
    // A split bundle is a folder of module files (the entry, each app, shared chunks).
    const out = suite.apps ? join(BUNDLES, name, name + ".mjs") : join(BUNDLES, name + ".mjs");
    console.log(`\n${suite.file}`);
    let counts: Counts;
    try {
      await bundle(entrySource(suite, mode), out, { split: suite.apps });
      if (suite.apps) counts = await runApps(xsnap, out, suite, mode);
      else counts = await runSuite(xsnap, out, suite, mode);
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
