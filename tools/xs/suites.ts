/**
 * The jest suites that `npm run test:xs` also runs on the XS engine. One line per suite: the same
 * test file jest runs, and (rarely) tests that cannot run on XS with the reason. A test listed here
 * must exist (the runner fails a stale entry). Suites must stay engine-neutral: no Node APIs in
 * what they exercise (node:* imports resolve to an empty module under XS).
 */
export interface XsSuite {
  /** The test file, relative to the repository root. */
  file: string;
  /** Full test names ("describe > it") that do not apply on XS, and why. */
  notApplicable?: Record<string, string>;
  /**
   * The suite starts the device apps (manifests/<app>/main.ts, tools/xs/device/apps.ts): each
   * app's main is a module of its own, loaded when the test imports it, with the device's module
   * names mapped to stand-ins over the simulated network (tools/xs/device/). Not a jest suite.
   */
  apps?: boolean;
}

export const suites: XsSuite[] = [
  { file: "test/xs/expect-shim.test.ts" }, // the shim agrees with jest
  { file: "test/unit/dispatcher.test.ts" },
  { file: "test/unit/error-names.test.ts" }, // Error subclasses with the built-ins frozen
  {
    file: "test/unit/bytes.test.ts",
    notApplicable: {
      "UTF-8 without the platform's TextEncoder > the fallback codec matches the platform's on tricky text":
        "re-imports src/base/utf8.ts after jest.resetModules(); an XS bundle has one instance of each module (the fallback codec runs on XS in test/xs/utf8-fallback.test.ts)",
    },
  },
  { file: "test/xs/utf8-fallback.test.ts" },
  { file: "test/unit/queue.test.ts" }, // the base layer's queues
  { file: "test/runtime/flow-control.sim.test.ts" },
  { file: "test/runtime/sim-network.test.ts" },
  // codecs (WebSocket, MQTT, Modbus)
  { file: "test/websocket/codec-parser.test.ts" },
  { file: "test/websocket/codec-writer.test.ts" },
  { file: "test/websocket/codec-assemble.test.ts" },
  { file: "test/websocket/codec-utf8.test.ts" },
  { file: "test/websocket/codec-malformed.test.ts" },
  { file: "test/mqtt/codec.test.ts" },
  { file: "test/mqtt/session-store.test.ts" }, // the stored form of an MQTT session
  { file: "test/modbus/codec.test.ts" },
  // protocol clients over the simulated network
  { file: "test/ntp/sntp.sim.test.ts" },
  { file: "test/mqtt/client.sim.test.ts" },
  { file: "test/modbus/client-server.sim.test.ts" },
  { file: "test/tls/standin.sim.test.ts" },
  { file: "test/hostile/websocket.sim.test.ts" },
  { file: "test/xs/apps.xs.ts", apps: true }, // each device app's main started under the limits, driven by a peer // idle timeout and keepalive (the watchdog)
  { file: "test/websocket/connection.sim.test.ts" }, // the WebSocket connection itself // TLS handshake state machine (the sim's no-crypto stand-in)
  {
    file: "test/hosts/sim.test.ts",
    notApplicable: {
      "sim host: clock, timers, randomness, names > uses no Node APIs (it must run under XS)":
        "reads the simulator's source files with node:fs (a check of the text, not of the engine; running the suite on XS is the stronger check)",
    },
  },
];
