/** The simulated-network environment for the shared suites. */
import { Runtime, type RuntimeOptions } from "../../src/index.js";
import { SimNetwork, type LinkOptions } from "../../hosts/sim/index.js";
import type { Env } from "./env.js";

export const SIM_SERVER = "10.0.0.1";
export const SIM_CLIENT = "10.0.0.2";

export function simEnv(options: { seed?: number; link?: LinkOptions; rt?: Partial<RuntimeOptions> } = {}): Env {
  const sim = new SimNetwork({ seed: options.seed ?? 1, link: options.link });
  const server = new Runtime(sim.host(SIM_SERVER), options.rt);
  const client = new Runtime(sim.host(SIM_CLIENT), options.rt);
  return {
    name: "sim",
    server,
    client,
    address: SIM_SERVER,
    sim,
    async done() {
      server.shutdown();
      client.shutdown();
    },
  };
}
