/**
 * The WebSocket connection (src/websocket/connection.ts) end to end on the simulated network:
 * our HTTP server upgrading with example 5's echo handler, our client. Short and deterministic,
 * so that it also runs on the XS engine (npm run test:xs), where the device runs this code.
 */
import { Runtime, SocketError, decodeUtf8, encodeUtf8 } from "../../src/index.js";
import { SimNetwork } from "../../hosts/sim/index.js";
import { HttpServer } from "../../src/http/server.js";
import { wsConnect } from "../../src/websocket/handshake.js";
import type { WebSocket } from "../../src/websocket/connection.js";
import { wsEchoHandler } from "../../examples/05-websocket-server.js";
import { equalBytes, randomBytes, until } from "../support/util.js";

const SERVER = "10.0.0.1";
const CLIENT = "10.0.0.2";

let sim: SimNetwork;
let server: Runtime;
let client: Runtime;
let http: HttpServer;
let logs: string[];

beforeEach(async () => {
  sim = new SimNetwork({ seed: 7, link: { latency: 3, mss: 536 } });
  logs = [];
  server = new Runtime(sim.host(SERVER), { log: (m) => logs.push(m) });
  client = new Runtime(sim.host(CLIENT), { log: (m) => logs.push(m) });
  http = await HttpServer.listen(server, wsEchoHandler({ maxFrame: 1000, maxMessage: 1 << 16 }), { port: 80 });
});

afterEach(() => {
  http.close();
  server.shutdown();
  client.shutdown();
});

function connect(): Promise<WebSocket> {
  return wsConnect(client, `ws://${SERVER}/ws`, { maxFrame: 1000, maxMessage: 1 << 16 });
}

describe("WebSocket connection on the simulated network", () => {
  it("echoes text, binary, empty and fragmented messages, in order", async () => {
    const ws = await connect();
    const sent: [Uint8Array | string, boolean][] = [
      ["hello", true],
      ["héllo wörld € 𝄞", true],
      ["", true],
      [randomBytes(1, 1), false],
      [randomBytes(5000, 2), false], // five frames of 1000 bytes each way
      ["€".repeat(700), true], // 2100 bytes, cut inside characters
    ];
    for (const [data, isText] of sent) await ws.write(data, isText);
    for (const [data, isText] of sent) {
      const m = await ws.readMessage(10000);
      expect(m).not.toBeNull();
      expect(m!.isText).toBe(isText);
      const want = typeof data === "string" ? encodeUtf8(data) : data;
      expect(equalBytes(m!.data, want)).toBe(true);
    }
    expect(await ws.close()).toBe(true);
    expect(ws.closeCode).toBe(1000); // the server echoed our close
    await until(client, () => server.stat().activeCons === 0 && client.stat().activeCons === 0, 10000, "both ends closed");
    expect(logs).toEqual([]);
  });

  it("reads frame by frame and piece by piece", async () => {
    const ws = await connect();
    await ws.write(randomBytes(2500, 3), false); // three frames: 1000, 1000, 500
    const frames = [];
    for (let i = 0; i < 3; i++) frames.push((await ws.readFrame(10000))!);
    expect(frames.map((f) => [f.data.length, f.fin])).toEqual([
      [1000, false],
      [1000, false],
      [500, true],
    ]);
    await ws.write("pieces");
    let text = "";
    for (;;) {
      const p = (await ws.read(10000))!;
      text += decodeUtf8(p.data);
      if (p.fin && p.bytesRead === p.frameLen) break;
    }
    expect(text).toBe("pieces");
    await ws.close();
  });

  it("ping gets its pong; one reader at a time; a timed-out read leaves the connection usable", async () => {
    const ws = await connect();
    await ws.ping("are you there", 10000);
    await expect(ws.readMessage(20)).rejects.toMatchObject({ code: "timeout" });
    const first = ws.readMessage(10000);
    await expect(ws.read()).rejects.toMatchObject({ code: "incorrectuse" });
    await ws.write("after all that");
    expect(decodeUtf8((await first)!.data)).toBe("after all that");
    await ws.close(1001, "going");
    expect(ws.closeCode).toBe(1001);
    await expect(ws.write("too late")).rejects.toBeInstanceOf(SocketError);
    expect(await ws.readMessage()).toBeNull();
  });

  it("a message over the receiver's cap closes the connection with 1009", async () => {
    const ws = await wsConnect(client, `ws://${SERVER}/ws`, { maxFrame: 1000, maxMessage: 3000 });
    await ws.write(randomBytes(2000, 4), false);
    expect((await ws.readMessage(10000))!.data.length).toBe(2000);
    await ws.write(randomBytes(4000, 5), false); // echoed in four frames: over our 3000-byte cap
    await expect(ws.readMessage(10000)).rejects.toMatchObject({ closeCode: 1009 });
    await until(client, () => client.stat().activeCons === 0, 10000, "the client to close");
  });
});
