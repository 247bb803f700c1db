/**
 * The Moddable manifests: every module the device apps load resolves the way XS resolves
 * imports on a microcontroller (test/device/mc-modules.ts), and the device defaults in the
 * library manifest's `config` are the ones device/defaults.ts applies.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { deviceHttpDefaults, deviceOptions, deviceRuntimeDefaults, deviceWsDefaults } from "../../device/defaults.js";
import { defaults } from "../../src/options.js";
import { modulesOf, readManifest, ROOT, unresolvedImports, xsResolve } from "./mc-modules.js";

const apps = readdirSync(join(ROOT, "manifests")).map((name) => join(ROOT, "manifests", name, "manifest.json"));

describe("device manifests", () => {
  it("XS's import resolution is reproduced: one ./ or ../ hop, .js dropped", () => {
    expect(xsResolve("cosock/src/runtime", "./dispatcher.js")).toBe("cosock/src/dispatcher");
    expect(xsResolve("cosock/src/http/server", "../bytes.js")).toBe("cosock/src/bytes");
    expect(xsResolve("cosock/examples/01-ntp-blocking", "../src/index.js")).toBe("cosock/src/index");
    expect(xsResolve("cosock/modules/ntp/client", "../../src/index.js")).toBe("cosock/modules/../src/index"); // not found
    expect(xsResolve("main", "cosock/src/index")).toBe("cosock/src/index");
  });

  it.each(apps.map((p) => [p.slice(ROOT.length + 1), p]))("%s: every value import resolves on the device", (_name, path) => {
    const modules = modulesOf(path);
    expect(modules.has("main")).toBe(true);
    expect(unresolvedImports(modules)).toEqual([]);
  });

  const named = apps.map((p) => [p.slice(ROOT.length + 1), p]);
  it.each(named)("%s: each config key main.ts reads falls back to the value the manifest sets", (_name, path) => {
    const config = readManifest(path).config ?? {};
    const source = readFileSync(join(dirname(path), "main.ts"), "utf8");
    const read = [...source.matchAll(/\["([a-z]+\.[a-zA-Z.]+)"\]\s*\?\?\s*("[^"]*"|\d+)/g)].map((m) => [m[1], JSON.parse(m[2]!)]);
    expect(read.length).toBeGreaterThan(0);
    for (const [key, fallback] of read) expect({ key, value: config[key as string] }).toEqual({ key, value: fallback });
  });

  it("the WebSocket client app: the client, its handshake and the device host are on the device", () => {
    const modules = modulesOf(join(ROOT, "manifests/wsclient/manifest.json"));
    const needed = [
      "cosock/examples/ws-client",
      "cosock/src/websocket/handshake",
      "cosock/src/websocket/connection",
      "cosock/src/http/client",
      "cosock/device/runtime",
    ];
    for (const m of needed) expect({ module: m, mapped: modules.has(m) }).toEqual({ module: m, mapped: true });
  });

  it("the library manifest maps the runtime and the device host, and preloads only modules it maps", () => {
    const modules = modulesOf(join(ROOT, "manifest.json"));
    expect(modules.get("cosock/src/index")).toBe(join(ROOT, "src/index.ts"));
    expect(modules.get("cosock/device/runtime")).toBe(join(ROOT, "device/runtime.ts"));
    expect(modules.get("cosock/hosts/moddable/device")).toBe(join(ROOT, "hosts/moddable/device.ts"));
    expect(unresolvedImports(modules)).toEqual([]);
    for (const p of readManifest(join(ROOT, "manifest.json")).preload ?? []) {
      const hit = p.endsWith("*") ? [...modules.keys()].some((m) => m.startsWith(p.slice(0, -1))) : modules.has(p);
      expect({ preload: p, mapped: hit }).toEqual({ preload: p, mapped: true });
    }
  });

  it("the config defaults in manifest.json are those of device/defaults.ts", () => {
    const config = readManifest(join(ROOT, "manifest.json")).config ?? {};
    const expected: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(deviceRuntimeDefaults)) expected[`cosock.${k}`] = v;
    for (const [k, v] of Object.entries(deviceHttpDefaults)) expected[`cosock.http.${k}`] = v;
    for (const [k, v] of Object.entries(deviceWsDefaults)) expected[`cosock.ws.${k}`] = v;
    expect(config).toEqual(expected);
    // every numeric runtime option has a device value
    const numeric = Object.entries(defaults)
      .filter(([, v]) => typeof v === "number")
      .map(([k]) => k);
    expect(Object.keys(deviceRuntimeDefaults).sort()).toEqual(numeric.sort());
  });

  it("preloaded modules keep no module-level mutable state (the device freezes them into flash)", () => {
    const modules = modulesOf(join(ROOT, "manifest.json"));
    const preload = readManifest(join(ROOT, "manifest.json")).preload ?? [];
    const preloaded = [...modules.entries()].filter(([name]) =>
      preload.some((p) => (p.endsWith("*") ? name.startsWith(p.slice(0, -1)) : name === p)),
    );
    expect(preloaded.length).toBeGreaterThan(20);
    const offenders: string[] = [];
    for (const [name, file] of preloaded) {
      if (!file.endsWith(".ts")) continue;
      readFileSync(file, "utf8")
        .split("\n")
        .forEach((line, i) => {
          // a top-level `let`/`var`, or a top-level collection made to be filled in
          if (/^(export )?(let|var) /.test(line) || /^(export )?const \w+(: [^=]+)? = new (Weak)?(Map|Set)\b/.test(line))
            offenders.push(`${name}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(offenders).toEqual([]);
  });

  it("config overrides: numbers from the manifest, strings from the mcconfig command line", () => {
    const o = deviceOptions({ "cosock.queuelen": 8192, "cosock.http.maxBody": "32768", unrelated: "x" });
    expect(o.runtime.queuelen).toBe(8192);
    expect(o.http.maxBody).toBe(32768);
    expect(o.runtime.maxRead).toBe(deviceRuntimeDefaults.maxRead);
    expect(() => deviceOptions({ "cosock.maxRead": "lots" })).toThrow(RangeError);
  });
});
