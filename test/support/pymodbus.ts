/**
 * The pymodbus server peer (Debian's python3-pymodbus, 3.0.0rc1 inside) for the Modbus client
 * tests: test/support/pymodbus-server.py on 127.0.0.1, a port of its choosing, with known data.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { itIf, kill, type Peer } from "./peers.js";

/** Debian's interpreter (a pyenv or venv python3 first on PATH may lack pymodbus). */
export const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
const INSTALL = "apt-get install python3-pymodbus python3-serial python3-serial-asyncio";

export function havePymodbus(): boolean {
  return spawnSync(PYTHON, ["-c", "import pymodbus"]).status === 0;
}

/** `it` when pymodbus is importable (a missing peer skips locally, fails under CI=true). */
export function itWithPymodbus(): jest.It {
  return itIf(havePymodbus(), "the Python module pymodbus", INSTALL);
}

/** The server's initial data (mirrors pymodbus-server.py). */
export const PYMODBUS_DATA = {
  size: 100,
  coil: (i: number) => i % 3 === 0,
  discreteInput: (i: number) => i % 2 === 0,
  holding: (i: number) => 1000 + i,
  input: (i: number) => 2000 + i,
};

/** Starts the server; resolves once its port accepts connections. */
export async function startPymodbus(): Promise<Peer> {
  const proc = spawn(PYTHON, [join(__dirname, "pymodbus-server.py"), "0"], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  proc.stderr!.on("data", (d) => (output += d));
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`pymodbus did not start: ${output}`)), 15000);
    let line = "";
    proc.stdout!.on("data", (d) => {
      line += d;
      const m = /listening (\d+)/.exec(line);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
    proc.once("exit", (code) => {
      clearTimeout(t);
      reject(new Error(`pymodbus exited with ${code}: ${output}`));
    });
  }).catch(async (e) => {
    await kill(proc);
    throw e;
  });
  await waitForTcp(port);
  return { port, stop: () => kill(proc) };
}

/** Resolves once 127.0.0.1:port accepts a connection. */
export async function waitForTcp(port: number, limit = 10000): Promise<void> {
  const end = Date.now() + limit;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect(port, "127.0.0.1");
      c.once("connect", () => {
        c.destroy();
        resolve(true);
      });
      c.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing accepts connections on port ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
