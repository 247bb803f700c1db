/**
 * The native load generator (native/loadgen.c): compiled at bench time with the system's C
 * compiler into bench/.build/, and driven over its stdin/stdout (see the C file's header).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { BUILD, ROOT } from "./build.js";

/**
 * Where the binary is. The load generator process runs compiled in bench/.build/, where ROOT and
 * BUILD point elsewhere: it takes the path from the orchestrator (which sets the variable).
 */
export const NATIVE_LOADGEN = process.env.COSOCK_NATIVE_LOADGEN || path.join(BUILD, "loadgen-native");

/** Compiles native/loadgen.c (`cc -O2`); throws with the compiler's message if it cannot. */
export function buildNativeLoadgen(): string {
  const src = path.join(ROOT, "bench", "native", "loadgen.c");
  fs.mkdirSync(BUILD, { recursive: true });
  const cc = process.env.CC || "cc";
  try {
    execFileSync(cc, ["-O2", "-Wall", "-o", NATIVE_LOADGEN, src], { stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`cannot compile the native load generator with ${cc}: ${err.stderr?.toString() || err.message}`);
  }
  process.env.COSOCK_NATIVE_LOADGEN = NATIVE_LOADGEN;
  return NATIVE_LOADGEN;
}

export interface NativeMark {
  count: number;
  errors: number;
  t: number;
  cpuMs: number;
  p50?: number;
  p99?: number;
}

/** A running native load: `mark()` reads its counters, `stop()` ends it. */
export class NativeLoad {
  readonly #proc: ChildProcess;
  #buf = "";
  #waiting: ((line: string) => void)[] = [];
  #exited = false;

  private constructor(proc: ChildProcess) {
    this.#proc = proc;
    proc.stdout!.setEncoding("utf8");
    proc.stdout!.on("data", (d: string) => {
      this.#buf += d;
      let nl;
      while ((nl = this.#buf.indexOf("\n")) >= 0) {
        const line = this.#buf.slice(0, nl);
        this.#buf = this.#buf.slice(nl + 1);
        this.#waiting.shift()?.(line);
      }
    });
    proc.on("error", (e) => {
      this.#exited = true;
      for (const w of this.#waiting.splice(0)) w(`error ${e.message}`);
    });
    proc.on("exit", (code) => {
      this.#exited = true;
      for (const w of this.#waiting.splice(0)) w(`exit ${code}`);
    });
  }

  #line(): Promise<string> {
    if (this.#exited) return Promise.resolve("exit");
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  static async start(mode: "stream" | "rr" | "ws", port: number, conns: number, size: number, inflight = 0): Promise<NativeLoad> {
    const proc = spawn(NATIVE_LOADGEN, [mode, String(port), String(conns), String(size), String(inflight)], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const load = new NativeLoad(proc);
    const first = await load.#line();
    if (first !== "ready") throw new Error(`native load generator: ${first}`);
    return load;
  }

  async mark(): Promise<NativeMark> {
    const reply = this.#line();
    this.#proc.stdin!.write("mark\n");
    const line = await reply;
    const [count, errors, t, cpuMs, p50, p99] = line.split(" ").map(Number);
    if (!Number.isFinite(t)) throw new Error(`native load generator: ${line}`);
    return { count, errors, t, cpuMs, p50: p50 >= 0 ? p50 : undefined, p99: p99 >= 0 ? p99 : undefined };
  }

  stop(): void {
    if (this.#exited) return;
    this.#proc.stdin!.end("stop\n");
  }
}
