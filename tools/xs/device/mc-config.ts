/**
 * Stand-in for Moddable's `mc/config` in the XS app test (test/xs/apps.xs.ts): the app's manifest
 * `config` with the test's overrides. One module serves every app of the run, so the object is
 * filled by `installDevice()` (./device.ts) before each app's main module is imported; an app
 * reads its settings when its main starts, as on the device.
 */
const config: Record<string, unknown> = {};
export default config;
