/**
 * Compiles the code the benchmark's child processes run (src/, hosts/, examples/, modules/,
 * bench/) to plain JavaScript under bench/.build/, file by file with TypeScript's transpiler, so
 * that servers and load generators run on plain `node` rather than through tsx.
 *
 * Why: tsx compiles with esbuild's `keepNames`, which wraps every named function and class in
 * `__name(fn, "name")` (an `Object.defineProperty` on the function). For a closure stored in a
 * class field (`#onData = () => …`) that happens per instance and gives each such closure its
 * own 256-byte property dictionary — about 3 KB per idle connection of ours, and CPU at every
 * socket creation — a cost of the dev loader that neither the device (XS) nor compiled JS pays.
 * Plain `node` also starts faster and keeps the loader out of the measured RSS.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const BUILD = path.join(ROOT, "bench", ".build");
const DIRS = ["src", "hosts", "examples", "modules", "bench"];

function* tsFiles(dir: string): Generator<string> {
  if (!fs.existsSync(dir)) return;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== ".build" && e.name !== "node_modules" && e.name !== "profiles") yield* tsFiles(p);
    } else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") && !e.name.endsWith(".test.ts")) yield p;
  }
}

/** Transpiles everything; returns the number of files written. */
export function buildForBench(): number {
  fs.rmSync(BUILD, { recursive: true, force: true });
  let n = 0;
  for (const dir of DIRS)
    for (const file of tsFiles(path.join(ROOT, dir))) {
      const out = ts.transpileModule(fs.readFileSync(file, "utf8"), {
        fileName: file,
        compilerOptions: {
          target: ts.ScriptTarget.ES2022,
          module: ts.ModuleKind.ESNext,
          verbatimModuleSyntax: true,
          sourceMap: false,
        },
      });
      const dest = path.join(BUILD, path.relative(ROOT, file)).replace(/\.ts$/, ".js");
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.writeFileSync(dest, out.outputText);
      n++;
    }
  return n;
}

/** The compiled path of a bench/ entry point (`server.ts` → bench/.build/bench/server.js). */
export function built(benchFile: string): string {
  return path.join(BUILD, "bench", benchFile.replace(/\.ts$/, ".js"));
}

/** A file name in a profile back to its source (`bench/.build/src/socket.js` → `src/socket.ts`). */
export function sourceOf(rel: string): string {
  const prefix = path.join("bench", ".build") + path.sep;
  return rel.startsWith(prefix) ? rel.slice(prefix.length).replace(/\.js$/, ".ts") : rel;
}
