/**
 * `npm start`: the demo device on the desktop host. It runs the cosocket echo service
 * (example 9), the cosocket proxy in front of it (example 13), and asks an NTP server for the
 * time (example 1), printing what listens where.
 *
 * It also serves a web console (a page with live statistics, talking back over WebSocket).
 *
 * Ctrl-C (SIGINT) or SIGTERM stops it like a good server: the web console stops listening and
 * tells each open page "going away" (WebSocket close 1001), waits at most a second for those
 * closing handshakes, then every socket is closed and the process exits 0. A second Ctrl-C
 * while it waits exits at once (130).
 *
 *   npm start -- [--echo PORT] [--proxy PORT] [--web PORT] [--ntp HOST:PORT] [--stat SECONDS]
 */
import { Runtime, isSocketError } from "../src/index.js";
import { nodeHost } from "../hosts/node/index.js";
import { example9 } from "./09-cosocket-echo.js";
import { example13 } from "./13-proxy.js";
import { example1 } from "./01-ntp-blocking.js";
import { webConsole, type WebConsole } from "./web-console.js";
import { cliArg } from "./cli.js";

/** How long a stop waits for the web console's closing handshakes (ms). */
const GOING_AWAY_WAIT = 1000;

let stopping = false;

const arg = (name: string, fallback: string): string => cliArg(process.argv, name, fallback);

async function main(): Promise<void> {
  const rt = new Runtime(nodeHost());
  let web: WebConsole | undefined;
  const stop = async () => {
    if (stopping) process.exit(130); // asked again while saying goodbye: go now
    stopping = true;
    const s = rt.stat();
    if (web) {
      const told = await web.goAway(GOING_AWAY_WAIT);
      if (told > 0) console.log(`web console: ${told} page${told === 1 ? "" : "s"} told "going away" (1001)`);
    }
    rt.shutdown();
    console.log(`stopped (${s.totalCons} connections served)`);
    setTimeout(() => process.exit(0), 50).unref();
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);

  const echoPort = Number(arg("echo", "7007"));
  const proxyPort = Number(arg("proxy", "8080"));
  const [ntpHost, ntpPort] = arg("ntp", "pool.ntp.org:123").split(":");
  const statEvery = Number(arg("stat", "0"));
  const webPort = Number(arg("web", "8000"));

  const echo = await example9(rt, echoPort);
  const echoAt = echo.sockname()!;
  console.log(`echo service (example 9)  listening on ${echoAt.address}:${echoAt.port}`);
  const proxy = await example13(rt, { host: "127.0.0.1", port: echoAt.port }, proxyPort);
  const proxyAt = proxy.sockname()!;
  console.log(`proxy (example 13)        listening on ${proxyAt.address}:${proxyAt.port} -> ${echoAt.address}:${echoAt.port}`);

  web = await webConsole(rt, { port: webPort, echo: { host: "127.0.0.1", port: echoAt.port } });
  console.log(`web console               http://127.0.0.1:${web.port}/`);

  // Show the path works: a round trip through the proxy to the echo service.
  const t0 = rt.host.now();
  const c = await rt.connect("127.0.0.1", proxyAt.port);
  await c.write("hello through the proxy");
  const back = await c.readExactly(23, { timeout: 2000 });
  c.close();
  console.log(`self-check: proxy -> echo round trip ${back ? "ok" : "FAILED"} in ${(rt.host.now() - t0).toFixed(1)} ms`);

  if (statEvery > 0) {
    const timer = setInterval(() => console.log("stat:", JSON.stringify(rt.stat())), statEvery * 1000);
    timer.unref();
  }
  console.log("ready; try: nc 127.0.0.1 " + proxyAt.port + "   (Ctrl-C stops)");

  // The time query runs beside the services (a pool job with a blocking-style UDP socket).
  example1(rt, ntpHost, Number(ntpPort), (line) => console.log(`time (example 1, ${ntpHost}:${ntpPort}): ${line}`)).catch((e) => {
    if (stopping) return; // its socket closed by the stop
    const why = isSocketError(e) ? e.code : (e as Error).message;
    console.log(`time (example 1, ${ntpHost}:${ntpPort}): no answer (${why}); try --ntp HOST:PORT`);
  });
}

main().catch((e) => {
  if (stopping) return; // a stop during start-up: its sockets closed under main
  console.error(isSocketError(e) ? `cosock demo: ${e.message}` : e);
  process.exit(1);
});
