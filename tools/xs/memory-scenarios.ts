/**
 * Runs inside xsnap (the "report" build, where every gc() prints the XS heap in use) for
 * tools/xs/memory.ts. Each scenario builds some idle connections on the simulated network and
 * prints "@@mem <label> <connections>" right before a gc(), whose report lines follow.
 *
 * Scenarios (all on one SimNetwork, server 10.0.0.1, client 10.0.0.2):
 * - "sim":    both ends are bare sim host sockets: the platform's own cost, both ends.
 * - "server": the server end is a runtime cosocket (example 9 echo: adopted Socket, coroutine
 *             waiting in read()); the client end a bare sim socket.
 * - "accepted": the server end is an accepted runtime Socket with no coroutine (the split
 *             between the socket and its coroutine).
 * - "client": the client end is a runtime socket (rt.connect) with a cosocket waiting in read();
 *             the server end a bare sim socket.
 * - "load" / "empty": the device runtime's modules (src + hosts/moddable) loaded, or nothing.
 * The runtime's cost per connection is the scenario's slope minus the "sim" slope.
 * ES2022 only: it runs under XS.
 */
import { Runtime, type Socket } from "../../src/index.js";
import { SimNetwork, type SimHost } from "../../hosts/sim/index.js";
import { example9 } from "../../examples/09-cosocket-echo.js";
import { listen } from "../../examples/accept-loop.js";

declare const gc: () => void;
declare const print: (line: string) => void;

const SERVER = "10.0.0.1";
const CLIENT = "10.0.0.2";
const PORT = 7;

/** The client cosocket: waits in read() until the connection ends (one function for all of them). */
async function readUntilEnd(sock: Socket): Promise<void> {
  while (await sock.read());
}

/** Lets every pending promise job and sim event run, so that what is measured is idle. */
async function settle(net: SimNetwork): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await net.idle();
    for (let k = 0; k < 16; k++) await Promise.resolve();
  }
}

function measure(label: string, connections: number): void {
  gc(); // a first collection frees what settling left behind
  print(`@@mem ${label} ${connections}`);
  gc();
}

/** Keeps objects alive for the whole scenario (so that gc() cannot take them). */
const keep: unknown[] = [];

function rawListener(host: SimHost): void {
  const listener = host.listener({
    port: PORT,
    onReadable: () => {
      for (let p; (p = listener.read()); ) {
        keep.push(host.tcp({ from: p })); // no callbacks: a per-socket closure here would be subtracted too

      }
    },
  });
  keep.push(listener);
}

function rawConnect(host: SimHost): void {
  keep.push(host.tcp({ address: SERVER, port: PORT }));
}

export async function run(scenario: string, steps: number[]): Promise<void> {
  if (scenario === "empty" || scenario === "load") {
    measure(scenario, 0);
    print("@@done");
    return;
  }
  const net = new SimNetwork({ seed: 1, link: { latency: 1 } });
  const serverHost = net.host(SERVER);
  const clientHost = net.host(CLIENT);
  let clientRt: Runtime | undefined;
  if (scenario === "server") {
    const rt = new Runtime(serverHost);
    keep.push(rt, await example9(rt, PORT, SERVER));
  } else if (scenario === "accepted") {
    const rt = new Runtime(serverHost);
    keep.push(rt, await listen(rt, PORT, (s) => keep.push(s), SERVER));
  } else rawListener(serverHost);
  if (scenario === "client") clientRt = new Runtime(clientHost);
  await settle(net);
  let made = 0;
  for (const target of steps) {
    while (made < target) {
      if (clientRt) {
        keep.push((await clientRt.connect(SERVER, PORT)).event(readUntilEnd, "s"));
      } else rawConnect(clientHost);
      made++;
    }
    await settle(net);
    measure(scenario, made);
  }
  print("@@done");
}
