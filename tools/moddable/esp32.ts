/**
 * The JavaScript stages of an ESP32 build without the ESP-IDF: `mcconfig -d -p esp32/<board>`
 * generates the makefile, then make builds only `mc.xs.c` — tsc (TypeScript to JavaScript, type
 * checked), xsc (each module to XS byte code) and xsl (the link of the preloaded modules into
 * the image that goes to flash, where module-level objects that are not frozen draw warnings).
 * The C compile and the link with the ESP-IDF are left out: `IDF_PATH` points at an empty git
 * repository (the makefile only asks it for a version string) and `sdkconfig.h`, which the
 * ESP-IDF would generate, is marked as not to be made (`make -o`).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface JsStages {
  ok: boolean;
  /** xsl warnings (module paths first) and error lines from any stage. */
  warnings: string[];
  errors: string[];
  log: string;
}

function fakeIdf(): string {
  const dir = mkdtempSync(join(tmpdir(), "cosock-no-idf-"));
  const git = (args: string[]) =>
    spawnSync("git", ["-C", dir, "-c", "user.name=cosock", "-c", "user.email=cosock@localhost", ...args], { encoding: "utf8" });
  git(["init", "-q"]);
  git(["commit", "-q", "--allow-empty", "-m", "no ESP-IDF here"]);
  return dir;
}

export function esp32JsStages(root: string, app: string, board = "nodemcu"): JsStages {
  const out = mkdtempSync(join(tmpdir(), `cosock-esp32-${app}-`));
  const idf = fakeIdf();
  try {
    const gen = spawnSync("mcconfig", ["-d", "-p", `esp32/${board}`, "-o", out], { cwd: join(root, "manifests", app), encoding: "utf8" });
    let log = `${gen.stdout}${gen.stderr}`;
    if (gen.status !== 0) return { ok: false, warnings: [], errors: [log.trim()], log };
    const tmp = join(out, "tmp", "esp32", board, "debug", app);
    const sdkconfig = join(tmp, "xsProj-esp32", "build", "config", "sdkconfig.h");
    const make = spawnSync("make", ["-f", "makefile", `IDF_PATH=${idf}`, "-o", sdkconfig, join(tmp, "mc.xs.c")], {
      cwd: tmp,
      encoding: "utf8",
      maxBuffer: 64 << 20,
      env: { ...process.env, IDF_PATH: idf },
    });
    log += `${make.stdout}${make.stderr}`;
    const lines = log.split("\n");
    const warnings = lines.filter((l) => /warning/i.test(l));
    // "file.ts(3,4): error TS…", "file.js:12: error: …", "### error: …", make's "*** … Error 2"
    const errors = lines.filter((l) => /\berror\b(\s+TS\d+)?:|\*\*\*.*\bError\b/i.test(l) && !l.startsWith("# "));
    return { ok: make.status === 0 && errors.length === 0 && /# xsl modules/.test(log), warnings, errors, log };
  } finally {
    rmSync(out, { recursive: true, force: true });
    rmSync(idf, { recursive: true, force: true });
  }
}

/** xsl warnings about our modules (cosock/…), not the SDK's (ssl/…). */
export function ourWarnings(r: JsStages): string[] {
  return r.warnings.filter((w) => /cosock\//.test(w));
}
