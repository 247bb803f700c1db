/**
 * Real TLS peers for the tests (see docs/peers.md): `openssl s_server`,
 * `openssl s_client` and `socat`, started on 127.0.0.1 and stopped by their PID.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, connect, type AddressInfo } from "node:net";
import { kill } from "../support/peers.js";

import { freeTcpPort } from "../support/peers.js";

export { freeTcpPort };

export interface Running {
  port: number;
  proc: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  stop(): Promise<void>;
}

function collect(proc: ChildProcess): () => string {
  let out = "";
  proc.stdout?.on("data", (d) => (out += d));
  proc.stderr?.on("data", (d) => (out += d));
  return () => out;
}

async function waitFor(what: string, proc: ChildProcess, output: () => string, ready: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (proc.exitCode !== null) throw new Error(`${what} exited: ${output()}`);
    if (await ready()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${what} did not start: ${output()}`);
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, "127.0.0.1");
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}

/** `openssl s_server` with a certificate and extra arguments (e.g. `-rev`, `-tls1_2`, `-Verify 1`). */
export async function startSServer(certFile: string, keyFile: string, args: string[]): Promise<Running> {
  const port = await freeTcpPort();
  const proc = spawn("openssl", ["s_server", "-accept", `127.0.0.1:${port}`, "-cert", certFile, "-key", keyFile, ...args], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const output = collect(proc);
  await waitFor("openssl s_server", proc, output, () => /ACCEPT/.test(output()));
  return { port, proc, output, stop: () => kill(proc) };
}

/** A plain TCP server that accepts and never answers (a peer that stalls in the handshake). */
export function startSilentServer(): Promise<{ port: number; stop(): Promise<void> }> {
  return trackedServer(() => undefined);
}

type NetSocket = import("node:net").Socket;

/** A loopback TCP server whose sockets (and those the handler gives `track`) `stop()` destroys. */
async function trackedServer(
  handle: (socket: NetSocket, track: (s: NetSocket) => void) => void,
): Promise<{ port: number; stop(): Promise<void> }> {
  const sockets = new Set<NetSocket>();
  const track = (s: NetSocket) => {
    sockets.add(s);
    s.on("error", () => undefined);
    s.on("close", () => sockets.delete(s));
  };
  const server = createServer((s) => {
    track(s);
    handle(s, track);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    stop: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/**
 * A TCP proxy to 127.0.0.1:`target` that passes the client's bytes on, but only the first `pass`
 * bytes of the server's answer: a peer that stalls in the middle of its handshake flight.
 */
export function startStallingProxy(target: number, pass: number): Promise<{ port: number; stop(): Promise<void> }> {
  return trackedServer((client, track) => {
    const upstream = connect(target, "127.0.0.1");
    track(upstream);
    client.pipe(upstream);
    let passed = 0;
    upstream.on("data", (d: Buffer) => {
      const n = Math.min(d.length, pass - passed);
      if (n > 0) client.write(d.subarray(0, n));
      passed += n;
    });
  });
}

/** socat as a byte-exact TLS echo server (`EXEC:cat`), forking per connection. */
export async function startSocatEcho(certFile: string, keyFile: string): Promise<Running> {
  const port = await freeTcpPort();
  const proc = spawn(
    "socat",
    [`OPENSSL-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork,cert=${certFile},key=${keyFile},verify=0`, "EXEC:cat"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const output = collect(proc);
  await waitFor("socat", proc, output, () => accepts(port));
  return { port, proc, output, stop: () => kill(proc) };
}

/**
 * Runs `openssl s_client` with `args`, writes `input` to it, and resolves with its exit code and
 * output once it exits (or is stopped after `limit` ms).
 */
export function runSClient(args: string[], input: string, limit = 10000): Promise<{ code: number | null; output: string }> {
  const proc = spawn("openssl", ["s_client", ...args], { stdio: ["pipe", "pipe", "pipe"] });
  const output = collect(proc);
  proc.stdin!.on("error", () => undefined);
  proc.stdin!.write(input);
  return new Promise((resolve) => {
    const t = setTimeout(() => void kill(proc), limit);
    proc.once("exit", (code) => {
      clearTimeout(t);
      // let the pipes drain
      setTimeout(() => resolve({ code, output: output() }), 20);
    });
  });
}
