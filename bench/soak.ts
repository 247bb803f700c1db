/**
 * `npm run soak`: hostile peers against our WebSocket server for a bounded time, and what the
 * server's memory does meanwhile. A report, not a test: nothing is asserted. The server runs in a
 * child process (this file with `--server`, example 5's echo behind `req2sock`); each attack is
 * an entry of ATTACKS, run from this process with raw `node:net` sockets. For each: the server's
 * RSS and heap before (after a GC), the highest seen during, and after (the attack stopped, after
 * a GC), with the runtime's queued bytes, suspended writers and open connections.
 *
 *   npm run soak                       every attack, 10 s each
 *   npm run soak -- --seconds 30       longer
 *   npm run soak -- --only ping-flood  one attack
 */
import { fork, type ChildProcess } from "node:child_process";
import { connect, type Socket as NetSocket } from "node:net";
import { createHash, randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";

// ------------------------------------------------------------------------------ the server side

interface Sample {
  rss: number;
  heapUsed: number;
  queuedBytes: number;
  suspendedWriters: number;
  activeCons: number;
  webSockets: number;
}

async function serve(): Promise<void> {
  const { Runtime } = await import("../src/index.js");
  const { nodeHost } = await import("../hosts/node/index.js");
  const { example5 } = await import("../examples/05-websocket-server.js");
  const rt = new Runtime(nodeHost(), { log: () => undefined });
  const server = await example5(rt, 0, { intf: "127.0.0.1" });
  const gc = (globalThis as { gc?: () => void }).gc;
  process.on("message", (m: { cmd: string }) => {
    if (m.cmd === "gc") gc?.();
    const mem = process.memoryUsage();
    const s = rt.stat();
    const sample: Sample = {
      rss: mem.rss,
      heapUsed: mem.heapUsed,
      queuedBytes: s.queuedBytes,
      suspendedWriters: s.suspendedWriters,
      activeCons: s.activeCons,
      webSockets: server.webSockets,
    };
    process.send!({ cmd: m.cmd, sample });
  });
  process.send!({ cmd: "ready", port: server.port });
}

// ------------------------------------------------------------------------------ the attacks

interface Attack {
  name: string;
  what: string;
  /** Runs until `stop()` resolves; returns a line about what it did. */
  run(port: number, stopped: () => boolean): Promise<string>;
}

/** A raw client that has made a WebSocket upgrade; resolves once the 101 arrived. */
function upgraded(port: number): Promise<NetSocket> {
  return new Promise((resolve, reject) => {
    const sock = connect({ port, host: "127.0.0.1" });
    const key = randomBytes(16).toString("base64");
    let head = "";
    sock.on("error", reject);
    const onData = (d: Buffer) => {
      head += d.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      sock.off("data", onData);
      if (!head.startsWith("HTTP/1.1 101")) {
        sock.destroy();
        reject(new Error(head.split("\r\n")[0]));
        return;
      }
      const accept = createHash("sha1")
        .update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
        .digest("base64");
      if (!head.includes(accept)) reject(new Error("bad accept"));
      else resolve(sock);
    };
    sock.on("data", onData);
    sock.write(
      `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
  });
}

/** A masked client frame. */
function clientFrame(opcode: number, payload: Uint8Array): Buffer {
  const key = randomBytes(4);
  const head =
    payload.length < 126
      ? Buffer.from([0x80 | opcode, 0x80 | payload.length])
      : Buffer.from([0x80 | opcode, 0x80 | 126, payload.length >> 8, payload.length & 255]);
  const body = Buffer.from(payload.map((b, i) => b ^ key[i & 3]));
  return Buffer.concat([head, key, body]);
}

const drain = (s: NetSocket) => new Promise<void>((r) => s.once("drain", () => r()));

const ATTACKS: Attack[] = [
  {
    name: "ping-flood",
    what: "pings (125 bytes) as fast as the server reads them, pongs never read",
    async run(port, stopped) {
      const sock = await upgraded(port);
      sock.pause();
      sock.on("error", () => undefined);
      const batch = Buffer.concat(Array.from({ length: 1000 }, () => clientFrame(9, new Uint8Array(125).fill(7))));
      let pings = 0;
      while (!stopped() && !sock.destroyed) {
        pings += 1000;
        if (!sock.write(batch)) await Promise.race([drain(sock), new Promise((r) => setTimeout(r, 200))]);
      }
      sock.destroy();
      return `${pings} pings sent`;
    },
  },
  {
    name: "held-open",
    what: "WebSockets opened and held silent, more than maxWebSockets",
    async run(port, stopped) {
      const held: NetSocket[] = [];
      let refused = 0;
      while (!stopped() && held.length + refused < 400) {
        try {
          held.push(await upgraded(port));
        } catch {
          refused++;
        }
      }
      while (!stopped()) await new Promise((r) => setTimeout(r, 100));
      for (const s of held) s.destroy();
      return `${held.length} held, ${refused} refused`;
    },
  },
];

// ------------------------------------------------------------------------------ the report

function mb(n: number): string {
  return (n / 1048576).toFixed(1);
}

class ServerChild {
  readonly proc: ChildProcess;
  #waiting = new Map<string, (m: { sample?: Sample; port?: number }) => void>();

  constructor() {
    this.proc = fork(fileURLToPath(import.meta.url), ["--server"], {
      execArgv: ["--import", "tsx", "--expose-gc"],
      stdio: ["ignore", 2, 2, "ipc"],
    });
    this.proc.on("message", (m: { cmd: string; sample?: Sample; port?: number }) => {
      const w = this.#waiting.get(m.cmd);
      this.#waiting.delete(m.cmd);
      w?.(m);
    });
  }

  next(cmd: string): Promise<{ sample?: Sample; port?: number }> {
    return new Promise((r) => this.#waiting.set(cmd, r));
  }

  async sample(gc: boolean): Promise<Sample> {
    const cmd = gc ? "gc" : "sample";
    const reply = this.next(cmd);
    this.proc.send({ cmd });
    return (await reply).sample!;
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const at = (flag: string) => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const seconds = Number(at("--seconds") ?? 10);
  const only = at("--only");
  const attacks = ATTACKS.filter((a) => !only || a.name === only);
  console.log(`soak: ${attacks.length} attack(s), ${seconds} s each, server in a child process (example 5's echo)\n`);
  const rows: string[] = [];
  for (const attack of attacks) {
    const child = new ServerChild();
    const { port } = await child.next("ready");
    const before = await child.sample(true);
    let stop = false;
    const end = Date.now() + seconds * 1000;
    const running = attack.run(port!, () => stop);
    let peak = before;
    while (Date.now() < end) {
      await new Promise((r) => setTimeout(r, 250));
      const s = await child.sample(false);
      peak = {
        rss: Math.max(peak.rss, s.rss),
        heapUsed: Math.max(peak.heapUsed, s.heapUsed),
        queuedBytes: Math.max(peak.queuedBytes, s.queuedBytes),
        suspendedWriters: Math.max(peak.suspendedWriters, s.suspendedWriters),
        activeCons: Math.max(peak.activeCons, s.activeCons),
        webSockets: Math.max(peak.webSockets, s.webSockets),
      };
    }
    stop = true;
    const did = await running;
    await new Promise((r) => setTimeout(r, 3000)); // closing handshakes and lingers end
    const after = await child.sample(true);
    child.proc.kill();
    console.log(`${attack.name}: ${attack.what}; ${did}`);
    rows.push(
      `| ${attack.name} | ${mb(before.rss)} / ${mb(before.heapUsed)} | ${mb(peak.rss)} / ${mb(peak.heapUsed)} | ${mb(after.rss)} / ${mb(after.heapUsed)} | ` +
        `${peak.queuedBytes} | ${peak.suspendedWriters} | ${peak.webSockets} | ${after.activeCons} / ${after.webSockets} |`,
    );
  }
  console.log(
    "\n| attack | before: RSS / heap MB | during (max) | after | max queued bytes | max suspended writers | max WebSockets | after: connections / WebSockets |",
  );
  console.log("|---|---|---|---|---|---|---|---|");
  for (const r of rows) console.log(r);
}

if (process.argv.includes("--server")) void serve();
else
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
