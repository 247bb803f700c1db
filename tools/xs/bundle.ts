/**
 * Bundles TypeScript for xsnap with esbuild: one ESM file holding the XS test shim (or another
 * entry), the test module and everything it imports (src/, hosts/sim, test/support, …).
 * `node:*` imports resolve to an empty module: code that really calls Node fails loudly on XS.
 */
import { build, type Plugin } from "esbuild";
import { mkdirSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { CACHE, ROOT } from "./build-xsnap.js";

const noNode: Plugin = {
  name: "no-node-on-xs",
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path, namespace: "no-node" }));
    // CommonJS, so that named imports are allowed and are undefined at run time.
    b.onLoad({ filter: /.*/, namespace: "no-node" }, (args) => ({
      contents: `/* ${args.path} is not available on XS */ module.exports = {};`,
      loader: "js",
    }));
  },
};

/**
 * The modules a device app (manifests/<app>/main.ts) imports by its Moddable name: the cosock
 * modules by their manifest names, and the SDK's modules it uses, as stand-ins over the simulated
 * network (tools/xs/device/).
 */
const DEVICE_STANDINS: Record<string, string> = {
  "cosock/device/runtime": "tools/xs/device/device.ts",
  "mc/config": "tools/xs/device/mc-config.ts",
  time: "tools/xs/device/time.ts",
};
const DEVICE_PREFIXES: [string, string][] = [
  ["cosock/src/", "src/"],
  ["cosock/examples/", "examples/"],
  ["cosock/modules/", "modules/"],
  ["cosock/hosts/moddable/", "hosts/moddable/"],
  ["cosock/device/", "device/"],
];

const deviceModules: Plugin = {
  name: "device-modules",
  setup(b) {
    b.onResolve({ filter: /^(cosock\/|mc\/config$|time$)/ }, (args) => {
      const standIn = DEVICE_STANDINS[args.path];
      if (standIn) return { path: join(ROOT, standIn) };
      for (const [from, to] of DEVICE_PREFIXES)
        if (args.path.startsWith(from)) return { path: join(ROOT, to + args.path.slice(from.length) + ".ts") };
      return undefined;
    });
  },
};

export interface BundleOptions {
  minify?: boolean;
  /**
   * Code splitting into `outfile`'s folder: each dynamic `import()` of the entry becomes a module
   * file of its own that XS loads when the import runs (code shared with what is already loaded
   * sits in chunks of its own), and the device apps' module names resolve (DEVICE_STANDINS). The
   * XS app test uses it so that an app's main module loads and starts under the device's limits.
   */
  split?: boolean;
}

/** Bundles `source` (an ES module's text, resolved from the repository root) into `outfile`. */
export async function bundle(source: string, outfile: string, options: BundleOptions = {}): Promise<string> {
  mkdirSync(dirname(outfile), { recursive: true });
  const common = {
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    minify: options.minify ?? false,
    legalComments: "none",
    logLevel: "error",
  } as const;
  if (!options.split) {
    await build({
      ...common,
      stdin: { contents: source, resolveDir: ROOT, loader: "ts", sourcefile: "xs-entry.ts" },
      outfile,
      plugins: [noNode],
    });
    return outfile;
  }
  const dir = dirname(outfile);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const entry = join(dir, "entry.src.ts");
  writeFileSync(entry, source);
  const entryReal = realpathSync(entry); // esbuild names importers by their real path
  // The entry's own imports are written relative to the repository root, as with stdin.
  const fromRoot: Plugin = {
    name: "entry-from-root",
    setup(b) {
      b.onResolve({ filter: /^\.\.?\// }, (args) =>
        args.importer === entryReal || args.importer === entry ? { path: join(ROOT, args.path) } : undefined,
      );
    },
  };
  const split = {
    ...common,
    absWorkingDir: ROOT,
    outdir: dir,
    splitting: true,
    outExtension: { ".js": ".mjs" },
    chunkNames: "chunk-[hash]",
    plugins: [noNode, deviceModules, fromRoot],
  };
  // First the module graph, then every source file as an entry point of its own: esbuild gives a
  // chunk to each set of entry points that reach a piece of code, so each file becomes a module
  // of its own, as on the device (XS evaluates one module at a time; a module's bindings are on
  // the stack while its body runs, and a bundled chunk would hold those of all its files at once).
  const graph = await build({ ...split, entryPoints: [entry], write: false, metafile: true });
  const files = Object.keys(graph.metafile.inputs)
    .filter((f) => !f.includes(":"))
    .map((f) => join(ROOT, f))
    .filter((f) => f !== entry && f !== entryReal);
  await build({
    ...split,
    entryPoints: [
      { in: entry, out: basename(outfile).replace(/\.mjs$/, "") },
      ...files.map((f) => ({ in: f, out: "m~" + relative(ROOT, f).replace(/\.ts$/, "").replace(/[\\/]/g, "~") })),
    ],
  });
  return outfile;
}

export const BUNDLES = join(CACHE, "bundles");

/** A path for an import specifier in generated entry source (forward slashes, relative to ROOT). */
export function spec(file: string): string {
  return JSON.stringify("./" + file.replace(/\\/g, "/"));
}
