/**
 * Random bytes for the runtime (WebSocket masking keys, MQTT client ids, DNS ids).
 *
 * Default source: `Math.random()`. On ESP32, XS implements it with `esp_random()`, the hardware
 * RNG (true random while Wi-Fi or Bluetooth is on, which it is whenever sockets are in use). On
 * other Moddable platforms it is the C library's `rand()`: fine for masking keys and ids, not for
 * keys or secrets; pass `randomBytes` to `moddableHost` for a better source there. TLS uses its
 * own generator.
 */
export function mathRandomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 4) {
    let word = Math.floor(Math.random() * 0x100000000);
    for (let k = i; k < i + 4 && k < n; k++) {
      out[k] = word & 0xff;
      word >>>= 8;
    }
  }
  return out;
}
