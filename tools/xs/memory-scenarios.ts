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
 *
 * WebSocket scenarios (the device's WebSocket limits, device/defaults.ts). Their bare ends
 * do the opening handshake themselves: the bare client writes a fixed upgrade request once
 * connected and reads (and drops) the answer; the bare server reads the request and answers 101
 * with the right Sec-WebSocket-Accept. The runtime's cost is the slope minus the "simws" slope.
 * - "simws":  both ends bare, doing the handshake: the platform's cost, same traffic.
 * - "wsobject": the server end is our HTTP server (src/http/server.ts) whose handler turned the
 *             request into a server WebSocket with req2sock and keeps it, with no coroutine.
 * - "wsserver": the same with example 5's handler: the WebSocket's cosocket waits in
 *             readMessage() (the idle server WebSocket); the client end is the bare client.
 * - "wsclient": the client end is a runtime WebSocket (wsConnect) whose cosocket waits in
 *             readMessage(); the server end is the bare server.
 *
 * UDP and MQTT (classes that exist once per connection on the device, docs/contributing.md):
 * - "simudp": bare sim UDP sockets (no callbacks): the platform's cost.
 * - "udp":    runtime UdpSockets (rt.udpcon) whose coroutine waits in read(); minus "simudp".
 * - "mqttdecoder": MQTT packet decoders (modules/mqtt), one per connection, idle between packets
 *             (each has decoded one PINGRESP); nothing else, so the slope is the decoder's.
 * ES2022 only: it runs under XS.
 */
import { Runtime, type Socket } from "../../src/index.js";
import { SimNetwork, type SimHost } from "../../hosts/sim/index.js";
import type { TCP } from "../../src/host.js";
import { example9 } from "../../examples/09-cosocket-echo.js";
import { listen } from "../../examples/accept-loop.js";
import { HttpServer } from "../../src/http/server.js";
import { acceptKey, req2sock, wsConnect } from "../../src/websocket/handshake.js";
import type { WebSocket } from "../../src/websocket/connection.js";
import { echoCosocket, wsEchoHandler } from "../../examples/05-websocket-server.js";
import { deviceWsDefaults } from "../../device/defaults.js";
import { decodeUtf8, encodeUtf8 } from "../../src/base/utf8.js";
import type { UdpSocket } from "../../src/udp.js";
import { PacketDecoder } from "../../modules/mqtt/packet/index.js";

declare const gc: () => void;
declare const print: (line: string) => void;

const SERVER = "10.0.0.1";
const CLIENT = "10.0.0.2";
const PORT = 7;

/** The client cosocket: waits in read() until the connection ends (one function for all of them). */
async function readUntilEnd(sock: Socket): Promise<void> {
  while (await sock.read());
}

/**
 * Lets every pending promise job and sim event run, so that what is measured is idle. By virtual
 * time rather than `net.idle()`: a watched WebSocket's idle timeout keeps a timer pending (the
 * runtime's watchdog), and waiting for no timer at all would run the clock into the timeout.
 */
async function settle(net: SimNetwork): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await net.advance(100);
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

/** The bare client's upgrade request (one for every connection: the server checks only its form). */
const UPGRADE = encodeUtf8(
  `GET /ws HTTP/1.1\r\nHost: ${SERVER}:${PORT}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
);

/** Bare clients whose handshake was answered with 101 (a check that the scenario is what it says). */
let switched = 0;

/**
 * The bare ends of the WebSocket baseline use shared callbacks that find their socket through the
 * seam's `target` (a small holder): a per-socket closure would be subtracted from the runtime's
 * figure as if it were the platform's.
 */
interface Bare {
  sock?: TCP;
  head: string;
}

/** A bare client that performs the WebSocket handshake by writing the request bytes itself. */
function rawWsConnect(host: SimHost): void {
  const bare: Bare = { head: "" };
  bare.sock = host.tcp({ address: SERVER, port: PORT, target: bare, onWritable: bareSendUpgrade, onReadable: bareRead101 });
  keep.push(bare.sock);
}

function bareSendUpgrade(this: Bare): void {
  if (this.head) return; // sent already
  this.head = "sent";
  this.sock!.write(UPGRADE);
}

function bareRead101(this: Bare): void {
  // the 101 response: read and dropped
  for (let d; (d = this.sock!.read()); ) if (decodeUtf8(d.subarray(0, 12)) === "HTTP/1.1 101") switched++;
}

/** A bare server that answers each upgrade request with 101 and the right Sec-WebSocket-Accept. */
function rawWsListener(host: SimHost): void {
  const listener = host.listener({
    port: PORT,
    onReadable: () => {
      for (let p; (p = listener.read()); ) {
        const bare: Bare = { head: "" };
        bare.sock = host.tcp({ from: p, target: bare, onReadable: bareAnswer101 });
        keep.push(bare.sock);
      }
    },
  });
  keep.push(listener);
}

function bareAnswer101(this: Bare): void {
  const sock = this.sock!;
  for (let d; (d = sock.read()); ) this.head += decodeUtf8(d);
  if (!this.head.includes("\r\n\r\n")) return;
  const key = /sec-websocket-key: *(\S+)/i.exec(this.head)?.[1] ?? "";
  this.head = "";
  sock.write(
    encodeUtf8(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`,
    ),
  );
}

const WS_LIMITS = { maxFrame: deviceWsDefaults.maxFrame, maxMessage: deviceWsDefaults.maxMessage };

/** The UDP cosocket: waits in read() until the socket closes (one function for all of them). */
async function readDatagrams(sock: UdpSocket): Promise<void> {
  for (;;) await sock.read();
}

const PINGRESP = Uint8Array.of(0xd0, 0x00);

/** UDP sockets and MQTT decoders: one per connection, opened in steps like the TCP scenarios. */
async function perConnection(scenario: string, steps: number[]): Promise<void> {
  const net = new SimNetwork({ seed: 1, link: { latency: 1 } });
  const host = net.host(CLIENT);
  const rt = scenario === "udp" ? new Runtime(host) : undefined;
  keep.push(rt);
  await settle(net);
  let made = 0;
  for (const target of steps) {
    while (made < target) {
      if (rt) keep.push((await rt.udpcon({ host: SERVER, port: PORT })).event(readDatagrams));
      else if (scenario === "simudp") keep.push(host.udp({}));
      else {
        const decoder = new PacketDecoder({ protocolVersion: 4, side: "client" });
        for (const p of decoder.feed(PINGRESP)) keep.push(p.type);
        keep.push(decoder);
      }
      made++;
    }
    await settle(net);
    if (rt && rt.stat().udpSockets !== made) throw new Error(`udp: ${rt.stat().udpSockets} of ${made} sockets open`);
    measure(scenario, made);
  }
  print("@@done");
}

export async function run(scenario: string, steps: number[]): Promise<void> {
  if (scenario === "empty" || scenario === "load") {
    measure(scenario, 0);
    print("@@done");
    return;
  }
  if (scenario === "simudp" || scenario === "udp" || scenario === "mqttdecoder") return perConnection(scenario, steps);
  const net = new SimNetwork({ seed: 1, link: { latency: 1 } });
  const serverHost = net.host(SERVER);
  const clientHost = net.host(CLIENT);
  let clientRt: Runtime | undefined;
  let serverRt: Runtime | undefined;
  const ws = scenario === "simws" || scenario.startsWith("ws");
  if (scenario === "wsserver") {
    const rt = (serverRt = new Runtime(serverHost));
    keep.push(rt, await HttpServer.listen(rt, wsEchoHandler(WS_LIMITS), { port: PORT, intf: SERVER }));
  } else if (scenario === "wsobject") {
    const rt = (serverRt = new Runtime(serverHost));
    const handler = async (req: Parameters<typeof req2sock>[0], res: Parameters<typeof req2sock>[1]) => {
      keep.push(await req2sock(req, res, WS_LIMITS));
    };
    keep.push(rt, await HttpServer.listen(rt, handler, { port: PORT, intf: SERVER }));
  } else if (ws) rawWsListener(serverHost);
  else if (scenario === "server") {
    const rt = new Runtime(serverHost);
    keep.push(rt, await example9(rt, PORT, SERVER));
  } else if (scenario === "accepted") {
    const rt = new Runtime(serverHost);
    keep.push(rt, await listen(rt, PORT, (s) => keep.push(s), SERVER));
  } else rawListener(serverHost);
  if (scenario === "client" || scenario === "wsclient") clientRt = new Runtime(clientHost);
  await settle(net);
  let made = 0;
  for (const target of steps) {
    while (made < target) {
      if (clientRt && scenario === "wsclient") {
        const w: WebSocket = await wsConnect(clientRt, `ws://${SERVER}:${PORT}/ws`, WS_LIMITS);
        w.event(echoCosocket, "s");
        keep.push(w);
      } else if (ws) rawWsConnect(clientHost);
      else if (clientRt) {
        keep.push((await clientRt.connect(SERVER, PORT)).event(readUntilEnd, "s"));
      } else rawConnect(clientHost);
      made++;
    }
    await settle(net);
    if (ws && scenario !== "wsclient" && switched !== made) throw new Error(`${scenario}: ${switched} of ${made} handshakes answered 101`);
    const rt = serverRt ?? (scenario === "wsclient" ? clientRt : undefined);
    if (rt && rt.stat().activeCons !== made) throw new Error(`${scenario}: ${rt.stat().activeCons} of ${made} WebSockets open`);
    measure(scenario, made);
  }
  print("@@done");
}
