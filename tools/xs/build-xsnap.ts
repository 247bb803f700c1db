/**
 * Builds the `xsnap` command (XS engine, release build) from the sources shipped in the npm
 * package `@agoric/xsnap` (`moddable/xs` + `xsnap-native` makefiles) into
 * node_modules/.cache/cosock-xs/<variant>/. Idempotent: a stamp file records what was built;
 * when it matches, nothing runs.
 *
 *   npx tsx tools/xs/build-xsnap.ts [device|release|report|report32]   # prints the path of xsnap
 *
 * Variants:
 * - device:   what `npm run test:xs` runs: the native (64-bit) build, so that it runs on every
 *             machine (stack limits are counted in slots, the same on 32 and 64 bits), with
 *             `cosockLimits()` to give a run the device's JavaScript stack (384 slots) and a heap
 *             budget (see PATCHES below). xsnap.c has its creation values as literals and no option
 *             for them: the build copies xsnap's own sources (not XS's) into
 *             node_modules/.cache/cosock-xs/device-<digest of the patches>/sources and patches that copy; the package
 *             itself is left untouched.
 * - release:  the plain xsnap command (`npm run test:xs -- --loose`).
 * - report:   the same with -DmxReport=1: every gc() prints the slot and chunk heap in use
 *             (used by tools/xs/memory.ts).
 * - report32: `report` compiled with -m32, so that slots and chunks have the sizes of a 32-bit
 *             device such as the ESP32 (needs a multilib C compiler: apt-get install gcc-multilib).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export type Variant = "device" | "release" | "report" | "report32";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const CACHE = join(ROOT, "node_modules/.cache/cosock-xs");
const PACKAGE = join(ROOT, "node_modules/@agoric/xsnap");

const FLAGS: Record<Variant, string[]> = {
  device: [],
  release: [],
  report: ["-DmxReport=1"],
  report32: ["-DmxReport=1", "-m32"],
};

/**
 * What the device variant adds to xsnap (in its own copy of xsnap.c):
 *
 * - `cosockLimits(stackSlots, heapBytes)`, a global host function: from the call on, the
 *   JavaScript stack is `stackSlots` slots deep (counted from its top, so the intrinsics'
 *   prototypes XS keeps there count, as on the device), and the heap may grow by at most
 *   `heapBytes` more bytes (chunks and slots) than it holds now; past either, the machine aborts
 *   ("stack overflow", "memory full") as a device does. 0 leaves a limit as it is. It returns the
 *   stack slots in use at the call. The test runner calls it once the suite's modules are loaded:
 *   a bundle's one module keeps every binding of every bundled module in its frame while it
 *   loads, which a device (one module at a time, preloaded ones already in flash) never has.
 * - The heap grows in small steps (DEVICE_STEPS), so that "may grow by" means what it says.
 * - stdout is line-buffered (so that a stopped run has told which test it was in).
 */
export const DEVICE_STEPS = { chunkBytes: 256 * 1024, slots: 8192 };

const PATCHES: { file?: string; anchor: string; add: string; before?: boolean }[] = [
  {
    anchor: "int main(int argc, char* argv[]) \n",
    before: true,
    add: `/* cosock device variant (tools/xs/build-xsnap.ts) */
static xsSlot* gxCosockStackBottom = NULL;
static void xs_cosockLimits(xsMachine* the)
{
\txsIntegerValue stack = xsToInteger(xsArg(0));
\txsNumberValue heap = xsToNumber(xsArg(1));
\txsIntegerValue used = (xsIntegerValue)(the->stackTop - the->stack);
\tif (stack > 0) {
\t\tif (!gxCosockStackBottom) gxCosockStackBottom = the->stackBottom;
\t\tif ((the->stackTop - stack < gxCosockStackBottom) || (stack <= used + 8))
\t\t\txsRangeError("cosockLimits: a stack of %d slots does not fit (%d in use)", (int)stack, (int)used);
\t\tthe->stackBottom = the->stackTop - stack;
\t}
\tif (heap > 0)
\t\tthe->allocationLimit = the->allocatedSpace + (size_t)heap;
\txsResult = xsInteger(used);
}

`,
  },
  {
    anchor: "\txsCreation* creation = &_creation;\n",
    add: `\tsetvbuf(stdout, NULL, _IOLBF, 0);
\t_creation.initialChunkSize = _creation.incrementalChunkSize = ${DEVICE_STEPS.chunkBytes};
\t_creation.initialHeapCount = _creation.incrementalHeapCount = ${DEVICE_STEPS.slots};
`,
  },
  {
    anchor: '\txsDefine(xsGlobal, xsID("harden"), xsResult, xsDontEnum);\n',
    add: `\txsResult = xsNewHostFunction(xs_cosockLimits, 2);
\txsDefine(xsGlobal, xsID("cosockLimits"), xsResult, xsDontEnum);
`,
  },
  {
    // A stack overflow prints the JavaScript frames on the stack (innermost first) and the
    // slots each holds, so that the chain that overflowed can be found.
    file: "xsnapPlatform.c",
    anchor: '\t\tfxReport(the, "stack overflow\\n");\n',
    add: `\t\t{
\t\t\ttxSlot* frame = the->frame;
\t\t\ttxSlot* below = the->stack;
\t\t\tfxReport(the, "JavaScript stack at the overflow (innermost first; slots: the frame's share; total slots in use):\\n");
\t\t\twhile (frame) {
\t\t\t\tchar name[128];
\t\t\t\tname[0] = 0;
\t\t\t\tfxBufferFrameName(the, name, sizeof(name), frame, "");
\t\t\t\tfxReport(the, "  at %s  %d %d\\n", name, (int)(frame + 5 - below), (int)(the->stackTop - below));
\t\t\t\tbelow = frame + 5;
\t\t\t\tframe = frame->next;
\t\t\t}
\t\t}
`,
  },
  {
    anchor: "\txsDeleteMachine(machine);\n",
    before: true,
    add: `\tif (gxCosockStackBottom) machine->stackBottom = gxCosockStackBottom;
`,
  },
];

/** The device variant's copy of xsnap's sources (TLS_DIR of xsnap.mk), with the creation patch. */
function deviceSources(buildDir: string): string {
  const from = join(PACKAGE, "xsnap-native/xsnap/sources");
  const to = join(buildDir, "sources");
  mkdirSync(to, { recursive: true });
  // Files are written only when they differ, so that make recompiles only what changed.
  const put = (f: string, text: string) => {
    if (!existsSync(join(to, f)) || readFileSync(join(to, f), "utf8") !== text) writeFileSync(join(to, f), text);
  };
  const texts = new Map(readdirSync(from).map((f) => [f, readFileSync(join(from, f), "utf8")]));
  for (const p of PATCHES) {
    const file = p.file ?? "xsnap.c";
    const c = texts.get(file) ?? "";
    if (c.split(p.anchor).length !== 2)
      throw new Error(`${file} of this @agoric/xsnap has not one "${p.anchor.trim()}": the device variant's patch needs updating`);
    texts.set(file, c.replace(p.anchor, p.before ? p.add + p.anchor : p.anchor + p.add));
  }
  for (const [f, text] of texts) put(f, text);
  return to;
}

function platformDir(): "lin" | "mac" {
  if (process.platform === "linux") return "lin";
  if (process.platform === "darwin") return "mac";
  throw new Error(`xsnap builds on Linux and macOS only (this is ${process.platform})`);
}

/** The path of the xsnap command of `variant`, building it first if needed. */
export function ensureXsnap(variant: Variant = "device", log: (s: string) => void = (s) => process.stderr.write(s + "\n")): string {
  if (!existsSync(join(PACKAGE, "package.json"))) throw new Error("@agoric/xsnap is not installed (npm install)");
  const plat = platformDir();
  // The device variant's folder is named by a digest of its patches, so that checkouts with
  // different patches (node_modules may be shared) do not rebuild over each other.
  const buildDir = join(
    CACHE,
    variant === "device" ? `device-${createHash("sha256").update(JSON.stringify(PATCHES)).digest("hex").slice(0, 12)}` : variant,
  );
  const binary = join(buildDir, "bin", plat, "release", "xsnap");
  const stampFile = join(buildDir, "stamp.json");
  const pkg = JSON.parse(readFileSync(join(PACKAGE, "package.json"), "utf8")) as { version: string };
  const stamp = JSON.stringify({ xsnap: pkg.version, flags: FLAGS[variant], plat, ...(variant === "device" ? { patches: PATCHES } : {}) });
  if (existsSync(binary) && existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp) return binary;

  // A build with other flags (or an unfinished one) leaves object files that make would link as
  // they are (its rules do not depend on CC): start from an empty folder.
  rmSync(buildDir, { recursive: true, force: true });
  mkdirSync(buildDir, { recursive: true });
  const cc = ["cc", ...FLAGS[variant]].join(" ");
  log(`building xsnap (${variant}) from @agoric/xsnap ${pkg.version} into ${buildDir} …`);
  const t0 = Date.now();
  // Command-line variables override the makefile's: BUILD_DIR keeps node_modules/@agoric/xsnap
  // untouched; CC carries the variant's flags into both compiling and linking; TLS_DIR (xsnap's
  // own sources) points the device variant at its patched copy.
  const sources = variant === "device" ? [`TLS_DIR=${deviceSources(buildDir)}`] : [];
  execFileSync(
    "make",
    [
      `-j${Math.max(1, availableParallelism())}`,
      "-f",
      "xsnap.mk",
      `MODDABLE=${join(PACKAGE, "moddable")}`,
      "GOAL=release",
      `BUILD_DIR=${buildDir}`,
      `CC=${cc}`,
      ...sources,
    ],
    { cwd: join(PACKAGE, "xsnap-native/xsnap/makefiles", plat), stdio: ["ignore", "ignore", "inherit"] },
  );
  if (!existsSync(binary)) throw new Error(`make finished but ${binary} is missing`);
  writeFileSync(stampFile, stamp);
  log(`built ${binary} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return binary;
}

/** "XS 13.3.0" */
export function xsVersion(xsnap: string): string {
  const out = execFileSync(xsnap, ["-v"], { encoding: "utf8" });
  return /XS \d+\.\d+\.\d+/.exec(out)?.[0] ?? out.trim().split("\n")[0]!;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const variant = (process.argv[2] ?? "device") as Variant;
  if (!(variant in FLAGS)) {
    console.error(`unknown variant "${variant}" (device, release, report, report32)`);
    process.exit(2);
  }
  const xsnap = ensureXsnap(variant);
  console.log(`${xsnap} (${xsVersion(xsnap)})`);
}
