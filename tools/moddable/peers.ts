/**
 * The desktop side of the simulator runs: TCP clients that check bytes, commands run to the end
 * (mosquitto_sub, mbpoll), example 5 as a child process, and test certificates (RSA: Moddable's
 * TLS client signs and verifies RSA).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function connectTcp(port: number, host = "127.0.0.1"): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host }, () => {
      s.off("error", reject);
      resolve(s);
    });
    s.once("error", reject);
  });
}

/** Collects everything a socket receives until it has `n` bytes (or it ends/fails: then throws). */
export function receive(s: Socket, n: number, what: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const done = (e?: Error): void => {
      s.off("data", onData);
      s.off("end", onEnd);
      s.off("error", done);
      if (e) reject(e);
      else resolve(Buffer.concat(parts));
    };
    const onData = (d: Buffer): void => {
      parts.push(d);
      got += d.length;
      if (got >= n) done();
    };
    const onEnd = (): void => done(new Error(`${what}: the connection ended after ${got} of ${n} bytes`));
    s.on("data", onData);
    s.on("end", onEnd);
    s.on("error", done);
  });
}

/**
 * Sends `size` random bytes in pieces of up to `piece` bytes (each after the echo of the one
 * before, so that both directions are busy) and checks the echo is the same bytes.
 */
export async function echoCheck(s: Socket, size: number, piece: number, what: string): Promise<void> {
  const data = randomBytes(size);
  const echoed: Buffer[] = [];
  for (let at = 0; at < size; at += piece) {
    const part = data.subarray(at, Math.min(size, at + piece));
    const back = receive(s, part.length, what);
    s.write(part);
    echoed.push(await back);
  }
  const all = Buffer.concat(echoed);
  if (!all.equals(data)) {
    const i = [...all].findIndex((b, k) => b !== data[k]);
    throw new Error(`${what}: echo differs from what was sent (${all.length} bytes back for ${size}; first difference at byte ${i})`);
  }
}

/** Resolves when the peer closes the connection (end or reset). */
export function closed(s: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (s.destroyed) return resolve();
    s.once("close", () => resolve());
    s.resume();
  });
}

/** Runs a command to its end; rejects on a non-zero status. */
export function run(cmd: string, args: string[], limitMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    const t = setTimeout(() => p.kill("SIGKILL"), limitMs);
    p.on("error", reject);
    p.on("exit", (code) => {
      clearTimeout(t);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(" ")} exited with ${code}: ${out.trim()}`));
    });
  });
}

/** A long-running command whose output is collected; `stop()` ends it. */
export interface Background {
  proc: ChildProcess;
  output(): string;
  /** Resolves when the output matches (bounded wait against a hang). */
  waitFor(pattern: RegExp, ms?: number): Promise<void>;
  stop(): Promise<void>;
}

export function background(cmd: string, args: string[], cwd?: string): Background {
  const proc = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const listeners = new Set<() => void>();
  const onData = (d: Buffer): void => {
    out += d.toString();
    for (const l of listeners) l();
  };
  proc.stdout!.on("data", onData);
  proc.stderr!.on("data", onData);
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  return {
    proc,
    output: () => out,
    waitFor(pattern, ms = 30_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (pattern.test(out)) {
            listeners.delete(check);
            clearTimeout(t);
            resolve();
          }
        };
        const t = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`${cmd}: no output matching ${pattern} within ${ms} ms: ${out.trim()}`));
        }, ms);
        listeners.add(check);
        proc.once("exit", (code) => {
          if (listeners.delete(check)) {
            clearTimeout(t);
            reject(new Error(`${cmd} exited (${code}) before ${pattern}: ${out.trim()}`));
          }
        });
        check();
      });
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(t);
    },
  };
}

export interface TestPki {
  dir: string;
  caCert: string;
  /** The server's certificate followed by the CA's. */
  certFile: string;
  keyFile: string;
  remove(): void;
}

function openssl(dir: string, args: string[]): void {
  const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${r.stderr ?? r.error}`);
}

/** A CA and a server certificate for 127.0.0.1 and localhost it signed (RSA 2048, SHA-256). */
export function makeRsaPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "cosock-mc-pki-"));
  openssl(dir, [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=cosock test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  writeFileSync(
    join(dir, "server.ext"),
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
  );
  openssl(dir, ["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]);
  openssl(dir, [
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "2",
    "-sha256",
    "-extfile",
    "server.ext",
    "-out",
    "server.pem",
  ]);
  // The server sends its chain with the CA: Moddable's TLS client (SDK 8.2.3, ssl_cert.js
  // verify) checks the server's name only on chain entries before the last, so a server that
  // sends its leaf alone is never trusted ("certificate: auth err") however it is signed.
  writeFileSync(join(dir, "chain.pem"), readFileSync(join(dir, "server.pem"), "utf8") + readFileSync(join(dir, "ca.pem"), "utf8"));
  spawnSync("chmod", ["-R", "a+rX", dir]); // mosquitto drops to its own user
  return {
    dir,
    caCert: readFileSync(join(dir, "ca.pem"), "utf8"),
    certFile: join(dir, "chain.pem"),
    keyFile: join(dir, "server.key"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
