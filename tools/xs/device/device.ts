/**
 * Stand-in for `cosock/device/runtime` (device/runtime.ts) in the XS app test (test/xs/apps.xs.ts):
 * the same exports the device apps use (deviceHost, deviceConfig, deviceRuntime), with the device
 * defaults (device/defaults.ts) and the config's overrides as on the device, over a host of the
 * simulated network (hosts/sim) instead of Moddable's ECMA-419 sockets. The test installs the host
 * and the app's config with `installDevice()` before it imports the app's main module.
 * ES2022 only, no Node APIs: it runs on XS.
 */
import { Runtime, type Host, type RuntimeOptions } from "../../../src/index.js";
import { deviceOptions, type DeviceOptions } from "../../../device/defaults.js";
import config from "./mc-config.js";

let current: Host | undefined;
const runtimes: Runtime[] = [];

/** The device the next app runs on: its network host and its `mc/config` (manifest config + overrides). */
export function installDevice(host: Host, settings: Readonly<Record<string, unknown>>): void {
  current = host;
  for (const k of Object.keys(config)) delete config[k];
  Object.assign(config, settings);
}

/** The runtimes the apps made with deviceRuntime(), so that the test can shut them down. */
export function deviceRuntimes(): readonly Runtime[] {
  return runtimes;
}

export function deviceHost(): Host {
  if (!current) throw new Error("tools/xs/device: no device installed (installDevice before importing the app)");
  return current;
}

export function deviceConfig(): DeviceOptions {
  return deviceOptions(config);
}

export function deviceRuntime(options: Partial<RuntimeOptions> = {}, host: Host = deviceHost()): Runtime {
  const rt = new Runtime(host, { ...deviceConfig().runtime, ...options });
  runtimes.push(rt);
  return rt;
}
