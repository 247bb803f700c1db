/**
 * `npx tsx tools/console-screenshot.ts [out.png]`: photographs the web console under the
 * flow-control demo (docs/img/console-flow.png in the README). It runs the demo's echo service
 * and console in this process with the demo's own timings, puts some echo traffic through for
 * the plots to have a history, starts the flow demo from the page, and takes the picture late in
 * the slow reader's phase: queue full, writers suspended.
 */
import { connect } from "node:net";
import { Runtime } from "../src/index.js";
import { nodeHost } from "../hosts/node/index.js";
import { example9 } from "../examples/09-cosocket-echo.js";
import { webConsole } from "../examples/web-console.js";
import { launchChromium } from "../test/support/chromium.js";

const out = process.argv[2] ?? "docs/img/console-flow.png";
const rt = new Runtime(nodeHost());
const echoPort = (await example9(rt, 0, "127.0.0.1")).sockname()!.port;
const web = await webConsole(rt, { echo: { host: "127.0.0.1", port: echoPort } });
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await page.goto(`http://127.0.0.1:${web.port}/`);
  // echo traffic in bursts for 12 s: a few connections, some bytes each half second
  const conns = await Promise.all(
    [1, 2, 3].map(
      () =>
        new Promise<ReturnType<typeof connect>>((resolve) => {
          const c = connect(echoPort, "127.0.0.1", () => resolve(c));
          c.on("data", () => undefined);
        }),
    ),
  );
  for (let i = 0; i < 24; i++) {
    conns.forEach((c, k) => c.write(Buffer.alloc(20000 * (k + 1) * (1 + (i % 5)), 0x41)));
    await new Promise((r) => setTimeout(r, 500));
  }
  await page.click("#flow-btn");
  await page.waitForFunction(`consoleState.demo && consoleState.demo.phase === "slow reader"`, null, { timeout: 20000 });
  await new Promise((r) => setTimeout(r, 4000));
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
  for (const c of conns) c.destroy();
} finally {
  await browser.close();
  web.close();
  rt.shutdown();
}
