#!/usr/bin/python3
"""A pymodbus TCP server on 127.0.0.1 for the Modbus client tests (Debian's pymodbus 3.0.0rc1).

Usage: pymodbus-server.py PORT     (0 picks a free port)
Prints "listening PORT" on stdout once it accepts connections; stops on SIGTERM.

Data (zero_mode: request address 0 is element 0), 100 of each, known initial values:
  coils             co[i] = (i % 3 == 0)
  discrete inputs   di[i] = (i % 2 == 0)
  holding registers hr[i] = 1000 + i
  input registers   ir[i] = 2000 + i
Test/support/pymodbus.ts mirrors these values.
"""
import asyncio
import logging
import signal
import sys

from pymodbus.datastore import (
    ModbusSequentialDataBlock,
    ModbusServerContext,
    ModbusSlaveContext,
)
from pymodbus.server.async_io import ModbusTcpServer

SIZE = 100


def context():
    slave = ModbusSlaveContext(
        di=ModbusSequentialDataBlock(0, [i % 2 == 0 for i in range(SIZE)]),
        co=ModbusSequentialDataBlock(0, [i % 3 == 0 for i in range(SIZE)]),
        hr=ModbusSequentialDataBlock(0, [1000 + i for i in range(SIZE)]),
        ir=ModbusSequentialDataBlock(0, [2000 + i for i in range(SIZE)]),
        zero_mode=True,
    )
    return ModbusServerContext(slaves=slave, single=True)


async def main(port):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = ModbusTcpServer(context(), address=("127.0.0.1", port), allow_reuse_address=True)
    task = asyncio.create_task(server.serve_forever())
    await server.serving
    bound = server.server.sockets[0].getsockname()[1]
    print(f"listening {bound}", flush=True)
    await stop.wait()
    await server.shutdown()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass


if __name__ == "__main__":
    logging.basicConfig(level=logging.CRITICAL)
    for name in list(logging.root.manager.loggerDict) + [""]:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
