/**
 * Builds the `xsnap` command (XS engine, release build) from the sources shipped in the npm
 * package `@agoric/xsnap` (`moddable/xs` + `xsnap-native` makefiles) into
 * node_modules/.cache/cosock-xs/<variant>/. Idempotent: a stamp file records what was built;
 * when it matches, nothing runs.
 *
 *   npx tsx tools/xs/build-xsnap.ts [release|report|report32]   # prints the path of xsnap
 *
 * Variants:
 * - release:  the plain xsnap command (what `npm run test:xs` runs).
 * - report:   the same with -DmxReport=1: every gc() prints the slot and chunk heap in use
 *             (used by tools/xs/memory.ts).
 * - report32: `report` compiled with -m32, so that slots and chunks have the sizes of a 32-bit
 *             device such as the ESP32 (needs a multilib C compiler: apt-get install gcc-multilib).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export type Variant = "release" | "report" | "report32";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const CACHE = join(ROOT, "node_modules/.cache/cosock-xs");
const PACKAGE = join(ROOT, "node_modules/@agoric/xsnap");

const FLAGS: Record<Variant, string[]> = {
  release: [],
  report: ["-DmxReport=1"],
  report32: ["-DmxReport=1", "-m32"],
};

function platformDir(): "lin" | "mac" {
  if (process.platform === "linux") return "lin";
  if (process.platform === "darwin") return "mac";
  throw new Error(`xsnap builds on Linux and macOS only (this is ${process.platform})`);
}

/** The path of the xsnap command of `variant`, building it first if needed. */
export function ensureXsnap(variant: Variant = "release", log: (s: string) => void = (s) => process.stderr.write(s + "\n")): string {
  if (!existsSync(join(PACKAGE, "package.json"))) throw new Error("@agoric/xsnap is not installed (npm install)");
  const plat = platformDir();
  const buildDir = join(CACHE, variant);
  const binary = join(buildDir, "bin", plat, "release", "xsnap");
  const stampFile = join(buildDir, "stamp.json");
  const pkg = JSON.parse(readFileSync(join(PACKAGE, "package.json"), "utf8")) as { version: string };
  const stamp = JSON.stringify({ xsnap: pkg.version, flags: FLAGS[variant], plat });
  if (existsSync(binary) && existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp) return binary;

  mkdirSync(buildDir, { recursive: true });
  const cc = ["cc", ...FLAGS[variant]].join(" ");
  log(`building xsnap (${variant}) from @agoric/xsnap ${pkg.version} into ${buildDir} …`);
  const t0 = Date.now();
  // Command-line variables override the makefile's: BUILD_DIR keeps node_modules/@agoric/xsnap
  // untouched; CC carries the variant's flags into both compiling and linking.
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
  const variant = (process.argv[2] ?? "release") as Variant;
  if (!(variant in FLAGS)) {
    console.error(`unknown variant "${variant}" (release, report, report32)`);
    process.exit(2);
  }
  const xsnap = ensureXsnap(variant);
  console.log(`${xsnap} (${xsVersion(xsnap)})`);
}
