/** The Modbus codec without sockets: value helpers, the MBAP stream parser, PDU requests and responses. */
import {
  decodeDouble,
  decodeDword,
  decodeFloat,
  decodeRequest,
  decodeResponse,
  decodeString,
  decodeWord,
  encodeAdu,
  encodeDouble,
  encodeDword,
  encodeFloat,
  encodeRequest,
  encodeResponse,
  encodeString,
  encodeWord,
  exceptionName,
  FC,
  isRefusal,
  MbapParser,
  ModbusError,
  ModbusFrameError,
  type ModbusRequest,
} from "../../modules/modbus/index.js";

describe("value helpers", () => {
  const orders = [
    [{}, [0x3fc0, 0x0000]],
    [{ wordOrder: "little" }, [0x0000, 0x3fc0]],
    [{ byteOrder: "little" }, [0xc03f, 0x0000]],
    [{ byteOrder: "little", wordOrder: "little" }, [0x0000, 0xc03f]],
  ] as const;
  for (const [o, regs] of orders)
    it(`float 1.5 with ${JSON.stringify(o)} is ${regs.map((r) => r.toString(16))}`, () => {
      expect(encodeFloat(1.5, o)).toEqual(regs);
      expect(decodeFloat([9, ...regs], 1, o)).toBe(1.5);
    });

  it("words, signed and unsigned, and byte order", () => {
    expect(encodeWord(0x1234)).toEqual([0x1234]);
    expect(encodeWord(0x1234, { byteOrder: "little" })).toEqual([0x3412]);
    expect(encodeWord(-2)).toEqual([0xfffe]);
    expect(decodeWord([0xfffe], 0, { signed: true })).toBe(-2);
    expect(decodeWord([0xfffe])).toBe(0xfffe);
    expect(decodeWord([0x3412], 0, { byteOrder: "little" })).toBe(0x1234);
    expect(() => encodeWord(0x10000)).toThrow(/word 65536/);
  });

  it("dwords in both word orders, signed", () => {
    expect(encodeDword(0x12345678)).toEqual([0x1234, 0x5678]);
    expect(encodeDword(0x12345678, { wordOrder: "little" })).toEqual([0x5678, 0x1234]);
    expect(encodeDword(-2)).toEqual([0xffff, 0xfffe]);
    expect(decodeDword([0xffff, 0xfffe], 0, { signed: true })).toBe(-2);
    expect(decodeDword([0xffff, 0xfffe])).toBe(0xfffffffe);
    expect(decodeDword([0x5678, 0x1234], 0, { wordOrder: "little" })).toBe(0x12345678);
    expect(() => encodeDword(2 ** 32)).toThrow();
  });

  it("doubles", () => {
    expect(encodeDouble(1)).toEqual([0x3ff0, 0, 0, 0]);
    expect(encodeDouble(1, { wordOrder: "little" })).toEqual([0, 0, 0, 0x3ff0]);
    for (const v of [Math.PI, -1e300, 5e-324, 0])
      for (const o of [{}, { wordOrder: "little" as const }, { byteOrder: "little" as const }])
        expect(decodeDouble(encodeDouble(v, o), 0, o)).toBe(v);
    expect(() => decodeDouble([1, 2, 3], 0)).toThrow(/need 4 registers/);
  });

  it("strings: two bytes a register, NUL-padded, UTF-8", () => {
    expect(encodeString("AB")).toEqual([0x4142]);
    expect(encodeString("ABC")).toEqual([0x4142, 0x4300]);
    expect(encodeString("AB", 3)).toEqual([0x4142, 0, 0]);
    expect(encodeString("AB", 1, { byteOrder: "little" })).toEqual([0x4241]);
    expect(encodeString("ABC", 2, { byteOrder: "little" })).toEqual([0x4241, 0x0043]);
    expect(decodeString([0x4241, 0x0043], 0, 2, { byteOrder: "little" })).toBe("ABC");
    expect(decodeString([0x4142, 0x4300, 0x4444], 0, 3)).toBe("ABC");
    expect(decodeString(encodeString("héllo €"), 0, 5)).toBe("héllo €");
    expect(() => encodeString("too long", 2)).toThrow(/does not fit 2 registers/);
  });
});

describe("MBAP parser", () => {
  const frames = [
    encodeAdu(1, 1, Uint8Array.of(3, 0, 0, 0, 2)),
    encodeAdu(0xbeef, 247, Uint8Array.of(16, 0, 1, 0, 1, 2, 0xab, 0xcd)),
    encodeAdu(3, 0, Uint8Array.of(0x2b)),
  ];
  const stream = Uint8Array.from(frames.flatMap((f) => [...f]));

  function parseAll(chunks: Uint8Array[]) {
    const p = new MbapParser();
    const out: { tid: number; unit: number; pdu: number[] }[] = [];
    for (const c of chunks) {
      p.push(c);
      for (let f = p.next(); f; f = p.next()) out.push({ tid: f.transactionId, unit: f.unitId, pdu: [...f.pdu] });
    }
    return { out, p };
  }

  const expected = [
    { tid: 1, unit: 1, pdu: [3, 0, 0, 0, 2] },
    { tid: 0xbeef, unit: 247, pdu: [16, 0, 1, 0, 1, 2, 0xab, 0xcd] },
    { tid: 3, unit: 0, pdu: [0x2b] },
  ];

  it("cuts frames from any split of the stream into two and three chunks", () => {
    for (let i = 0; i <= stream.length; i++) {
      expect(parseAll([stream.subarray(0, i), stream.subarray(i)]).out).toEqual(expected);
      for (let j = i; j <= stream.length; j += 3)
        expect(parseAll([stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)]).out).toEqual(expected);
    }
  });

  it("cuts frames from single bytes, and a short frame waits", () => {
    const { out, p } = parseAll([...stream.subarray(0, stream.length - 1)].map((b) => Uint8Array.of(b)));
    expect(out).toEqual(expected.slice(0, 2));
    expect(p.buffered).toBe(frames[2].length - 1);
    p.push(stream.subarray(stream.length - 1));
    expect(p.next()?.pdu).toEqual(Uint8Array.of(0x2b));
    expect(p.buffered).toBe(0);
  });

  it("fails on a wrong protocol id as soon as it is seen, and stays failed", () => {
    const p = new MbapParser();
    p.push(Uint8Array.of(0, 1, 0));
    expect(p.next()).toBeUndefined();
    p.push(Uint8Array.of(5));
    expect(() => p.next()).toThrow(ModbusFrameError);
    p.push(frames[0]);
    expect(() => p.next()).toThrow(/protocol id 0x0005/);
  });

  it("fails on lengths below 2 and above 254", () => {
    for (const [len, why] of [
      [0, /too small/],
      [1, /too small/],
      [255, /too big/],
    ] as const) {
      const p = new MbapParser();
      p.push(Uint8Array.of(0, 1, 0, 0, len >> 8, len & 255));
      expect(() => p.next()).toThrow(why);
    }
    const p = new MbapParser();
    p.push(Uint8Array.of(0, 1, 0, 0, 0, 254));
    expect(p.next()).toBeUndefined(); // 254 is allowed: waits for 254 more bytes
  });
});

describe("PDU codec", () => {
  const requests: ModbusRequest[] = [
    { fc: FC.READ_COILS, address: 19, quantity: 19 },
    { fc: FC.READ_DISCRETE_INPUTS, address: 0, quantity: 2000 },
    { fc: FC.READ_HOLDING_REGISTERS, address: 65534, quantity: 2 },
    { fc: FC.READ_INPUT_REGISTERS, address: 8, quantity: 125 },
    { fc: FC.WRITE_SINGLE_COIL, address: 172, value: true },
    { fc: FC.WRITE_SINGLE_REGISTER, address: 1, value: 3 },
    { fc: FC.WRITE_MULTIPLE_COILS, address: 19, values: [true, false, true, true, false, false, true, true, true, false] },
    { fc: FC.WRITE_MULTIPLE_REGISTERS, address: 1, values: [10, 258] },
    { fc: FC.MASK_WRITE_REGISTER, address: 4, andMask: 0xf2, orMask: 0x25 },
    { fc: FC.READ_WRITE_MULTIPLE_REGISTERS, readAddress: 3, readQuantity: 6, writeAddress: 14, values: [0xff, 0xff, 0xff] },
  ];

  it("matches the specification's examples byte for byte", () => {
    expect([...encodeRequest(requests[0])]).toEqual([0x01, 0x00, 0x13, 0x00, 0x13]);
    expect([...encodeRequest(requests[4])]).toEqual([0x05, 0x00, 0xac, 0xff, 0x00]);
    expect([...encodeRequest(requests[6])]).toEqual([0x0f, 0x00, 0x13, 0x00, 0x0a, 0x02, 0xcd, 0x01]);
    expect([...encodeRequest(requests[7])]).toEqual([0x10, 0, 1, 0, 2, 4, 0, 0x0a, 1, 2]);
    expect([...encodeRequest(requests[9])]).toEqual([0x17, 0, 3, 0, 6, 0, 14, 0, 3, 6, 0, 0xff, 0, 0xff, 0, 0xff]);
  });

  it("round-trips every request through the server's decoder", () => {
    for (const r of requests) expect(decodeRequest(encodeRequest(r))).toEqual(r);
  });

  it("round-trips responses", () => {
    const results = [
      Array.from({ length: 19 }, (_, i) => i % 3 === 0),
      Array.from({ length: 2000 }, (_, i) => i % 7 === 0),
      [1, 65535],
      Array.from({ length: 125 }, (_, i) => i * 500),
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      [1, 2, 3, 4, 5, 6],
    ];
    requests.forEach((r, i) => expect(decodeResponse(r, encodeResponse(r, results[i]))).toEqual(results[i]));
  });

  it("an exception response decodes to ModbusError", () => {
    const e = (() => {
      try {
        decodeResponse(requests[2], Uint8Array.of(0x83, 0x02));
      } catch (x) {
        return x as ModbusError;
      }
    })();
    expect(e).toBeInstanceOf(ModbusError);
    expect(e).toMatchObject({ exception: 2, exceptionName: "IllegalDataAddress", functionCode: 3 });
    expect(exceptionName(0x0b)).toBe("GatewayTargetFailedToRespond");
    expect(exceptionName(0x42)).toBe("Exception0x42");
  });

  it("the server's decoder refuses what the specification refuses", () => {
    const refusal = (pdu: number[]) => {
      const r = decodeRequest(Uint8Array.from(pdu));
      return isRefusal(r) ? r.exception : 0;
    };
    expect(refusal([0x41])).toBe(1);
    expect(refusal([])).toBe(1);
    expect(refusal([3, 0, 0, 0, 126])).toBe(3);
    expect(refusal([3, 0xff, 0xff, 0, 2])).toBe(2);
    expect(refusal([15, 0, 0, 0, 8, 2, 0, 0])).toBe(3);
    expect(refusal([23, 0, 0, 0, 1, 0, 0, 0, 1, 2, 0])).toBe(3);
    expect(refusal([5, 0, 0, 0, 1])).toBe(3);
    expect(refusal([5, 0, 0, 0, 0])).toBe(0);
  });
});
