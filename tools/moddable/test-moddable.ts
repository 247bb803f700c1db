/**
 * `npm run test:moddable [-- NAME…]`: builds each device app (manifests/*) with the real Moddable
 * SDK for the lin simulator (`mcconfig -d -m -p lin -t build`, each into a fresh empty directory),
 * runs it in `mcsim` on a private Xvfb display, reads its trace() output through an xsbug
 * listener, and drives it from the desktop over loopback against real peers (tools/moddable/
 * scenarios.ts). Prints each check's result and a closing "N passed, N failed" line; exits 1 on
 * any failure. NAME arguments keep only the scenarios whose name contains one of them
 * (echo, proxy, ntp, sntp, mqtt, mqtt-tls, modbus, wsclient, wsclient-tls).
 *
 * Needs $MODDABLE (a built SDK) and mcconfig on the PATH; without them it prints one line saying
 * why it did not run and exits 0 (no registry these machines reach ships the SDK: this suite is
 * not part of CI). `--esp32` instead checks the JavaScript stages of an ESP32 build of each app
 * (`esp32/nodemcu`: tsc, xsc and xsl, no ESP-IDF needed; tools/moddable/esp32.ts): no error, and
 * no xsl warning about a cosock module. `--keep` keeps the build directories; COSOCK_XSBUG_RAW=1 prints every xsbug
 * message; COSOCK_MC_TRACE=1 prints the apps' trace lines as they come.
 */
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { esp32JsStages, ourWarnings } from "./esp32.js";
import { scenarios, type Ctx } from "./scenarios.js";
import { buildApp, runApp, sdk, startDisplay, type Built, type RunningApp } from "./sim.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

async function main(): Promise<number> {
  const s = sdk();
  if ("reason" in s) {
    console.log(`test:moddable did not run: ${s.reason}`);
    return 0;
  }
  const args = process.argv.slice(2);
  const keep = args.includes("--keep");
  const names = args.filter((a) => !a.startsWith("--"));
  if (args.includes("--esp32")) return esp32(names);
  const chosen = names.length ? scenarios.filter((sc) => names.some((n) => sc.name === n || sc.name.includes(n))) : scenarios;
  console.log(`Moddable SDK ${s.version} at ${s.moddable}; lin simulator; scenarios: ${chosen.map((c) => c.name).join(", ")}`);

  const display = await startDisplay();
  const running = new Set<RunningApp>();
  const builds: Built[] = [];
  let passed = 0;
  let failed = 0;
  const ctx: Ctx = {
    root,
    build(app, config) {
      const t = Date.now();
      const b = buildApp(root, app, config);
      builds.push(b);
      console.log(`  built ${app} (${Math.round((Date.now() - t) / 1000)} s): ${b.so}`);
      return b;
    },
    async start(built) {
      const app = await runApp(
        s,
        built,
        display,
        process.env.COSOCK_MC_TRACE ? (e) => console.log(`    [${e.machine}] ${e.text}`) : undefined,
      );
      running.add(app);
      const stop = app.stop.bind(app);
      app.stop = async () => {
        running.delete(app);
        await stop();
      };
      return app;
    },
    async check(name, fn) {
      try {
        await fn();
        passed++;
        console.log(`  ✓ ${name}`);
        return true;
      } catch (e) {
        failed++;
        console.log(
          `  ✗ ${name}\n      ${String((e as Error)?.message ?? e)
            .split("\n")
            .join("\n      ")}`,
        );
        return false;
      }
    },
  };

  try {
    for (const sc of chosen) {
      console.log(`${sc.name}`);
      try {
        await sc.run(ctx);
      } catch (e) {
        // a build that failed, a peer that did not start: the scenario fails as a whole
        failed++;
        console.log(
          `  ✗ ${sc.name}: ${String((e as Error)?.message ?? e)
            .split("\n")
            .join("\n      ")}`,
        );
      }
      for (const app of [...running]) await app.stop();
      if (!keep) for (const b of builds.splice(0)) rmSync(b.dir, { recursive: true, force: true });
    }
  } finally {
    display.stop();
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

const APPS = ["echo", "proxy", "ntp", "sntp", "mqtt", "modbus", "wsclient", "console"];

function esp32(names: string[]): number {
  let passed = 0;
  let failed = 0;
  console.log("ESP32 (esp32/nodemcu) JavaScript stages: tsc, xsc, xsl (no ESP-IDF: the C stages are not run)");
  for (const app of names.length ? APPS.filter((a) => names.includes(a)) : APPS) {
    const t = Date.now();
    const r = esp32JsStages(root, app);
    const ours = ourWarnings(r);
    const others = r.warnings.length - ours.length;
    const took = `${Math.round((Date.now() - t) / 1000)} s`;
    if (r.ok && ours.length === 0) {
      passed++;
      console.log(`  ✓ ${app}: tsc, xsc and xsl pass (${took}; xsl warnings about cosock modules: none; about the SDK's: ${others})`);
    } else {
      failed++;
      const why = [...r.errors, ...ours].slice(0, 20).join("\n      ") || r.log.trim().split("\n").slice(-15).join("\n      ");
      console.log(`  ✗ ${app} (${took})\n      ${why}`);
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.log(`test:moddable: ${(e as Error)?.stack ?? e}`);
    console.log("0 passed, 1 failed");
    process.exit(1);
  },
);
