/**
 * The device environment for the shared suites: a server and a client runtime, each on
 * hosts/moddable over its own ECMA-419 emulation (two devices on loopback), with a send buffer
 * of one MSS (1436 bytes) unless told otherwise.
 */
import { Runtime, type RuntimeOptions } from "../../src/index.js";
import { moddableHost } from "../../hosts/moddable/index.js";
import { ecma419, type Emulation, type EmulationOptions } from "./ecma419.js";
import type { Env } from "../support/env.js";

export const DEVICE_MSS = 1436;

export interface DeviceEnv extends Env {
  readonly emulations: Emulation[];
}

export function moddableEnv(options: { emulation?: EmulationOptions; rt?: Partial<RuntimeOptions> } = {}): DeviceEnv {
  const serverEmu = ecma419({ sendBuffer: DEVICE_MSS, ...options.emulation });
  const clientEmu = ecma419({ sendBuffer: DEVICE_MSS, ...options.emulation });
  const server = new Runtime(moddableHost(serverEmu), options.rt);
  const client = new Runtime(moddableHost(clientEmu), options.rt);
  const env = {
    // Env.name has no "moddable" yet (test/support/env.ts); the shared suites do not read it.
    name: "moddable" as const,
    server,
    client,
    address: "127.0.0.1",
    emulations: [serverEmu, clientEmu],
    async done() {
      server.shutdown();
      client.shutdown();
      await new Promise((r) => setTimeout(r, 5));
      serverEmu.shutdown();
      clientEmu.shutdown();
    },
  };
  return env;
}
