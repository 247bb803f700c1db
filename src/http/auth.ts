/**
 * Authentication through ordinary HTTP, before an upgrade: Basic credentials and cookies.
 * A handler checks them and answers 401 (with a challenge) or 403 before calling `req2sock`.
 */
import { decodeBase64 } from "../base64.js";
import { decodeUtf8 } from "../base/utf8.js";
import type { HttpRequest, HttpResponse } from "./server.js";

/** The Basic credentials of a request, if it has well-formed ones. */
export function basicCredentials(req: HttpRequest): { user: string; password: string } | undefined {
  const h = req.header("authorization");
  const m = h ? /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(h) : null;
  if (!m) return undefined;
  const bytes = decodeBase64(m[1]);
  if (!bytes) return undefined;
  const text = decodeUtf8(bytes);
  const colon = text.indexOf(":");
  if (colon < 0) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** The request's cookies by name. */
export function cookies(req: HttpRequest): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (req.header("cookie") ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return out;
}

/**
 * True if `check(user, password)` accepts the request's Basic credentials; otherwise answers
 * 401 with a challenge for `realm` and returns false.
 */
export async function requireBasic(
  req: HttpRequest,
  res: HttpResponse,
  realm: string,
  check: (user: string, password: string) => boolean,
): Promise<boolean> {
  const c = basicCredentials(req);
  if (c && check(c.user, c.password)) return true;
  res
    .status(401)
    .header("WWW-Authenticate", `Basic realm="${realm.replace(/"/g, "")}"`)
    .header("Content-Type", "text/plain");
  await res.send("authentication required\n");
  return false;
}
