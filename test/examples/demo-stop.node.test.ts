/**
 * `npm start`'s demo stops like a good server (examples/demo.ts, examples/web-console.ts): on
 * SIGINT each open console WebSocket gets a close frame with 1001 "going away" before the
 * process exits 0, and the console page, in a real browser, shows that close and reconnects by
 * itself when the demo is started again on the same port.
 *
 * The demo runs as a separate process, as a person runs it; its NTP query goes to a UDP port
 * nobody listens on (the time is not what these tests are about).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { connect, type Socket } from "node:net";
import WsWebSocket from "ws";
import { freeUdpPort, kill } from "../support/peers.js";
import { itChromium, launchChromium } from "../support/chromium.js";

interface Demo {
  proc: ChildProcess;
  /** Resolves with the exit code (null when a signal ended it). */
  exited: Promise<number | null>;
  /** Waits (bounded) until the output so far matches `re`; returns the match. */
  waitFor(re: RegExp): Promise<RegExpMatchArray>;
  output(): string;
}

async function startDemo(web: number): Promise<Demo> {
  const ntp = await freeUdpPort();
  const proc = spawn(
    "node_modules/.bin/tsx",
    ["examples/demo.ts", "--echo", "0", "--proxy", "0", "--web", String(web), "--ntp", `127.0.0.1:${ntp}`],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  const waitFor = async (re: RegExp) => {
    for (let i = 0; i < 300 && !re.test(out) && proc.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50));
    expect(out).toMatch(re);
    return out.match(re)!;
  };
  return { proc, exited, waitFor, output: () => out };
}

/** The frames (unmasked, as a server sends them) after the HTTP head in `bytes`; a partial one is left out. */
function serverFrames(bytes: Buffer): { opcode: number; payload: Buffer }[] {
  const head = bytes.indexOf("\r\n\r\n");
  if (head < 0) return [];
  const frames: { opcode: number; payload: Buffer }[] = [];
  for (let at = head + 4; at + 2 <= bytes.length; ) {
    let len = bytes[at + 1] & 0x7f;
    let start = at + 2;
    if (len === 126) {
      if (start + 2 > bytes.length) break;
      len = bytes.readUInt16BE(start);
      start += 2;
    } else if (len === 127) throw new Error("unexpected 64-bit frame length");
    if (start + len > bytes.length) break;
    frames.push({ opcode: bytes[at] & 0x0f, payload: bytes.subarray(start, start + len) });
    at = start + len;
  }
  return frames;
}

const WEB = /web console\s+http:\/\/127\.0\.0\.1:(\d+)\//;
const ECHO = /echo service \(example 9\)\s+listening on 127\.0\.0\.1:(\d+)/;
const READY = /ready; try: nc/;

describe("the demo stops like a good server", () => {
  it("a console WebSocket gets close 1001 on SIGINT and the process exits 0", async () => {
    const demo = await startDemo(0);
    let client: WsWebSocket | undefined;
    try {
      const port = Number((await demo.waitFor(WEB))[1]);
      await demo.waitFor(READY);
      client = new WsWebSocket(`ws://127.0.0.1:${port}/ws`);
      const closed = new Promise<{ code: number; reason: string }>((resolve) =>
        client!.once("close", (code, reason) => resolve({ code, reason: String(reason) })),
      );
      // the console is live on this connection: a statistics message, the pool's figures in it
      const first = await new Promise<{ stat: { activeCons: number; pool: Record<string, number> } }>((resolve, reject) => {
        client!.once("message", (m) => resolve(JSON.parse(String(m))));
        client!.once("error", reject);
      });
      expect(first.stat.activeCons).toBeGreaterThanOrEqual(1);
      expect(first.stat.pool).toEqual({ size: 4, busy: expect.any(Number), queued: expect.any(Number), done: expect.any(Number) });

      demo.proc.kill("SIGINT");
      expect(await closed).toEqual({ code: 1001, reason: "going away" });
      expect(await demo.exited).toBe(0);
      expect(demo.output()).toMatch(/web console: 1 page told "going away" \(1001\)\n/);
      expect(demo.output()).toMatch(/stopped \(\d+ connections served\)/);
    } finally {
      client?.terminate();
      await kill(demo.proc);
    }
  }, 30000);

  it("a page that never answers the close frame holds the stop up only for the bounded wait", async () => {
    const demo = await startDemo(0);
    // a raw client: it upgrades, then reads and never writes again (not even its FIN)
    let peer: Socket | undefined;
    try {
      const port = Number((await demo.waitFor(WEB))[1]);
      await demo.waitFor(READY);
      peer = connect({ port, host: "127.0.0.1", allowHalfOpen: true });
      let got = Buffer.alloc(0);
      const ended = new Promise<void>((resolve) => peer!.once("end", resolve));
      peer.on("data", (d: Buffer) => (got = Buffer.concat([got, d])));
      peer.write(
        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      );
      // wait for the 101 and a first statistics frame
      for (let i = 0; i < 200 && serverFrames(got).length === 0; i++) await new Promise((r) => setTimeout(r, 25));
      expect(got.toString("latin1")).toMatch(/^HTTP\/1\.1 101 /);
      expect(serverFrames(got)[0].opcode).toBe(1);

      demo.proc.kill("SIGINT");
      expect(await demo.exited).toBe(0);
      await ended; // the demo closed the connection (after its wait) without our answer
      const frames = serverFrames(got);
      const last = frames[frames.length - 1];
      expect(last.opcode).toBe(8);
      expect(last.payload.readUInt16BE(0)).toBe(1001);
      expect(last.payload.subarray(2).toString()).toBe("going away");
      expect(demo.output()).toMatch(/web console: 1 page told "going away" \(1001\)\n/);
    } finally {
      peer?.destroy();
      await kill(demo.proc);
    }
  }, 30000);

  itChromium(
    "the console page in Chromium sees 1001, says it is retrying, and reconnects to the restarted demo",
    async () => {
      const browser = await launchChromium();
      let demo = await startDemo(0);
      try {
        const port = Number((await demo.waitFor(WEB))[1]);
        await demo.waitFor(READY);
        let echoPort = Number((await demo.waitFor(ECHO))[1]);
        const page = await browser.newPage();
        await page.goto(`http://127.0.0.1:${port}/`);
        // a bounded wait that, when it gives up, tells what the page and the demo were showing
        const wait = async (js: string, limit = 10000) => {
          try {
            await page.waitForFunction(js, null, { timeout: limit });
          } catch (e) {
            const seen = await page.evaluate(`JSON.stringify(window.consoleState) + " " + document.getElementById("state").textContent`);
            throw new Error(`${(e as Error).message}\npage: ${seen}\ndemo:\n${demo.output()}`);
          }
        };
        const text = (id: string) => `document.getElementById(${JSON.stringify(id)})?.textContent`;
        const number = /^\d+$/;

        // live figures: statistics keep coming and follow what happens (a connection we open to
        // the echo service shows up), and the pool's figures are there
        const live = async () => {
          await wait(`${text("state")} === "connected" && window.consoleState.statsSinceOpen >= 1`);
          const open = Number(await page.textContent("#s-activeCons"));
          const extra = connect(echoPort, "127.0.0.1");
          try {
            await wait(`Number(${text("s-activeCons")}) > ${open}`);
          } finally {
            extra.destroy();
          }
          expect(await page.textContent("#s-pool-size")).toBe("4");
          for (const k of ["busy", "queued", "done"]) expect(await page.textContent(`#s-pool-${k}`)).toMatch(number);
          expect(await page.textContent("#pool")).toMatch(/workers\s*4\s*busy\s*\d+\s*queued jobs\s*\d+\s*jobs done\s*\d+/);
        };
        await live();
        expect(await page.evaluate("window.consoleState.lastCloseCode")).toBeNull();

        // Ctrl-C: the page is told "going away", and keeps trying to come back
        demo.proc.kill("SIGINT");
        expect(await demo.exited).toBe(0);
        await wait(`window.consoleState.lastCloseCode !== null`);
        expect(await page.evaluate("window.consoleState.lastCloseCode")).toBe(1001);
        expect(await page.textContent("#closed")).toBe("(last close: 1001 going away)");
        await wait(`${text("state")}.startsWith("disconnected — retrying")`);
        expect(await page.evaluate("window.consoleState.connects")).toBe(1);

        // the demo comes back on the same port: the page reconnects by itself and is live again
        demo = await startDemo(port);
        await demo.waitFor(READY);
        echoPort = Number((await demo.waitFor(ECHO))[1]);
        // (Chromium itself may delay a WebSocket connect after failed ones, by up to a few seconds)
        await wait(`window.consoleState.connects === 2`, 15000);
        await live();
        expect(await page.evaluate("window.consoleState.lastCloseCode")).toBe(1001); // failed retries do not count

        // and it is told "going away" again
        await page.evaluate("window.consoleState.lastCloseCode = null");
        demo.proc.kill("SIGINT");
        expect(await demo.exited).toBe(0);
        await wait(`window.consoleState.lastCloseCode !== null`);
        expect(await page.evaluate("window.consoleState.lastCloseCode")).toBe(1001);
        await wait(`${text("state")}.startsWith("disconnected — retrying")`);
      } finally {
        await browser.close();
        await kill(demo.proc);
      }
    },
    30000,
  );
});
