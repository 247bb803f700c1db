/**
 * The benchmark's processes and how they talk: the orchestrator (run.ts) forks each server under
 * test and each load generator as its own Node process (plain `node` on the JavaScript that
 * build.ts compiled) and drives them by request/reply messages over the IPC channel. A child that dies fails the calls
 * waiting on it at once, so a crash is reported as a crash and never as a hang.
 */
import { fork, type ChildProcess } from "node:child_process";

interface Request {
  id: number;
  cmd: string;
  args: unknown;
}

interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

export interface ChildOptions {
  /** Shown in error messages. */
  name: string;
  /** Extra Node flags (`--expose-gc`, `--cpu-prof`, …). */
  nodeArgs?: string[];
}

/** A forked benchmark process: `call` a command it serves, `stop` it. */
export class Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly exited: Promise<number | null>;
  #next = 1;
  #calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  #exitCode: number | null | undefined;

  private constructor(script: string, args: string[], options: ChildOptions) {
    this.name = options.name;
    this.process = fork(script, args, {
      execArgv: options.nodeArgs ?? [],
      // Children never write to our stdout (it carries the table); their output goes to stderr.
      stdio: ["ignore", 2, 2, "ipc"],
    });
    this.process.on("message", (m: Reply) => {
      const c = this.#calls.get(m.id);
      if (!c) return;
      this.#calls.delete(m.id);
      clearTimeout(c.timer);
      if (m.ok) c.resolve(m.result);
      else c.reject(new Error(`${this.name}: ${m.error}`));
    });
    this.exited = new Promise((resolve) => {
      this.process.on("exit", (code, signal) => {
        this.#exitCode = code;
        for (const [id, c] of this.#calls) {
          this.#calls.delete(id);
          clearTimeout(c.timer);
          c.reject(new Error(`${this.name} exited (${signal ?? `code ${code}`}) during a call`));
        }
        resolve(code);
      });
    });
  }

  /** Forks `script` and waits for its `ready` reply (whatever the child's `ready` returns). */
  static async start<T = unknown>(script: string, args: string[], options: ChildOptions): Promise<{ child: Child; ready: T }> {
    const child = new Child(script, args, options);
    try {
      const ready = (await child.call("ready", {}, 30_000)) as T;
      return { child, ready };
    } catch (e) {
      child.kill();
      throw e;
    }
  }

  /** Sends `cmd` and resolves with the child's result; rejects on its error, its death or a timeout. */
  call<T = unknown>(cmd: string, args: unknown = {}, timeoutMs = 60_000): Promise<T> {
    if (this.#exitCode !== undefined) return Promise.reject(new Error(`${this.name} has exited`));
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#calls.delete(id);
        reject(new Error(`${this.name}: "${cmd}" timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#calls.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.process.send({ id, cmd, args } satisfies Request);
    });
  }

  /** Asks the child to exit (so `--cpu-prof` can write its profile); kills it if it does not. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.#exitCode !== undefined) return;
    this.call("exit", {}, timeoutMs).catch(() => undefined);
    const timer = setTimeout(() => this.kill(), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (this.#exitCode === undefined) this.process.kill("SIGKILL");
  }
}

export type Handler = (args: never) => unknown;

/**
 * The child side: serves `handlers` by name. `ready` is answered by `handlers.ready` (or with
 * null); `exit` exits the process after replying. The child exits when the orchestrator goes.
 */
export function serve(handlers: Record<string, Handler>): void {
  process.on("disconnect", () => process.exit(0));
  process.on("message", async (m: Request) => {
    const reply = (r: Omit<Reply, "id">) => process.send?.({ id: m.id, ...r } satisfies Reply);
    if (m.cmd === "exit") {
      reply({ ok: true, result: null });
      setImmediate(() => process.exit(0));
      return;
    }
    const h = handlers[m.cmd];
    if (!h) {
      if (m.cmd === "ready") reply({ ok: true, result: null });
      else reply({ ok: false, error: `unknown command "${m.cmd}"` });
      return;
    }
    try {
      reply({ ok: true, result: await h(m.args as never) });
    } catch (e) {
      reply({ ok: false, error: (e as Error)?.stack ?? String(e) });
    }
  });
}

/** Reads `--name value` pairs from argv. */
export function argvOptions(argv = process.argv.slice(2)): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) continue;
    const eq = a.indexOf("=");
    if (eq > 0) out[a.slice(2, eq)] = a.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) out[a.slice(2)] = argv[++i];
    else out[a.slice(2)] = "true";
  }
  return out;
}
