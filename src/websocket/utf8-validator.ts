/**
 * Incremental UTF-8 validation (RFC 3629, Unicode Table 3-7 "well-formed byte sequences").
 * Bytes may be pushed in any pieces; a sequence may be split anywhere. A bad byte is reported as
 * soon as it is seen — the first byte that cannot continue a well-formed sequence: overlong forms
 * (C0, C1, E0 80..9F, F0 80..8F), surrogates (ED A0..BF), code points above U+10FFFF
 * (F4 90.., F5..FF) and missing or stray continuation bytes.
 */
/** Below this many bytes left, a word view is not worth its allocation. */
const WORD_MIN = 32;

/** Per connection on the device: follows the XS memory rules (docs/contributing.md). */
export class Utf8Validator {
  /** Continuation bytes still expected by the sequence in progress. */
  private need = 0;
  /** Range allowed for the next continuation byte (narrower right after E0, ED, F0, F4). */
  private lo = 0x80;
  private hi = 0xbf;

  /**
   * Validates `bytes[start..end)`. Returns -1 if every byte may be part of well-formed UTF-8
   * (a sequence may still be open at the end), else the index of the first bad byte; after a
   * bad byte the validator must be `reset()` before reuse.
   */
  push(bytes: Uint8Array, start = 0, end = bytes.length): number {
    let need = this.need;
    let lo = this.lo;
    let hi = this.hi;
    let i = start;
    // For long inputs, ASCII runs are skipped a 32-bit word at a time over the aligned middle.
    let words: Uint32Array | undefined;
    let wordBase = 0;
    let wordEnd = 0;
    while (i < end) {
      let b = bytes[i];
      if (need === 0) {
        if (end - i >= WORD_MIN) {
          if (words === undefined) {
            wordBase = i + ((4 - ((bytes.byteOffset + i) & 3)) & 3);
            const count = (end - wordBase) >> 2;
            words = new Uint32Array(bytes.buffer, bytes.byteOffset + wordBase, count);
            wordEnd = wordBase + (count << 2);
          }
          while (b < 0x80 && ((i - wordBase) & 3) !== 0) b = bytes[++i];
          if (b < 0x80 && i < wordEnd) {
            let k = (i - wordBase) >> 2;
            const kEnd = (wordEnd - wordBase) >> 2;
            while (k < kEnd && (words[k] & 0x80808080) === 0) k++;
            i = wordBase + (k << 2);
            if (i === end) break;
            b = bytes[i];
          }
        }
        // ASCII run: the common case, kept to one compare per byte.
        while (b < 0x80) {
          if (++i === end) {
            this.need = 0;
            return -1;
          }
          b = bytes[i];
        }
        // RFC 6455 §8.1 (text is UTF-8) by RFC 3629 §4: a stray continuation byte or an
        // overlong lead (C0, C1)
        if (b < 0xc2) return this.bad(i);
        if (b < 0xe0) {
          need = 1;
          lo = 0x80;
          hi = 0xbf;
        } else if (b < 0xf0) {
          need = 2;
          lo = b === 0xe0 ? 0xa0 : 0x80; // RFC 3629 §4: E0 A0..BF (no overlong form)
          hi = b === 0xed ? 0x9f : 0xbf; // RFC 3629 §4: ED 80..9F (no surrogates)
        } else if (b < 0xf5) {
          need = 3;
          lo = b === 0xf0 ? 0x90 : 0x80; // RFC 3629 §4: F0 90..BF (no overlong form)
          hi = b === 0xf4 ? 0x8f : 0xbf; // RFC 3629 §4: F4 80..8F (nothing above U+10FFFF)
        } else return this.bad(i); // RFC 3629 §4: F5..FF never appear
      } else {
        if (b < lo || b > hi) return this.bad(i); // RFC 3629 §4: the continuation's allowed range
        need--;
        lo = 0x80;
        hi = 0xbf;
      }
      i++;
    }
    this.need = need;
    this.lo = lo;
    this.hi = hi;
    return -1;
  }

  /** True when no multi-byte sequence is open: the bytes so far end on a character boundary. */
  get complete(): boolean {
    // RFC 6455 §8.1: a text message ends on a character boundary (checked at its last frame)
    return this.need === 0;
  }

  reset(): void {
    this.need = 0;
    this.lo = 0x80;
    this.hi = 0xbf;
  }

  private bad(i: number): number {
    this.reset();
    return i;
  }
}

/** True when `bytes` is complete, well-formed UTF-8. */
export function isValidUtf8(bytes: Uint8Array): boolean {
  const v = new Utf8Validator();
  return v.push(bytes) === -1 && v.complete;
}
