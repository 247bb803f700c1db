/**
 * What the desktop entry points share: the value after `--name` on the command line, and running
 * an example's `main` when its file is the one node was started with (examples are also modules
 * the device apps and the tests import: there, nothing runs).
 */
import type { Runtime } from "../src/index.js";

/** The value after `--name` in `argv`, else `fallback`. */
export function cliArg(argv: readonly string[], name: string): string | undefined;
export function cliArg(argv: readonly string[], name: string, fallback: string): string;
export function cliArg(argv: readonly string[], name: string, fallback?: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
}

type Process = { argv: string[]; exit(code: number): void; once(signal: string, fn: () => void): void };

/**
 * When node runs `file` itself: makes a runtime on the node host and runs `main(rt, arg)`; a
 * failure is printed and ends the process with 1. Elsewhere (the device, an import) does nothing.
 */
export function desktopMain(
  file: string,
  main: (rt: Runtime, arg: (name: string, fallback: string) => string, process: Process) => Promise<void>,
): void {
  const p = (globalThis as { process?: Process }).process;
  if (!p?.argv[1]?.endsWith(file)) return;
  const argv = p.argv;
  void (async () => {
    const { Runtime } = await import("../src/index.js");
    const { nodeHost } = await import("../hosts/node/index.js");
    const rt = new Runtime(nodeHost());
    try {
      await main(rt, (name, fallback) => cliArg(argv, name, fallback), p);
    } catch (e) {
      (globalThis as { console?: { log(s: string): void } }).console?.log(`failed: ${(e as Error).message}`);
      rt.shutdown();
      p.exit(1);
    }
  })();
}
