import { createHash, randomBytes } from "node:crypto";
import { sha1 } from "../../src/sha1.js";
import { encodeBase64, decodeBase64 } from "../../src/base64.js";
import { encodeUtf8 } from "../../src/base/utf8.js";

describe("sha1 and base64", () => {
  it("sha1 matches node:crypto for lengths around the block boundaries", () => {
    for (const n of [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 1000, 100000]) {
      const data = randomBytes(n);
      expect(Buffer.from(sha1(data)).toString("hex")).toBe(createHash("sha1").update(data).digest("hex"));
    }
    expect(Buffer.from(sha1(encodeUtf8("abc"))).toString("hex")).toBe("a9993e364706816aba3e25717850c26c9cd0d89d");
  });

  it("computes RFC 6455's example Sec-WebSocket-Accept", () => {
    const key = "dGhlIHNhbXBsZSBub25jZQ==";
    expect(encodeBase64(sha1(encodeUtf8(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")))).toBe("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  });

  it("base64 round-trips and matches Buffer; invalid input is refused", () => {
    for (let n = 0; n < 40; n++) {
      const data = randomBytes(n);
      const s = encodeBase64(data);
      expect(s).toBe(Buffer.from(data).toString("base64"));
      expect(Buffer.from(decodeBase64(s)!).equals(data)).toBe(true);
    }
    for (const bad of ["abc", "ab=c", "a===", "!!!!", "ab\u00e9="]) expect(decodeBase64(bad)).toBeUndefined();
  });
});
