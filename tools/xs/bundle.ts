/**
 * Bundles TypeScript for xsnap with esbuild: one ESM file holding the XS test shim (or another
 * entry), the test module and everything it imports (src/, hosts/sim, test/support, …).
 * `node:*` imports resolve to an empty module: code that really calls Node fails loudly on XS.
 */
import { build, type Plugin } from "esbuild";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
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

/** Bundles `source` (an ES module's text, resolved from the repository root) into `outfile`. */
export async function bundle(source: string, outfile: string, options: { minify?: boolean } = {}): Promise<string> {
  mkdirSync(dirname(outfile), { recursive: true });
  await build({
    stdin: { contents: source, resolveDir: ROOT, loader: "ts", sourcefile: "xs-entry.ts" },
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    outfile,
    minify: options.minify ?? false,
    legalComments: "none",
    logLevel: "error",
    plugins: [noNode],
  });
  return outfile;
}

export const BUNDLES = join(CACHE, "bundles");

/** A path for an import specifier in generated entry source (forward slashes, relative to ROOT). */
export function spec(file: string): string {
  return JSON.stringify("./" + file.replace(/\\/g, "/"));
}
