/**
 * Building a cosock app with the Moddable SDK and running it on the desktop simulator.
 *
 * - `sdk()`: is the SDK usable here ($MODDABLE set, mcconfig, mcsim, Xvfb and TypeScript's tsc
 *   on the PATH), or why not.
 * - `buildApp()`: `mcconfig -d -m -p lin -t build` into a fresh empty directory. `-t build`
 *   makes only the app: the default target ("all") of the generated lin makefile also runs
 *   `pkill mcsim` and `pkill serial2xsbug` (every simulator on the machine, not only ours) and
 *   launches the xsbug GUI and a simulator by itself.
 * - `startDisplay()`: a private Xvfb display (`-displayfd` picks a free number).
 * - `runApp()`: `mcsim <build>/bin/lin/mc/debug/<app>/mc.so` on that display, talking to our
 *   xsbug listener (XSBUG_HOST/XSBUG_PORT are read by the app's XS machine at start).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { XsbugListener, type XsbugEvent } from "./xsbug.js";

export interface Sdk {
  moddable: string;
  mcconfig: string;
  mcsim: string;
  version: string;
}

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const p = join(dir, cmd);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

/** The SDK, or a one-line reason why the suite cannot run here. */
export function sdk(): Sdk | { reason: string } {
  const moddable = process.env.MODDABLE;
  if (!moddable) return { reason: "$MODDABLE is not set (a built Moddable SDK is needed)" };
  const mcconfig = which("mcconfig");
  if (!mcconfig) return { reason: "mcconfig is not on the PATH (add $MODDABLE/build/bin/lin/release)" };
  const mcsim = join(moddable, "build/bin/lin/release/mcsim");
  if (!existsSync(mcsim)) return { reason: `${mcsim} is missing (the SDK's host tools are not built)` };
  if (!which("Xvfb")) return { reason: "Xvfb is not on the PATH (the simulator needs an X display)" };
  if (!which("tsc")) return { reason: "tsc is not on the PATH (mcconfig compiles the .ts modules with it; add node_modules/.bin)" };
  const r = spawnSync("git", ["-C", moddable, "describe", "--tags"], { encoding: "utf8" });
  const version = r.status === 0 ? r.stdout.trim() : "unknown version";
  return { moddable, mcconfig, mcsim, version };
}

export interface Built {
  app: string;
  dir: string;
  so: string;
  log: string;
}

/**
 * Builds manifests/<app> for lin with `config` overrides (name=value on the command line).
 * Throws with the build's output when it fails.
 */
export function buildApp(root: string, app: string, config: Record<string, string | number | boolean>, platform = "lin"): Built {
  return buildAppIn(join(root, "manifests", app), app, config, platform);
}

/** buildApp for an app in any directory (`appDir`, whose last name is `app`). */
export function buildAppIn(appDir: string, app: string, config: Record<string, string | number | boolean>, platform = "lin"): Built {
  const dir = mkdtempSync(join(tmpdir(), `cosock-mc-${app}-`));
  const args = ["-d", "-m", "-p", platform, "-t", "build", "-o", dir, ...Object.entries(config).map(([k, v]) => `${k}=${v}`)];
  const r = spawnSync("mcconfig", args, { cwd: appDir, encoding: "utf8", maxBuffer: 64 << 20 });
  const log = `${r.stdout ?? ""}${r.stderr ?? ""}`;
  const so = join(dir, "bin", platform, "mc", "debug", app, "mc.so");
  if (r.status !== 0 || !existsSync(so)) {
    const tail = log.trim().split("\n").slice(-25).join("\n");
    throw new Error(`mcconfig ${args.join(" ")} failed (status ${r.status}):\n${tail}`);
  }
  return { app, dir, so, log };
}

export interface Display {
  name: string;
  stop(): void;
}

/** Starts Xvfb on a free display number. */
export function startDisplay(): Promise<Display> {
  return new Promise((resolve, reject) => {
    const x = spawn("Xvfb", ["-displayfd", "3", "-nolisten", "tcp", "-screen", "0", "800x600x24"], {
      stdio: ["ignore", "ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    x.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    x.on("error", reject);
    x.on("exit", (code) => reject(new Error(`Xvfb exited (${code}): ${err.trim().split("\n").slice(-3).join(" / ")}`)));
    (x.stdio[3] as NodeJS.ReadableStream).on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("\n")) {
        x.removeAllListeners("exit");
        resolve({ name: `:${out.trim()}`, stop: () => x.kill("SIGTERM") });
      }
    });
  });
}

export interface RunningApp {
  xsbug: XsbugListener;
  child: ChildProcess;
  /** The simulator's own stdout/stderr (XS aborts are printed there too). */
  output(): string;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** Runs a built app in mcsim on `display`; resolves once its xsbug listener is up. */
export async function runApp(s: Sdk, built: Built, display: Display, echo?: (e: XsbugEvent) => void): Promise<RunningApp> {
  const xsbug = new XsbugListener(echo);
  const port = await xsbug.listen();
  const child = spawn(s.mcsim, [built.so], {
    env: { ...process.env, DISPLAY: display.name, XSBUG_HOST: "127.0.0.1", XSBUG_PORT: String(port), GDK_BACKEND: "x11" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code, signal) => resolve(code ?? (signal ? -1 : null))));
  return {
    xsbug,
    child,
    output: () => out,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), 3000);
        await exited;
        clearTimeout(t);
      }
      await xsbug.close();
    },
  };
}
