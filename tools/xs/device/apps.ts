/**
 * The device apps (manifests/<app>/main.ts), each loadable on its own: the XS test entry
 * (tools/xs/test-xs.ts, for a suite with `apps: true`) fills `apps` with each app's `mc/config`
 * (the library manifest's config under the app manifest's, as mcconfig merges them) and a
 * dynamic import of its main; the bundle (tools/xs/bundle.ts, `split`) makes each main a module
 * file of its own, so that it loads and starts when the test imports it, under the device's limits.
 */
export interface DeviceApp {
  /** What `mc/config` holds for this app on a device built from its manifest. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Imports the app's main module: its top level (the app's start-up) runs now. */
  readonly load: () => Promise<unknown>;
}

export const apps: Record<string, DeviceApp> = {};

export function deviceApp(name: string): DeviceApp {
  const app = apps[name];
  if (!app) throw new Error(`no device app "${name}" (manifests/${name}/main.ts); the suite needs apps: true in tools/xs/suites.ts`);
  return app;
}
