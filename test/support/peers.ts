/**
 * Real peers started by the tests (see docs/peers.md). A missing peer fails the
 * test under CI=true; locally the test is skipped with a message saying how to install it.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { createServer, type AddressInfo, type Server } from "node:net";
import { createSocket } from "node:dgram";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function have(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`]).status === 0;
}

/**
 * `it` when a peer is available, or under CI=true (where a missing peer must fail); else a skip
 * that says what to install, both once on the console and in each skipped test's name (so a
 * suite whose every test skips still tells why). `install` names the Debian packages
 * ("apt-get install …").
 */
export function itIf(available: boolean, what: string, install: string): jest.It {
  if (available || process.env.CI === "true") return it;
  const why = `needs ${what}: ${install}`;
  // eslint-disable-next-line no-console
  console.warn(`skipping tests that ${why}`);
  const skip = (name: string, fn?: jest.ProvidesCallback, timeout?: number) => it.skip(`${name} [skipped: ${why}]`, fn, timeout);
  return Object.assign(skip, it.skip) as unknown as jest.It;
}

/** `itIf` for a peer that is a command on the PATH. */
export function itWithPeer(command: string, install: string): jest.It {
  return itIf(have(command), command, install);
}

/** A free TCP port on 127.0.0.1. */
export async function freeTcpPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A free UDP port on 127.0.0.1. */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface Peer {
  port: number;
  stop(): Promise<void>;
}

/** chronyd as an NTP server on loopback that never touches the system clock. */
export async function startChrony(): Promise<Peer> {
  const dir = mkdtempSync(join(tmpdir(), "cosock-chrony-"));
  const port = await freeUdpPort();
  const conf = join(dir, "chrony.conf");
  writeFileSync(
    conf,
    [
      `port ${port}`,
      "bindaddress 127.0.0.1",
      "allow 127.0.0.1",
      "local stratum 8",
      "cmdport 0",
      `pidfile ${join(dir, "chronyd.pid")}`,
      `driftfile ${join(dir, "drift")}`,
      "",
    ].join("\n"),
  );
  const proc = spawn("chronyd", ["-x", "-d", "-f", conf], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  proc.stdout!.on("data", (d) => (output += d));
  proc.stderr!.on("data", (d) => (output += d));
  await waitForNtp(port, proc, () => output);
  return {
    port,
    stop: async () => {
      await kill(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls the server with SNTP requests until it answers (chronyd takes a moment to start). */
async function waitForNtp(port: number, proc: ChildProcess, output: () => string): Promise<void> {
  const s = createSocket("udp4");
  try {
    for (let i = 0; i < 100; i++) {
      if (proc.exitCode !== null) throw new Error(`chronyd exited: ${output()}`);
      const req = Buffer.alloc(48);
      req[0] = 0x23;
      const answered = await new Promise<boolean>((resolve) => {
        const t = setTimeout(() => resolve(false), 100);
        s.once("message", () => {
          clearTimeout(t);
          resolve(true);
        });
        s.send(req, port, "127.0.0.1");
      });
      if (answered) return;
    }
    throw new Error(`chronyd did not answer: ${output()}`);
  } finally {
    s.close();
  }
}

export async function kill(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  proc.kill("SIGTERM");
  const t = setTimeout(() => proc.kill("SIGKILL"), 3000);
  await exited;
  clearTimeout(t);
}

/** A plain node:net echo server (the kernel's TCP, Node's streams): a real peer outside our runtime. */
export async function startNetEcho(): Promise<Peer & { server: Server }> {
  const server = createServer({ allowHalfOpen: true }, (s) => {
    s.on("error", () => s.destroy());
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}
