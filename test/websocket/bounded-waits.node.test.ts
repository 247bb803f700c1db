/**
 * The waits a WebSocket makes on its own (the closing handshake, `ping`) end within their bound
 * against a peer that answers the upgrade and then stays silent, even when
 *
 * - a `readMessage()` without a timeout is waiting: its socket read is the one the closing
 *   handshake and `ping` share, and it has no timer of its own;
 * - the host's timers fire early by the host's own clock (`now()`). Node's timers do, under
 *   load: a timer is set from the event loop's cached time, which lags the real clock while
 *   JavaScript runs. The host here makes every timer fire at half its delay, so a wait that
 *   wakes once and finds time left must set a new timer, not wait for a read that never comes.
 */
import { Runtime } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import type { Host } from "../../src/host.js";
import { wsConnect } from "../../src/websocket/handshake.js";
import { CLOSED } from "../../src/websocket/codes.js";
import { rawServer, switching } from "../support/ws-raw.js";
import { until } from "../support/util.js";

/** A node host whose timers fire after half the delay asked for. */
function earlyTimers(): Host {
  const host = nodeHost();
  const setTimer = host.setTimer.bind(host);
  return Object.assign(Object.create(host) as Host, { setTimer: (fn: () => void, ms: number) => setTimer(fn, ms / 2) });
}

let srv: Awaited<ReturnType<typeof rawServer>> | undefined;
let rt: Runtime | undefined;

afterEach(async () => {
  rt?.shutdown();
  rt = undefined;
  await srv?.close();
  srv = undefined;
});

async function silentPeer(): Promise<string> {
  srv = await rawServer((c) => c.sock.write(switching(c.key))); // answers the upgrade, then says nothing
  return `ws://127.0.0.1:${srv.port}/`;
}

describe.each([
  ["node's timers", () => nodeHost()],
  ["timers that fire early", earlyTimers],
])("with %s", (_name, makeHost) => {
  it("idleTimeout during a readMessage(): the read fails with idletimeout and the closing handshake ends the connection", async () => {
    rt = new Runtime(makeHost());
    const ws = await wsConnect(rt, await silentPeer(), { idleTimeout: 100, closeTimeout: 200 });
    await expect(ws.readMessage()).rejects.toMatchObject({ wsCode: "idletimeout", closeCode: 1001 });
    await until(rt, () => ws.readyState === CLOSED, 3000, "CLOSED");
    expect(rt.stat().activeCons).toBe(0);
  });

  it("close() while a readMessage() waits: the handshake gives up after closeTimeout and the read ends", async () => {
    rt = new Runtime(makeHost());
    const ws = await wsConnect(rt, await silentPeer(), { closeTimeout: 200 });
    const reading = ws.readMessage();
    reading.catch(() => undefined); // a failed test must not leave it unhandled
    await expect(ws.close()).resolves.toBe(true);
    expect(ws.readyState).toBe(CLOSED);
    await expect(reading).resolves.toBeNull();
  });

  it("ping() while a readMessage() waits: it throws timeout after its timeout", async () => {
    rt = new Runtime(makeHost());
    const ws = await wsConnect(rt, await silentPeer(), { closeTimeout: 200 });
    const reading = ws.readMessage();
    reading.catch(() => undefined); // a failed test must not leave it unhandled
    await expect(ws.ping(undefined, 150)).rejects.toMatchObject({ code: "timeout" });
    void ws.close();
    await expect(reading).resolves.toBeNull();
  });
});
