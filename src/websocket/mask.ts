/**
 * The WebSocket masking XOR (RFC 6455 §5.3), in place. Masking and unmasking are the same
 * operation. `phase` is the index into the 4-byte key of `data[0]`, i.e. the number of payload
 * bytes of the frame that came before `data` (only its low two bits matter), so a payload that
 * arrives in pieces is unmasked piece by piece.
 *
 * Long runs are XORed a 32-bit word at a time over the 4-byte-aligned middle of the buffer.
 */

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Below this length a word view is not worth its allocation. */
const WORD_MIN = 32;

export function xorMask(data: Uint8Array, key: Uint8Array, phase = 0): void {
  const n = data.length;
  let m0 = key[phase & 3];
  let m1 = key[(phase + 1) & 3];
  let m2 = key[(phase + 2) & 3];
  let m3 = key[(phase + 3) & 3];
  if ((m0 | m1 | m2 | m3) === 0) return;
  let i = 0;
  if (n >= WORD_MIN) {
    const lead = (4 - (data.byteOffset & 3)) & 3;
    for (; i < lead; i++) {
      data[i] ^= m0;
      const t = m0;
      m0 = m1;
      m1 = m2;
      m2 = m3;
      m3 = t;
    }
    const words = (n - i) >> 2;
    const w = LITTLE_ENDIAN ? m0 | (m1 << 8) | (m2 << 16) | (m3 << 24) : (m0 << 24) | (m1 << 16) | (m2 << 8) | m3;
    const u32 = new Uint32Array(data.buffer, data.byteOffset + i, words);
    let k = 0;
    const k8 = words & ~7;
    for (; k < k8; k += 8) {
      u32[k] ^= w;
      u32[k + 1] ^= w;
      u32[k + 2] ^= w;
      u32[k + 3] ^= w;
      u32[k + 4] ^= w;
      u32[k + 5] ^= w;
      u32[k + 6] ^= w;
      u32[k + 7] ^= w;
    }
    for (; k < words; k++) u32[k] ^= w;
    i += words << 2;
  }
  const n4 = n - 3;
  for (; i < n4; i += 4) {
    data[i] ^= m0;
    data[i + 1] ^= m1;
    data[i + 2] ^= m2;
    data[i + 3] ^= m3;
  }
  if (i < n) {
    data[i] ^= m0;
    if (i + 1 < n) {
      data[i + 1] ^= m1;
      if (i + 2 < n) data[i + 2] ^= m2;
    }
  }
}
