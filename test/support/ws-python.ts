/**
 * python3-websockets (Debian's 10.4) as a peer: test/support/ws-python-peer.py run as a server
 * (events read back as JSON lines) or as a client running its checks against our server.
 */
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { kill, itIf, type Peer } from "./peers.js";
import { PYTHON, waitForTcp } from "./pymodbus.js";

const SCRIPT = join(__dirname, "ws-python-peer.py");
const INSTALL = "apt-get install python3-websockets";

export function havePythonWebsockets(): boolean {
  return spawnSync(PYTHON, ["-c", "import websockets"]).status === 0;
}

/** `it` when python3-websockets is importable (a missing peer skips locally, fails under CI=true). */
export function itWithPythonWebsockets(): jest.It {
  return itIf(havePythonWebsockets(), "the Python module websockets", INSTALL);
}

export type PyEvent = Record<string, unknown>;

export interface PythonServer extends Peer {
  events: PyEvent[];
  /** Resolves with the first event matching `pred` (waiting up to `ms`). */
  waitEvent(pred: (e: PyEvent) => boolean, ms?: number): Promise<PyEvent>;
}

export async function startPythonWsServer(): Promise<PythonServer> {
  const proc = spawn(PYTHON, [SCRIPT, "server"], { stdio: ["ignore", "pipe", "pipe"] });
  const events: PyEvent[] = [];
  let stderr = "";
  let waiters: (() => void)[] = [];
  proc.stderr!.on("data", (d) => (stderr += d));
  let line = "";
  proc.stdout!.on("data", (d) => {
    line += d;
    let nl: number;
    while ((nl = line.indexOf("\n")) >= 0) {
      const text = line.slice(0, nl);
      line = line.slice(nl + 1);
      if (text.trim()) events.push(JSON.parse(text));
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    }
  });
  const waitEvent = (pred: (e: PyEvent) => boolean, ms = 5000) =>
    new Promise<PyEvent>((resolve, reject) => {
      const end = Date.now() + ms;
      const check = () => {
        const e = events.find(pred);
        if (e) return resolve(e);
        if (Date.now() >= end || proc.exitCode !== null)
          return reject(new Error(`no such python event; events ${JSON.stringify(events)}; stderr ${stderr}`));
        const t = setTimeout(check, Math.max(1, end - Date.now()));
        waiters.push(() => {
          clearTimeout(t);
          check();
        });
      };
      check();
    });
  let port: number;
  try {
    port = (await waitEvent((e) => "listening" in e, 15000)).listening as number;
    await waitForTcp(port);
  } catch (e) {
    await kill(proc);
    throw e;
  }
  return { port, events, waitEvent, stop: () => kill(proc) };
}

/** Runs the client checks against `url`; resolves with its JSON lines (and stderr on failure). */
export function runPythonWsClient(url: string, ms = 30000): Promise<{ lines: PyEvent[]; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(PYTHON, [SCRIPT, "client", url], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let stderr = "";
    proc.stdout!.on("data", (d) => (out += d));
    proc.stderr!.on("data", (d) => (stderr += d));
    const t = setTimeout(() => {
      void kill(proc);
      reject(new Error(`python client timed out; output ${out}; stderr ${stderr}`));
    }, ms);
    proc.once("exit", (code) => {
      clearTimeout(t);
      const lines = out
        .split("\n")
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as PyEvent);
      resolve({ lines, stderr, code });
    });
  });
}
