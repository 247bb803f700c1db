/**
 * mosquitto started by the tests (docs/peers.md): a temporary configuration on a
 * free loopback port, stopped by its PID. With `persistence` the database lives in the temporary
 * directory and is saved only when asked (`save()`, SIGUSR1) and at a clean exit: with autosave
 * on, an automatic save still being written when `save()` starts could be taken for the one
 * asked for, leaving the database older than what clients saw (a kill -9 test then counts the
 * broker's lost acknowledgements as duplicates).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freeTcpPort, kill } from "../support/peers.js";

export { freeTcpPort } from "../support/peers.js";

export interface BrokerOptions {
  persistence?: boolean;
  /** More configuration lines. */
  extra?: string[];
}

export class Broker {
  readonly dir: string;
  readonly conf: string;
  port = 0;
  #proc: ChildProcess | undefined;
  #output = "";

  private constructor(readonly options: BrokerOptions) {
    this.dir = mkdtempSync(join(tmpdir(), "cosock-mosquitto-"));
    // started as root, mosquitto drops to its own user, which must be able to write the database
    chmodSync(this.dir, 0o777);
    this.conf = join(this.dir, "mosquitto.conf");
  }

  static async start(options: BrokerOptions = {}): Promise<Broker> {
    const b = new Broker(options);
    b.port = await freeTcpPort();
    const lines = ["allow_anonymous true", "log_dest stderr", "log_type all", `listener ${b.port} 127.0.0.1`, "protocol mqtt"];
    if (options.persistence) lines.push("persistence true", `persistence_location ${b.dir}/`, "autosave_interval 0");
    else lines.push("persistence false");
    lines.push(...(options.extra ?? []), "");
    writeFileSync(b.conf, lines.join("\n"));
    await b.run();
    return b;
  }

  /** Starts the broker process (again, after `kill9`) and waits until it listens. */
  async run(): Promise<void> {
    const proc = spawn("mosquitto", ["-c", this.conf], { stdio: ["ignore", "pipe", "pipe"] });
    this.#proc = proc;
    const from = this.#output.length; // this run's output only
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`mosquitto did not start: ${this.#output.slice(from)}`)), 10000);
      const onData = (d: Buffer) => {
        this.#output += d;
        if (/mosquitto version \S+ running/.test(this.#output.slice(from))) {
          clearTimeout(t);
          resolve();
        }
      };
      proc.stdout!.on("data", onData);
      proc.stderr!.on("data", onData);
      proc.once("exit", (code) => {
        clearTimeout(t);
        reject(new Error(`mosquitto exited with ${code}: ${this.#output}`));
      });
    });
    proc.removeAllListeners("exit");
  }

  get output(): string {
    return this.#output;
  }

  get pid(): number | undefined {
    return this.#proc?.pid;
  }

  /**
   * Makes mosquitto save its database now (SIGUSR1) and resolves once the file has been replaced
   * (the only save there is: autosave is off). A kill -9 loses what mosquitto acknowledged after
   * its last save; a test that must not count that loss against the client saves first.
   */
  async save(limit = 5000): Promise<void> {
    const file = join(this.dir, "mosquitto.db");
    const mtime = () => {
      try {
        return statSync(file).mtimeMs;
      } catch {
        return 0;
      }
    };
    const before = mtime();
    this.#proc!.kill("SIGUSR1");
    const end = Date.now() + limit;
    while (mtime() === before) {
      if (Date.now() > end) throw new Error("mosquitto did not save its database");
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** kill -9: no goodbye, no final save of the database. */
  async kill9(): Promise<void> {
    const proc = this.#proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once("exit", () => r()));
    proc.kill("SIGKILL");
    await exited;
  }

  async stop(): Promise<void> {
    if (this.#proc) await kill(this.#proc);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
