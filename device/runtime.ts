/**
 * The device's composition root: a `Runtime` (src/) on the device host (hosts/moddable) with the
 * device defaults (./defaults.ts) and the overrides from the app manifest's `config`. Only
 * mcconfig builds (and `npm run typecheck:moddable`) see this file; the XS app test
 * (test/xs/apps.xs.ts) runs the apps over a stand-in with the same exports (tools/xs/device/).
 *
 *   import { deviceRuntime } from "cosock/device/runtime";
 *   const rt = deviceRuntime();            // new Runtime(deviceHost(), device defaults + config)
 *
 * Manifest: include the top-level cosock manifest.json (it maps `cosock/device/*` and brings the
 * io, DNS, timer and time modules the device host imports).
 */
import config from "mc/config";
import { Runtime, type Host, type RuntimeOptions } from "../src/index.js";
import { deviceHost } from "../hosts/moddable/device.js";
import { deviceOptions, type DeviceOptions } from "./defaults.js";

export { deviceHost };

/** The device defaults (device/defaults.ts) with the overrides from the manifest's config. */
export function deviceConfig(): DeviceOptions {
  return deviceOptions(config as Record<string, unknown>);
}

/** A runtime on the device host with the device defaults; `options` win over both. */
export function deviceRuntime(options: Partial<RuntimeOptions> = {}, host: Host = deviceHost()): Runtime {
  return new Runtime(host, { ...deviceConfig().runtime, ...options });
}
