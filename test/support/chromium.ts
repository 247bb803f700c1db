/**
 * Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by playwright-core,
 * with a fresh, temporary profile each launch (playwright passes --headless and its own
 * --user-data-dir) and no network of its own (no QUIC, no background fetches, no updates).
 */
import { chromium, type Browser } from "playwright-core";
import { itWithPeer } from "./peers.js";

export const CHROMIUM = "/usr/bin/chromium";

/**
 * Tests that need it use `itChromium` from ./peers.ts (this file is also used outside jest).
 * `extraArgs` go after the usual flags (e.g. `--ignore-certificate-errors` for a test CA).
 */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      ...extraArgs,
    ],
  });
}

/** `it` for the browser tests (a missing Chromium skips locally, fails under CI=true). */
export const itChromium = itWithPeer("chromium", "apt-get install chromium");
