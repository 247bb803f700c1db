/**
 * `npx tsx tools/moddable/measure.ts`: cosock's cost on the Moddable SDK's own XS (the lin
 * simulator, 64-bit), reported next to nothing else: no assertions. Without a usable SDK
 * ($MODDABLE, see sim.ts) it prints one line saying why and exits 0.
 *
 * Two apps under tools/moddable/apps, built with mcconfig and run in mcsim:
 * - memcosock: cosock's echo (seed example 9, as manifests/echo);
 * - memraw: a tiny echo written directly on ECMA-419's listener and TCP callbacks (the baseline).
 * Both carry the same control port (apps/common): "m" collects garbage and answers the XS slot
 * and chunk heaps in use and their high-water marks, read from the machine by a native function
 * (apps/common/heapstat.c);
 * "r" resets the high-water marks.
 *
 * 1. Memory: the desktop opens 8, then 16, then 32 idle connections to the echo (each proved
 *    accepted by a one-byte echo), then asks for the heap. The slope between 8 and 32 is the cost
 *    per idle connection; cosock's slope minus the raw echo's is the runtime's own cost.
 * 2. Speed: 4 MiB through the echo on one connection (MB/s) and 64-byte round trips one at a time
 *    (per second), cosock against the raw echo as ratios, with the heap high-water during each.
 */
import { randomBytes } from "node:crypto";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { join } from "node:path";
import { connectTcp, receive } from "./peers.js";
import { buildAppIn, runApp, sdk, startDisplay, type Display, type Sdk } from "./sim.js";

const root = join(import.meta.dirname, "..", "..");
const STEPS = [8, 16, 32];
const BULK = 4 << 20;
const TRIPS = 2000;

interface Heap {
  slots: number;
  chunks: number;
  peakSlots: number;
  peakChunks: number;
}

async function ask(port: number, cmd: string): Promise<string> {
  const s = await connectTcp(port);
  try {
    let text = "";
    const done = new Promise<string>((resolve, reject) => {
      s.on("data", (d: Buffer) => {
        text += d.toString();
        if (text.includes("\n")) resolve(text.trim());
      });
      s.on("error", reject);
      s.on("end", () => reject(new Error(`control: ended after "${text}"`)));
    });
    s.write(cmd);
    return await done;
  } finally {
    s.destroy();
  }
}

async function heap(port: number): Promise<Heap> {
  const [slots, chunks, peakSlots, peakChunks] = (await ask(port, "m")).split(" ").map(Number);
  return { slots: slots!, chunks: chunks!, peakSlots: peakSlots!, peakChunks: peakChunks! };
}

async function freeTcpPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Result {
  app: string;
  steps: { n: number; heap: Heap }[];
  perConn: number;
  perSlots: number;
  perChunks: number;
  mbps: number;
  bulkPeak: number;
  bulkBase: number;
  trips: number;
  tripPeak: number;
}

async function bulk(port: number): Promise<number> {
  const s = await connectTcp(port);
  s.setNoDelay(true);
  try {
    const data = randomBytes(BULK);
    const t0 = performance.now();
    const back = receive(s, BULK, "bulk");
    for (let at = 0; at < BULK; at += 64 * 1024) {
      if (!s.write(data.subarray(at, at + 64 * 1024))) await new Promise((r) => s.once("drain", r));
    }
    const got = await back;
    const ms = performance.now() - t0;
    if (!got.equals(data)) throw new Error("bulk: the echo differs");
    return BULK / 1e6 / (ms / 1000);
  } finally {
    s.destroy();
  }
}

async function roundTrips(port: number): Promise<number> {
  const s = await connectTcp(port);
  s.setNoDelay(true);
  try {
    const msg = randomBytes(64);
    const t0 = performance.now();
    for (let i = 0; i < TRIPS; i++) {
      const back = receive(s, 64, "round trip");
      s.write(msg);
      await back;
    }
    return TRIPS / ((performance.now() - t0) / 1000);
  } finally {
    s.destroy();
  }
}

async function measure(s: Sdk, display: Display, app: string): Promise<Result> {
  const echoPort = await freeTcpPort();
  const controlPort = await freeTcpPort();
  const built = buildAppIn(join(root, "tools", "moddable", "apps", app), app, { "echo.port": echoPort, "control.port": controlPort });
  const running = await runApp(s, built, display);
  const conns: Socket[] = [];
  try {
    await running.xsbug.waitFor(new RegExp(`listening on port ${echoPort} control ${controlPort}$`));
    const steps: Result["steps"] = [];
    const one = Buffer.from([42]);
    for (const n of STEPS) {
      while (conns.length < n) {
        const c = await connectTcp(echoPort);
        const back = receive(c, 1, "idle connection");
        c.write(one);
        await back;
        conns.push(c);
      }
      await sleep(300);
      steps.push({ n, heap: await heap(controlPort) });
    }
    for (const c of conns) c.destroy();
    conns.length = 0;
    await sleep(500);
    const first = steps[0]!.heap;
    const last = steps[steps.length - 1]!.heap;
    const span = STEPS[STEPS.length - 1]! - STEPS[0]!;
    const perSlots = (last.slots - first.slots) / span;
    const perChunks = (last.chunks - first.chunks) / span;
    const perConn = perSlots + perChunks;

    await ask(controlPort, "r");
    const base = await heap(controlPort);
    await ask(controlPort, "r");
    const mbps = await bulk(echoPort);
    const afterBulk = await heap(controlPort);
    await ask(controlPort, "r");
    const trips = await roundTrips(echoPort);
    const afterTrips = await heap(controlPort);
    return {
      app,
      steps,
      perConn,
      perSlots,
      perChunks,
      mbps,
      bulkBase: base.slots + base.chunks,
      bulkPeak: afterBulk.peakSlots + afterBulk.peakChunks,
      trips,
      tripPeak: afterTrips.peakSlots + afterTrips.peakChunks,
    };
  } finally {
    for (const c of conns) c.destroy();
    await running.stop();
  }
}

async function main(): Promise<void> {
  const s = sdk();
  if ("reason" in s) {
    console.log(`measure: skipped: ${s.reason}`);
    return;
  }
  const display = await startDisplay();
  try {
    const results: Result[] = [];
    for (const app of ["memraw", "memcosock"]) results.push(await measure(s, display, app));
    const [raw, co] = results as [Result, Result];
    console.log(`Moddable SDK ${s.version}, lin simulator (64-bit XS; slots 32 B). Heap = slots + chunks in use after a GC, bytes.`);
    for (const r of results) {
      const cells = r.steps.map((x) => `${x.n}: ${x.heap.slots}+${x.heap.chunks}`).join("  ");
      console.log(
        `  ${r.app.padEnd(10)} ${cells}  -> ${r.perConn.toFixed(0)} B per idle connection (${r.perSlots.toFixed(0)} slots + ${r.perChunks.toFixed(0)} chunks)`,
      );
    }
    console.log(
      `Idle connection, cosock echo minus raw-callback echo: ${(co.perConn - raw.perConn).toFixed(0)} B (${(co.perSlots - raw.perSlots).toFixed(0)} + ${(co.perChunks - raw.perChunks).toFixed(0)}; xsnap 13.3, tools/xs/memory.ts: idle server cosocket 3896 B 64-bit, 1960 B 32-bit)`,
    );
    console.log(
      `Bulk ${BULK >> 20} MiB echo: raw ${raw.mbps.toFixed(3)} MB/s, cosock ${co.mbps.toFixed(3)} MB/s, ratio cosock/raw ${(co.mbps / raw.mbps).toFixed(2)}`,
    );
    console.log(
      `  heap high-water during it (rest after a GC -> peak): raw ${raw.bulkBase} -> ${raw.bulkPeak} B, cosock ${co.bulkBase} -> ${co.bulkPeak} B`,
    );
    console.log(
      `64-byte round trips: raw ${raw.trips.toFixed(0)}/s, cosock ${co.trips.toFixed(0)}/s, ratio cosock/raw ${(co.trips / raw.trips).toFixed(2)}`,
    );
    console.log(`  heap high-water during them: raw ${raw.tripPeak} B, cosock ${co.tripPeak} B`);
  } finally {
    display.stop();
  }
}

await main();
