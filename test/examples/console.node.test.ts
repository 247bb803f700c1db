/**
 * The web console in Chromium (examples/web-console.ts): the socket table shows the runtime's
 * open sockets with their exact byte counts, the plots move under load, and the flow-control
 * demos show a queue filling to its length with suspended writers that drain to 0, and a
 * non-suspending writer told "queue full".
 *
 * The console runs in this process on the Node host (real sockets on 127.0.0.1), with the demo
 * timings shortened. With CONSOLE_SCREENSHOT=path the page is photographed while the flow demo's
 * queue is full (docs/img/console-flow.png is made that way).
 */
import { connect, type Socket as NetSocket } from "node:net";
import type { Page } from "playwright-core";
import { Runtime } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { webConsole, type WebConsole } from "../../examples/web-console.js";
import { example9 } from "../../examples/09-cosocket-echo.js";
import { itChromium, launchChromium } from "../support/chromium.js";

interface Row {
  kind: string;
  mode: string;
  local: string;
  peer: string;
  state: string;
  bytesIn: number;
  bytesOut: number;
  queued: number;
  queuelen: number;
  writers: number;
}

/** Sends `n` bytes to the echo service and waits for all of them back; returns the local port. */
async function echoed(port: number, n: number): Promise<{ sock: NetSocket; local: number }> {
  const sock = connect(port, "127.0.0.1");
  await new Promise<void>((r, j) => sock.once("connect", r).once("error", j));
  let got = 0;
  const back = new Promise<void>((r) => sock.on("data", (d) => (got += d.length) >= n && r()));
  sock.write(Buffer.alloc(n, 0x41));
  await back;
  return { sock, local: sock.localPort! };
}

describe("the web console", () => {
  let rt: Runtime;
  let web: WebConsole;
  let echoPort: number;
  const opened: NetSocket[] = [];

  beforeAll(async () => {
    rt = new Runtime(nodeHost());
    echoPort = (await example9(rt, 0, "127.0.0.1")).sockname()!.port;
    web = await webConsole(rt, {
      echo: { host: "127.0.0.1", port: echoPort },
      statEvery: 200,
      flow: { stall: 2500, slow: 1500, write: 5000, limit: 15000 },
      trywrite: { stall: 2500, write: 4000, limit: 12000 },
    });
  });
  afterAll(() => {
    for (const s of opened) s.destroy();
    web.close();
    rt.shutdown();
  });

  /** A bounded wait that, when it gives up, says what the page was showing. */
  async function wait(page: Page, js: string, limit = 15000): Promise<void> {
    try {
      await page.waitForFunction(js, null, { timeout: limit });
    } catch (e) {
      const seen = await page.evaluate(
        `JSON.stringify({ demo: consoleState.demo, sockets: consoleState.sockets, status: document.getElementById("demo-status").textContent })`,
      );
      throw new Error(`${(e as Error).message}\npage: ${seen}`);
    }
  }
  const rows = (page: Page) => page.evaluate("consoleState.sockets.rows") as Promise<Row[]>;

  itChromium(
    "lists the open sockets with their exact bytes, sorted as asked, and the plots move under load",
    async () => {
      const browser = await launchChromium();
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
        await page.goto(`http://127.0.0.1:${web.port}/`);
        await wait(page, `document.getElementById("state").textContent === "connected" && consoleState.statsSinceOpen >= 2`);
        // the table lists the console's own sockets: the echo and web listeners, the page's WebSocket
        const first = await rows(page);
        expect(first.filter((r) => r.kind === "listener").map((r) => r.local)).toEqual(
          expect.arrayContaining([`127.0.0.1:${echoPort}`, `127.0.0.1:${web.port}`]),
        );
        expect(await page.textContent("#sockets tbody")).toMatch(/websocket\s*cosocket/);

        // three known connections through the echo service: their rows carry their exact bytes
        const sizes = [10, 2000, 30000];
        const conns = [];
        for (const n of sizes) {
          const c = await echoed(echoPort, n);
          opened.push(c.sock);
          conns.push({ n, peer: `127.0.0.1:${c.local}` });
        }
        await page.click('#sockets th[data-k="bytesIn"]');
        await wait(
          page,
          `consoleState.sockets.sort === "bytesIn" && ${JSON.stringify(conns.map((c) => c.peer))}.every((p) => consoleState.sockets.rows.some((r) => r.peer === p))`,
        );
        const table = await rows(page);
        for (const c of conns) {
          const r = table.find((x) => x.peer === c.peer)!;
          expect(r).toMatchObject({
            kind: "tcp",
            mode: "cosocket",
            local: `127.0.0.1:${echoPort}`,
            state: "read",
            bytesIn: c.n,
            bytesOut: c.n,
            queued: 0,
            writers: 0,
          });
          const cells = await page.$$eval(`#sockets tr[data-peer="${c.peer}"] td`, (tds) => tds.map((td) => td.textContent));
          expect(cells.slice(0, 8)).toEqual([
            "tcp",
            "cosocket",
            `127.0.0.1:${echoPort}`,
            c.peer,
            "read",
            String(c.n),
            String(c.n),
            "0 / 16384",
          ]);
        }
        // largest first
        const ins = table.map((r) => r.bytesIn);
        expect(ins).toEqual([...ins].sort((a, b) => b - a));
        expect(await page.textContent("#sock-caption")).toMatch(/^\(\d+ of \d+, by bytesIn\)$/);

        // the plots move: 2 MiB through the echo service shows in the throughput samples and the canvas
        const canvas = () => page.evaluate(`document.getElementById("p-io").toDataURL()`);
        const before = await canvas();
        const samples = (await page.evaluate("consoleState.samples.length")) as number;
        const load = await echoed(echoPort, 2 << 20);
        opened.push(load.sock);
        await wait(page, `consoleState.samples.some((s) => s.inRate > 100000 && s.outRate > 100000)`);
        await wait(page, `consoleState.samples.length > ${samples + 2}`);
        expect(await canvas()).not.toBe(before);
      } finally {
        await browser.close();
      }
    },
    60000,
  );

  itChromium(
    "shows the flow-control demo: the queue fills to its length, writers suspend, then drain to 0",
    async () => {
      const browser = await launchChromium();
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
        await page.goto(`http://127.0.0.1:${web.port}/`);
        await wait(page, `document.getElementById("state").textContent === "connected" && consoleState.statsSinceOpen >= 1`);
        await page.click("#flow-btn");
        // the writer's row: queued up to its queue length, writers suspended
        await wait(page, `consoleState.demo && consoleState.sockets.rows.some((r) => r.writers > 0 && r.queued >= r.queuelen)`);
        const full = (await rows(page)).find((r) => r.writers > 0)!;
        expect(full).toMatchObject({ kind: "tcp", mode: "cosocket", state: "write", queued: 16384, queuelen: 16384, writers: 8 });
        const port = (await page.evaluate("consoleState.demo.port")) as number;
        expect(full.peer).toBe(`127.0.0.1:${port}`);
        // the row is marked as the demo's and shows the full bar
        const cells = await page.$$eval(`#sockets tr.demo[data-peer="127.0.0.1:${port}"] td`, (tds) => tds.map((td) => td.textContent));
        expect(cells.slice(7, 9)).toEqual(["16384 / 16384", "8"]);
        await wait(
          page,
          `consoleState.samples.some((s) => s.suspendedWriters === 8) && consoleState.samples.some((s) => s.queuedBytes >= 16384)`,
        );
        expect(await page.isDisabled("#flow-btn")).toBe(true);
        if (process.env.CONSOLE_SCREENSHOT) {
          await page.waitForTimeout(600); // a few more points on the plots for the picture
          await page.screenshot({ path: process.env.CONSOLE_SCREENSHOT, fullPage: true });
        }
        // the reader speeds up, the writer stops: everything drains
        await wait(page, `consoleState.demo.phase === "done"`, 30000);
        const done = (await page.evaluate("consoleState.demo")) as { sent: number; received: number };
        expect(done.received).toBe(done.sent);
        expect(done.sent).toBeGreaterThan(0);
        await wait(
          page,
          `(() => { const s = consoleState.samples[consoleState.samples.length - 1]; return s.suspendedWriters === 0 && s.queuedBytes === 0; })()`,
        );
        expect(Number(await page.textContent("#s-suspendedWriters"))).toBe(0);
        expect(await page.isDisabled("#flow-btn")).toBe(false);
      } finally {
        await browser.close();
      }
    },
    60000,
  );

  itChromium(
    'shows the non-suspending writer told "queue full" with the queued byte count',
    async () => {
      const browser = await launchChromium();
      try {
        const page = await browser.newPage();
        await page.goto(`http://127.0.0.1:${web.port}/`);
        await wait(page, `document.getElementById("state").textContent === "connected" && consoleState.statsSinceOpen >= 1`);
        await page.click("#trywrite-btn");
        await wait(page, `consoleState.demo && consoleState.demo.demo === "trywrite" && consoleState.demo.refused > 0`);
        const d = (await page.evaluate("consoleState.demo")) as { full: number; queuelen: number; accepted: number };
        expect(d.queuelen).toBe(16384);
        expect(d.full).toBeGreaterThanOrEqual(d.queuelen);
        expect(d.full).toBeLessThan(d.queuelen + 1024); // checked before taking a 1 KiB piece
        expect(await page.textContent("#demo-status")).toMatch(
          /trywrite: .* refused [1-9]\d* \(last answer \d+: bytes queued, of queuelen 16384\)/,
        );
        // an asynchronous socket: its row shows the full queue and no suspended writer
        await wait(page, `consoleState.sockets.rows.some((r) => r.mode === "async" && r.queued >= r.queuelen && r.writers === 0)`);
        await wait(page, `consoleState.demo.phase === "done"`, 30000);
        const end = (await page.evaluate("consoleState.demo")) as { sent: number; received: number };
        expect(end.received).toBe(end.sent);
      } finally {
        await browser.close();
      }
    },
    60000,
  );
});
