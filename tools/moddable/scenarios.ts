/**
 * What `npm run test:moddable` does with each app: which peers it starts on the desktop, the
 * config the app is built with (ports and addresses of those peers), and the checks, each a
 * real exchange over loopback between the desktop and the app running in mcsim.
 */
import { freeTcpPort, startChrony } from "../../test/support/peers.js";
import { Broker } from "../../test/mqtt/broker.js";
import { background, closed, connectTcp, echoCheck, makeRsaPki, run } from "./peers.js";
import type { Built, RunningApp } from "./sim.js";

export interface Ctx {
  root: string;
  build(app: string, config: Record<string, string | number | boolean>): Built;
  start(built: Built): Promise<RunningApp>;
  /** Runs one named check; records pass or fail (with the reason); never throws. */
  check(name: string, fn: () => Promise<void>): Promise<boolean>;
}

export interface Scenario {
  name: string;
  run(ctx: Ctx): Promise<void>;
}

function expect(ok: boolean, message: string): void {
  if (!ok) throw new Error(message);
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** A PEM on one line (spaces for its line breaks), as the apps' `*.ca` config takes it. */
const oneLine = (pem: string) => pem.trim().replace(/\n/g, " ");

/** The checks every app gets at the end: nothing aborted, no uncaught exception stopped it. */
async function healthy(ctx: Ctx, label: string, app: RunningApp): Promise<void> {
  await ctx.check(`${label}: no XS abort and no break (uncaught exception) in the trace`, async () => {
    const bad = app.xsbug.lines().filter((l) => /XS abort|^\[break\]/.test(l));
    expect(bad.length === 0, bad.join("\n"));
    expect(app.child.exitCode === null, `mcsim exited (${app.child.exitCode}): ${app.output().trim()}`);
  });
}

/**
 * The echo checks at `port` (the echo service itself, or the proxy in front of it): three
 * connections at once with one ended half-way and one reset half-way while the others go on,
 * every byte echoed exactly; then a new connection still works.
 */
async function echoChecks(ctx: Ctx, label: string, port: number): Promise<void> {
  await ctx.check(`${label}: 4 connections at once, byte-exact; one ends and one is reset in the middle, the others go on`, async () => {
    const [a, b, c, d] = await Promise.all([connectTcp(port), connectTcp(port), connectTcp(port), connectTcp(port)]);
    try {
      const ender = (async () => {
        await echoCheck(b, 8000, 1000, "B");
        const gone = closed(b);
        b.end(); // half-close: the echo coroutine reads the end and closes its side
        await gone;
      })();
      const resetter = (async () => {
        await echoCheck(d, 6000, 1500, "D");
        d.resetAndDestroy();
      })();
      await Promise.all([echoCheck(a, 64 * 1024, 6000, "A"), echoCheck(c, 48 * 1024, 1460, "C"), ender, resetter]);
      await echoCheck(a, 4000, 4000, "A after the close and the reset");
    } finally {
      for (const s of [a, b, c, d]) s.destroy();
    }
  });
  await ctx.check(`${label}: a new connection after those echoes a 100 KB stream byte-exact`, async () => {
    const e = await connectTcp(port);
    try {
      await echoCheck(e, 100 * 1024, 16 * 1024, "E");
    } finally {
      e.destroy();
    }
  });
}

const echo: Scenario = {
  name: "echo",
  async run(ctx) {
    const port = await freeTcpPort();
    const app = await ctx.start(ctx.build("echo", { "echo.port": port }));
    try {
      if (
        !(await ctx.check("echo: the app starts and listens on its configured port", () =>
          app.xsbug.waitFor(new RegExp(`listening on port ${port}$`)).then(() => undefined),
        ))
      )
        return;
      await echoChecks(ctx, "echo", port);
    } finally {
      await healthy(ctx, "echo", app);
      await app.stop();
    }
  },
};

const proxy: Scenario = {
  name: "proxy",
  async run(ctx) {
    const echoPort = await freeTcpPort();
    const proxyPort = await freeTcpPort();
    const app = await ctx.start(ctx.build("proxy", { "echo.port": echoPort, "proxy.port": proxyPort }));
    try {
      const up = await ctx.check("proxy: the app starts its echo service and the proxy in front of it", async () => {
        await app.xsbug.waitFor(new RegExp(`echo \\(example 9\\) listening on port ${echoPort}$`));
        await app.xsbug.waitFor(new RegExp(`proxy \\(example 13\\) listening on port ${proxyPort} -> 127\\.0\\.0\\.1:${echoPort}$`));
      });
      if (!up) return;
      await echoChecks(ctx, "proxy", proxyPort);
      await ctx.check("proxy: the echo service behind it answers directly too", async () => {
        const s = await connectTcp(echoPort);
        try {
          await echoCheck(s, 10_000, 2500, "direct");
        } finally {
          s.destroy();
        }
      });
    } finally {
      await healthy(ctx, "proxy", app);
      await app.stop();
    }
  },
};

/** A date printed by the app is the desktop's time (chrony serves the system clock). */
function nearNow(label: string, when: number): void {
  const off = Math.abs(when - Date.now());
  expect(
    Number.isFinite(when) && off < 120_000,
    `${label}: ${new Date(when).toISOString()} is not the time chrony serves (off by ${off} ms)`,
  );
}

const ntp: Scenario = {
  name: "ntp",
  async run(ctx) {
    const chrony = await startChrony();
    try {
      const app = await ctx.start(ctx.build("ntp", { "ntp.server": "127.0.0.1", "ntp.port": chrony.port }));
      try {
        await ctx.check("ntp: asks chrony (example 1, a blocking-style UDP socket in a pool job) and prints its time", async () => {
          const line = await app.xsbug.waitFor(/^NTP Date and time: |no answer from/);
          const m = /^NTP Date and time: (.*)$/.exec(line);
          expect(!!m, line);
          nearNow("ntp", Date.parse(m![1]));
        });
        await ctx.check("ntp: sets the device clock", () =>
          app.xsbug.waitFor(new RegExp(`^device clock set from 127\\.0\\.0\\.1:${chrony.port}$`)).then(() => undefined),
        );
      } finally {
        await healthy(ctx, "ntp", app);
        await app.stop();
      }
    } finally {
      await chrony.stop();
    }
  },
};

const sntp: Scenario = {
  name: "sntp",
  async run(ctx) {
    const chrony = await startChrony();
    try {
      const app = await ctx.start(ctx.build("sntp", { "ntp.server": "127.0.0.1", "ntp.port": chrony.port }));
      try {
        await ctx.check("sntp: the SNTP client (modules/ntp) gets chrony's time, stratum, offset and delay", async () => {
          const line = await app.xsbug.waitFor(/^NTP time: |^cosock sntp: /);
          const m = /^NTP time: (\S+) from 127\.0\.0\.1 \(stratum (\d+)\)$/.exec(line);
          expect(!!m, line);
          nearNow("sntp", Date.parse(m![1]));
          expect(Number(m![2]) >= 1 && Number(m![2]) <= 15, `stratum ${m![2]}`);
          const o = /^our clock is off by (-?[\d.]+) ms; round trip ([\d.]+) ms$/.exec(await app.xsbug.waitFor(/^our clock is off by/));
          expect(!!o, "no offset line");
          // the simulator's clock is the desktop's, which chrony serves: the offset is small
          expect(Math.abs(Number(o![1])) < 5000 && Number(o![2]) >= 0, `offset ${o![1]} ms, delay ${o![2]} ms`);
        });
      } finally {
        await healthy(ctx, "sntp", app);
        await app.stop();
      }
    } finally {
      await chrony.stop();
    }
  },
};

/** mosquitto_sub on the broker's plain listener, subscribed before it resolves. */
async function subscriber(port: number, topic: string) {
  // line-buffered: through a pipe, mosquitto_sub's stdout is block-buffered
  const sub = background("stdbuf", [
    "-oL",
    "mosquitto_sub",
    "-h",
    "127.0.0.1",
    "-p",
    String(port),
    "-V",
    "mqttv5",
    "-q",
    "2",
    "-v",
    "-d",
    "-t",
    `${topic}/#`,
  ]);
  try {
    await sub.waitFor(/SUBACK/, 60_000);
  } catch (e) {
    await sub.stop();
    throw e;
  }
  return sub;
}

const pub = (port: number, topic: string, qos: number, message: string) =>
  run("mosquitto_pub", ["-h", "127.0.0.1", "-p", String(port), "-V", "mqttv5", "-q", String(qos), "-t", topic, "-m", message]);

/** The device's own publications at QoS 0, 1 and 2 reach the desktop and come back to it. */
async function mqttRoundTrip(ctx: Ctx, label: string, app: RunningApp, subPort: number, topic: string, secure: boolean): Promise<boolean> {
  const sub = await subscriber(subPort, topic);
  try {
    const up = await ctx.check(
      `${label}: connects${secure ? " over TLS (Moddable's TLSSocket, the CA from mqtt.ca)" : ""} and subscribes`,
      async () => {
        await app.xsbug.waitFor(
          new RegExp(`^connected to 127\\.0\\.0\\.1:\\d+${secure ? " over TLS" : ""} \\(session present: false\\)$|^cosock mqtt: `),
        );
        await app.xsbug
          .waitFor(new RegExp(`^subscribed to ${esc(topic)}/#$|^cosock mqtt: `))
          .then((l) => expect(l.startsWith("subscribed"), l));
      },
    );
    if (!up) return false;
    await ctx.check(
      `${label}: the device publishes at QoS 0, 1 and 2; mosquitto_sub gets each, and the device gets each back`,
      async () => {
        await app.xsbug.waitFor(/^published at QoS 0, 1 and 2$|^cosock mqtt: /).then((l) => expect(l.startsWith("published"), l));
        for (const qos of [0, 1, 2]) {
          await app.xsbug.waitFor(new RegExp(`^received ${esc(topic)}/qos${qos} \\(QoS ${qos}\\): hello at QoS ${qos}$`));
          await sub.waitFor(new RegExp(`^${esc(topic)}/qos${qos} hello at QoS ${qos}$`, "m"));
        }
      },
    );
    await ctx.check(`${label}: messages published on the desktop at QoS 0, 1 and 2 arrive on the device`, async () => {
      for (const qos of [0, 1, 2]) {
        const from = app.xsbug.events.length;
        await pub(subPort, `${topic}/desk${qos}`, qos, `from the desktop ${qos} ${"x".repeat(qos * 300)}`);
        await app.xsbug.waitFor(
          new RegExp(`^received ${esc(topic)}/desk${qos} \\(QoS ${qos}\\): from the desktop ${qos} x{${qos * 300}}$`),
          30_000,
          from,
        );
      }
    });
    return true;
  } finally {
    await sub.stop();
  }
}

const mqtt: Scenario = {
  name: "mqtt",
  async run(ctx) {
    const broker = await Broker.start();
    try {
      const topic = `cosock/mc${process.pid}`;
      const app = await ctx.start(ctx.build("mqtt", { "mqtt.host": "127.0.0.1", "mqtt.port": broker.port, "mqtt.topic": topic }));
      try {
        if (!(await mqttRoundTrip(ctx, "mqtt", app, broker.port, topic, false))) return;
        await ctx.check("mqtt: the broker is killed (-9) and started again: the device reconnects, resubscribes and receives", async () => {
          const from = app.xsbug.events.length;
          await broker.kill9();
          await app.xsbug.waitFor(/^connection lost: /, 30_000, from);
          await broker.run();
          await app.xsbug.waitFor(/^connected to 127\.0\.0\.1:\d+ \(session present: false\)$/, 60_000, from);
          // the new broker knows nothing of the old session: only a resubscription brings this
          for (let i = 0; ; i++) {
            const at = app.xsbug.events.length;
            await pub(broker.port, `${topic}/after`, 1, `after the restart ${i}`);
            try {
              await app.xsbug.waitFor(new RegExp(`^received ${esc(topic)}/after \\(QoS 1\\): after the restart ${i}$`), 3000, at);
              break;
            } catch (e) {
              if (i === 5) throw e; // the resubscription may still be on its way for the first ones
            }
          }
        });
      } finally {
        await healthy(ctx, "mqtt", app);
        await app.stop();
      }
    } finally {
      await broker.stop();
    }
  },
};

const mqttTls: Scenario = {
  name: "mqtt-tls",
  async run(ctx) {
    const pki = makeRsaPki();
    const tlsPort = await freeTcpPort();
    const broker = await Broker.start({
      extra: [`listener ${tlsPort} 127.0.0.1`, "protocol mqtt", `certfile ${pki.certFile}`, `keyfile ${pki.keyFile}`],
    });
    try {
      const topic = `cosock/mctls${process.pid}`;
      const app = await ctx.start(
        ctx.build("mqtt", {
          "mqtt.host": "127.0.0.1",
          "mqtt.port": tlsPort,
          "mqtt.tls": true,
          "mqtt.ca": oneLine(pki.caCert),
          "mqtt.topic": topic,
        }),
      );
      try {
        await mqttRoundTrip(ctx, "mqtt over TLS", app, broker.port, topic, true);
      } finally {
        await healthy(ctx, "mqtt over TLS", app);
        await app.stop();
      }
    } finally {
      await broker.stop();
      pki.remove();
    }
  },
};

const modbus: Scenario = {
  name: "modbus",
  async run(ctx) {
    const port = await freeTcpPort();
    const app = await ctx.start(ctx.build("modbus", { "modbus.port": port }));
    const mbpoll = (args: string[]) => run("mbpoll", ["-m", "tcp", "-a", "1", "-p", String(port), "-0", ...args, "127.0.0.1"]);
    /** Values mbpoll printed: `[address]: value`. */
    const values = (out: string) => [...out.matchAll(/^\[(\d+)\]:\s+(\S+)/gm)].map((m) => [Number(m[1]), m[2]] as const);
    try {
      if (
        !(await ctx.check("modbus: the app starts and listens", () =>
          app.xsbug.waitFor(new RegExp(`listening on port ${port}$`)).then(() => undefined),
        ))
      )
        return;
      await ctx.check("modbus: mbpoll reads the holding registers (setpoint 220 at 0, zeros after)", async () => {
        const v = values(await mbpoll(["-t", "4", "-r", "0", "-c", "4", "-1"]));
        expect(
          JSON.stringify(v) ===
            JSON.stringify([
              [0, "220"],
              [1, "0"],
              [2, "0"],
              [3, "0"],
            ]),
          `mbpoll read ${JSON.stringify(v)}`,
        );
      });
      await ctx.check("modbus: mbpoll writes holding registers 2..3; the device prints the write; mbpoll reads them back", async () => {
        const from = app.xsbug.events.length;
        await run("mbpoll", ["-m", "tcp", "-a", "1", "-p", String(port), "-0", "-t", "4", "-r", "2", "127.0.0.1", "1234", "5678"]);
        await app.xsbug.waitFor(/^modbus: holdingRegisters 2\.\.3 = 1234 5678$/, 30_000, from);
        const v = values(await mbpoll(["-t", "4", "-r", "0", "-c", "4", "-1"]));
        expect(
          JSON.stringify(v) ===
            JSON.stringify([
              [0, "220"],
              [1, "0"],
              [2, "1234"],
              [3, "5678"],
            ]),
          `mbpoll read ${JSON.stringify(v)}`,
        );
      });
      await ctx.check("modbus: mbpoll writes coils 1..3 and reads all 8 back", async () => {
        const from = app.xsbug.events.length;
        await run("mbpoll", ["-m", "tcp", "-a", "1", "-p", String(port), "-0", "-t", "0", "-r", "1", "127.0.0.1", "1", "0", "1"]);
        await app.xsbug.waitFor(/^modbus: coils 1\.\.3 = true false true$/, 30_000, from);
        const v = values(await mbpoll(["-t", "0", "-r", "0", "-c", "8", "-1"]));
        expect(v.map((x) => x[1]).join("") === "01010000", `mbpoll read ${JSON.stringify(v)}`);
      });
      await ctx.check("modbus: mbpoll reads the temperature (input registers 0-1, a float, high word first) and the uptime", async () => {
        const t = values(await mbpoll(["-t", "3:float", "-B", "-r", "0", "-c", "1", "-1"]));
        expect(t.length === 1 && Math.abs(Number(t[0][1]) - 21.5) <= 1.0001, `temperature ${JSON.stringify(t)}`);
        const u = values(await mbpoll(["-t", "3", "-r", "2", "-c", "1", "-1"]));
        expect(u.length === 1 && Number(u[0][1]) >= 0 && Number(u[0][1]) < 3600, `uptime ${JSON.stringify(u)}`);
      });
      await ctx.check("modbus: a read past the input registers gets the exception Illegal data address", async () => {
        const out = await mbpoll(["-t", "3", "-r", "2", "-c", "2", "-1"]).then(
          (o) => o,
          (e: Error) => e.message,
        );
        expect(/Illegal data address/i.test(out), out);
      });
    } finally {
      await healthy(ctx, "modbus", app);
      await app.stop();
    }
  },
};

/** Example 5 (the WebSocket echo server) as a desktop process. */
async function example5(root: string, port: number, tls?: { certFile: string; keyFile: string }) {
  // one node process (tsx as a loader), so that stopping it stops the server: npx and the tsx
  // command run the script in a child process that a signal to them does not reach
  const args = ["--import", "tsx", "examples/05-websocket-server.ts", "--port", String(port), "--intf", "127.0.0.1"];
  if (tls) args.push("--cert", tls.certFile, "--key", tls.keyFile);
  const server = background(process.execPath, args, root);
  await server.waitFor(/WebSocket echo \(example 5\) on/, 60_000);
  return server;
}

/** Connected (the first failure ends the wait, unless `retrying`: failures are expected) and echoed. */
async function wsEchoes(app: RunningApp, url: string, from = 0, retrying = false): Promise<void> {
  const connected = await app.xsbug.waitFor(
    new RegExp(`^connected to ${esc(url)}$|not retrying${retrying ? "" : "|^cannot connect"}`),
    60_000,
    from,
  );
  expect(connected.startsWith("connected"), connected);
  // three messages, each echoed by example 5 (the count goes on over reconnections)
  const first = await app.xsbug.waitFor(/^received: hello (\d+) from cosock$/, 30_000, from);
  const n = Number(/hello (\d+)/.exec(first)![1]);
  for (const k of [n + 1, n + 2]) await app.xsbug.waitFor(new RegExp(`^received: hello ${k} from cosock$`), 30_000, from);
}

const wsclient: Scenario = {
  name: "wsclient",
  async run(ctx) {
    const port = await freeTcpPort();
    const url = `ws://127.0.0.1:${port}/ws`;
    let server = await example5(ctx.root, port);
    try {
      const app = await ctx.start(ctx.build("wsclient", { "ws.url": url, "ws.interval": 200, "ws.retry": 500 }));
      try {
        if (!(await ctx.check("wsclient: connects to example 5 over ws: and gets its messages echoed", () => wsEchoes(app, url)))) return;
        await ctx.check(
          "wsclient: example 5 stops: the device sees the connection go, retries, and is echoed again once it is back",
          async () => {
            const from = app.xsbug.events.length;
            await server.stop();
            await app.xsbug.waitFor(/^closed by the server|^connection lost: /, 30_000, from);
            await app.xsbug.waitFor(/^cannot connect to /, 30_000, from);
            server = await example5(ctx.root, port);
            await wsEchoes(app, url, from, true);
          },
        );
      } finally {
        await healthy(ctx, "wsclient", app);
        await app.stop();
      }
    } finally {
      await server.stop();
    }
  },
};

const wss: Scenario = {
  name: "wsclient-tls",
  async run(ctx) {
    const pki = makeRsaPki();
    const port = await freeTcpPort();
    const url = `wss://127.0.0.1:${port}/ws`;
    const server = await example5(ctx.root, port, pki);
    try {
      const app = await ctx.start(
        ctx.build("wsclient", { "ws.url": url, "ws.interval": 200, "ws.retry": 500, "ws.ca": oneLine(pki.caCert) }),
      );
      try {
        await ctx.check(
          "wsclient over wss: (Moddable's TLSSocket, the CA from ws.ca): connects to example 5 and gets its messages echoed",
          () => wsEchoes(app, url),
        );
      } finally {
        await healthy(ctx, "wsclient over wss:", app);
        await app.stop();
      }
    } finally {
      await server.stop();
      pki.remove();
    }
  },
};

/** Two statistics messages from the console's WebSocket (`ws` as the page's stand-in). */
async function consoleStats(port: number): Promise<{ stat: Record<string, number>; sockets?: { rows?: unknown[] } }[]> {
  const { default: WebSocket } = await import("ws");
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { origin: `http://127.0.0.1:${port}` });
  try {
    return await new Promise((resolve, reject) => {
      const got: { stat: Record<string, number> }[] = [];
      const t = setTimeout(() => reject(new Error(`${got.length} statistics messages in 20 s`)), 20_000);
      ws.on("error", reject);
      ws.on("message", (m) => {
        const msg = JSON.parse(String(m)) as { stat?: Record<string, number> };
        if (msg.stat) got.push(msg as { stat: Record<string, number> });
        if (got.length === 2) {
          clearTimeout(t);
          resolve(got);
        }
      });
    });
  } finally {
    ws.close(1000);
  }
}

const webConsole: Scenario = {
  name: "console",
  async run(ctx) {
    const port = await freeTcpPort();
    const echoPort = await freeTcpPort();
    const app = await ctx.start(ctx.build("console", { "console.port": port, "console.echo": echoPort, "console.every": 500 }));
    try {
      if (
        !(await ctx.check("console: the app starts its echo service and the console", () =>
          app.xsbug.waitFor(/cosock console on/).then(() => undefined),
        ))
      )
        return;
      await ctx.check("console: the device serves the page", async () => {
        const r = await fetch(`http://127.0.0.1:${port}/`);
        const text = await r.text();
        expect(r.status === 200, `status ${r.status}`);
        expect(text.includes("<canvas") && text.includes("/ws"), "not the console page");
      });
      await ctx.check("console: its statistics WebSocket sends live figures (the page's own connection among the open ones)", async () => {
        const [a, b] = await consoleStats(port);
        expect(a!.stat.activeCons! >= 1, `activeCons ${a!.stat.activeCons}`);
        expect(b!.stat.turns! > a!.stat.turns! || b!.stat.bytesOut! > a!.stat.bytesOut!, "the figures did not move");
      });
      await echoChecks(ctx, "console", echoPort);
    } finally {
      await healthy(ctx, "console", app);
      await app.stop();
    }
  },
};

export const scenarios: Scenario[] = [echo, proxy, ntp, sntp, mqtt, mqttTls, modbus, wsclient, wss, webConsole];
