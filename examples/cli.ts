/** The desktop entry points' one command-line helper: the value after `--name`, else `fallback`. */
export function cliArg(argv: readonly string[], name: string): string | undefined;
export function cliArg(argv: readonly string[], name: string, fallback: string): string;
export function cliArg(argv: readonly string[], name: string, fallback?: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
}
