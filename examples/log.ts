/** Output for the examples: the console where there is one, else the device's trace. */
export type Log = (line: string) => void;

export const print: Log = (line) => {
  const g = globalThis as { console?: { log(s: string): void }; trace?: (s: string) => void };
  if (g.console) g.console.log(line);
  else g.trace?.(line + "\n");
};
