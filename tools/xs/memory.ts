/**
 * `npx tsx tools/xs/memory.ts [--steps 8,16,32]`: the XS heap the runtime uses per idle
 * connection, and the size of its code, measured on the XS engine (docs/device.md, "Memory").
 *
 * Method: xsnap built with -DmxReport=1 prints, at every gc(), the slot heap and chunk heap in
 * use. tools/xs/memory-scenarios.ts opens idle connections on the simulated network in steps and
 * collects garbage after each step. The slope (bytes per added connection, between the first and
 * the last step) of a scenario where one end is a runtime cosocket, minus the slope of the same
 * connections with bare simulator sockets at both ends, is the runtime's own cost per connection:
 * the simulator's sockets (the "platform socket") are subtracted out.
 *
 * The WebSocket rows are measured the same way against their own platform baseline ("simws":
 * bare simulator sockets at both ends that perform the opening handshake themselves), so that
 * the per-connection figure is the runtime's WebSocket (server: our HTTP server + req2sock;
 * client: wsConnect) with the simulator's sockets and the handshake traffic subtracted.
 *
 * Two builds: the 64-bit xsnap (16-byte pointers make slots 32 bytes) and, when a multilib C
 * compiler is installed (apt-get install gcc-multilib), a 32-bit one whose 16-byte slots and
 * 32-bit chunk layouts are those of the ESP32's XS. Where the kernel cannot execute 32-bit
 * binaries, the 32-bit build runs under qemu-i386 (tools/xs/exec.ts); where neither works, the
 * 64-bit figures come out with one line saying why the 32-bit ones are missing, and the tool
 * still exits 0.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { ensureXsnap, type Variant } from "./build-xsnap.js";
import { BUNDLES, bundle, spec } from "./bundle.js";
import { nativeXsnap, xsnap32, type XsnapCommand } from "./exec.js";

interface Heap {
  slots: number; // bytes of slots in use
  chunks: number; // bytes of chunks in use
}

type Sample = { label: string; connections: number; heap: Heap };

function parse(output: string): Sample[] {
  const lines = output.split("\n");
  const samples: Sample[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^@@mem (\S+) (\d+)$/.exec(lines[i]!);
    if (!m) continue;
    let chunks: number | undefined;
    let slots: number | undefined;
    for (let k = i + 1; k < lines.length && (chunks === undefined || slots === undefined); k++) {
      const c = /^# Chunk collection: reserved \d+ used (\d+) peak/.exec(lines[k]!);
      if (c) chunks = Number(c[1]);
      const s = /^# Slot collection: reserved \d+ used (\d+) peak/.exec(lines[k]!);
      if (s) slots = Number(s[1]);
    }
    if (chunks === undefined || slots === undefined) throw new Error(`no gc report after "${lines[i]}"`);
    samples.push({ label: m[1]!, connections: Number(m[2]), heap: { slots, chunks } });
  }
  return samples;
}

function run(xsnap: XsnapCommand, file: string): Sample[] {
  const r = spawnSync(xsnap.file, [...xsnap.args, file], { encoding: "utf8", maxBuffer: 64 << 20 });
  if (!r.stdout?.includes("@@done")) throw new Error(`${file} did not finish:\n${(r.stdout ?? "").slice(-2000)}\n${r.stderr ?? r.error}`);
  return parse(r.stdout);
}

/** How to run the xsnap of `variant`, or the one line that says why it cannot run here. */
function command(variant: Variant): XsnapCommand | string {
  let binary: string;
  try {
    binary = ensureXsnap(variant, () => undefined);
  } catch (e) {
    const why = (e as Error).message.split("\n")[0];
    return variant === "report32" ? `${why}; a 32-bit build needs gcc-multilib` : why!;
  }
  if (variant !== "report32") return nativeXsnap(binary);
  const r = xsnap32(binary);
  return r.ok ? r.command : r.reason;
}

const titleOf = (title: string, xsnap: XsnapCommand) =>
  `${title}, ${xsnap.version}${xsnap.how === "direct" ? "" : ` (run under ${xsnap.how})`}`;

const total = (h: Heap) => h.slots + h.chunks;

function slope(samples: Sample[]): Heap & { total: number } {
  const a = samples[0]!;
  const b = samples[samples.length - 1]!;
  const n = b.connections - a.connections;
  const slots = (b.heap.slots - a.heap.slots) / n;
  const chunks = (b.heap.chunks - a.heap.chunks) / n;
  return { slots, chunks, total: slots + chunks };
}

function scenarioSource(name: string, steps: number[]): string {
  if (name === "empty" || name === "load") {
    const imports =
      name === "load"
        ? `import * as runtime from ${spec("src/index.ts")};\nimport { moddableHost } from ${spec("hosts/moddable/index.ts")};\nglobalThis.keep = [runtime, moddableHost];\n`
        : "";
    return `${imports}gc(); print("@@mem ${name} 0"); gc(); print("@@done");\n`;
  }
  return `import { run } from ${spec("tools/xs/memory-scenarios.ts")};\nawait run(${JSON.stringify(name)}, ${JSON.stringify(steps)});\n`;
}

/**
 * `--moddable-tcp`: hosts/moddable's TCP wrapper per connection over a stub platform
 * (tools/xs/memory-moddable.ts), the stub's own cost subtracted.
 */
async function moddableTcp(steps: number[]): Promise<void> {
  const files: Record<string, string> = {};
  for (const s of ["stub", "wrapper"])
    files[s] = await bundle(
      `import { run } from ${spec("tools/xs/memory-moddable.ts")};\nrun(${JSON.stringify(s)}, ${JSON.stringify(steps)});\n`,
      join(BUNDLES, `memory-moddable-${s}.mjs`),
    );
  console.log(`hosts/moddable TCP wrapper, ${steps.join(", ")} connections; bytes per connection (slots + chunks).`);
  for (const [variant, title] of [
    ["report32", "32-bit (ESP32-like)"],
    ["report", "64-bit"],
  ] as [Variant, string][]) {
    const xsnap = command(variant);
    if (typeof xsnap === "string") {
      console.log(`${title}: not measured: ${xsnap}`);
      continue;
    }
    const stub = slope(run(xsnap, files.stub!));
    const wrapper = slope(run(xsnap, files.wrapper!));
    console.log(
      `${titleOf(title, xsnap)}: stub ${stub.total.toFixed(0)}, stub + wrapper ${wrapper.total.toFixed(0)}; ` +
        `wrapper ${(wrapper.slots - stub.slots).toFixed(0)} slots + ${(wrapper.chunks - stub.chunks).toFixed(0)} chunks = ${(wrapper.total - stub.total).toFixed(0)} bytes`,
    );
  }
}

async function main(): Promise<void> {
  const at = process.argv.indexOf("--steps");
  const steps = at > 0 ? process.argv[at + 1]!.split(",").map(Number) : [8, 16, 32];
  if (process.argv.includes("--moddable-tcp")) return moddableTcp(steps);
  const scenarios = [
    "empty",
    "load",
    "sim",
    "accepted",
    "server",
    "client",
    "simws",
    "wsobject",
    "wsserver",
    "wsclient",
    "simudp",
    "udp",
    "mqttdecoder",
  ];
  const files: Record<string, string> = {};
  for (const s of scenarios) files[s] = await bundle(scenarioSource(s, steps), join(BUNDLES, `memory-${s}.mjs`));
  const minified = await bundle(scenarioSource("load", steps), join(BUNDLES, "memory-load.min.mjs"), { minify: true });
  const empty = await bundle(scenarioSource("empty", steps), join(BUNDLES, "memory-empty.min.mjs"), { minify: true });
  const code = readFileSync(minified);
  const codeBytes = code.length - readFileSync(empty).length;

  const variants: [Variant, string][] = [
    ["report32", "32-bit (ESP32-like: 16-byte slots)"],
    ["report", "64-bit (32-byte slots)"],
  ];
  console.log(`Idle connections in steps of ${steps.join(", ")}; bytes per added connection (slots + chunks).`);
  for (const [variant, title] of variants) {
    const xsnap = command(variant);
    if (typeof xsnap === "string") {
      console.log(`\n${title}: not measured: ${xsnap}`);
      continue;
    }
    const r: Record<string, Sample[]> = {};
    for (const s of scenarios) r[s] = run(xsnap, files[s]!);
    const sim = slope(r.sim!);
    const accepted = slope(r.accepted!);
    const server = slope(r.server!);
    const client = slope(r.client!);
    const fmt = (x: number) => x.toFixed(0).padStart(6);
    const row = (label: string, h: Heap & { total?: number }) =>
      console.log(`  ${label.padEnd(50)} ${fmt(h.slots)}  ${fmt(h.chunks)}  ${fmt(h.slots + h.chunks)}`);
    const minus = (a: Heap, b: Heap): Heap => ({ slots: a.slots - b.slots, chunks: a.chunks - b.chunks });
    console.log(`\n${titleOf(title, xsnap)}`);
    console.log(`  ${"scenario (bytes per added connection)".padEnd(50)}  slots  chunks   total`);
    row("sim sockets only, both ends", sim);
    row("+ accepted Socket, no coroutine", accepted);
    row("+ server cosocket (example 9, in read)", server);
    row("+ client cosocket (connect, in read)", client);
    row("runtime per accepted Socket (no coroutine)", minus(accepted, sim));
    row("runtime per idle server cosocket", minus(server, sim));
    row("runtime per idle client cosocket", minus(client, sim));
    const simws = slope(r.simws!);
    const wsobject = slope(r.wsobject!);
    const wsserver = slope(r.wsserver!);
    const wsclient = slope(r.wsclient!);
    row("sim sockets only, both ends, with the handshake", simws);
    row("+ server WebSocket (req2sock), no coroutine", wsobject);
    row("+ server WebSocket (example 5, in readMessage)", wsserver);
    row("+ client WebSocket (wsConnect, in readMessage)", wsclient);
    row("runtime per server WebSocket (no coroutine)", minus(wsobject, simws));
    row("runtime per idle server WebSocket", minus(wsserver, simws));
    row("runtime per idle client WebSocket", minus(wsclient, simws));
    const simudp = slope(r.simudp!);
    row("sim UDP sockets only", simudp);
    row("runtime per idle UdpSocket (udpcon, in read)", minus(slope(r.udp!), simudp));
    row("MQTT PacketDecoder (modules/mqtt), idle", slope(r.mqttdecoder!));
    const load = r.load![0]!.heap;
    const base = r.empty![0]!.heap;
    console.log(
      `  runtime modules loaded (src + hosts/moddable), not preloaded: slots ${load.slots - base.slots}, chunks ${load.chunks - base.chunks} (bytecode included), total ${total(load) - total(base)}`,
    );
  }
  console.log(`\nRuntime code (src + hosts/moddable), esbuild-minified JavaScript: ${codeBytes} bytes, ${gzipSync(code).length} gzipped`);
}

main().catch((e) => {
  console.error(`tools/xs/memory.ts: ${(e as Error).message}`);
  process.exit(1);
});
