"""Modbus RTU transmitters served by pymodbus's own server, on a pty link.

The server (pymodbus, not our code) opens one end of a ``PtyLink``; the adapter under test opens
the other end's path, as it would open ``/dev/ttyUSB0``. Register values are set from the test
or the demo (``set_register``, ``set_value``); the link injects CRC damage (``corrupt_next``)
and unplugs the client's end (``unplug`` / ``replug``).
"""

from __future__ import annotations

import asyncio
import logging
import struct
from pathlib import Path
from types import TracebackType

from pymodbus import FramerType
from pymodbus.server import ModbusSerialServer
from pymodbus.simulator import DataType, SimData, SimDevice

from firmware_adapters.sim.pty import PtyLink

REGISTERS_PER_DEVICE = 32


class ModbusSimulator:
    """``device_ids`` transmitters, each with ``REGISTERS_PER_DEVICE`` registers from 0.

    Holding and input registers share one block, so a register map may use either function.
    """

    def __init__(
        self, client_path: str | Path, device_ids: list[int], *, baudrate: int = 9600
    ) -> None:
        self.client_path = Path(client_path)
        self.server_path = self.client_path.with_name(self.client_path.name + ".server")
        self.link = PtyLink(self.client_path, self.server_path)
        self.registers: dict[int, list[int]] = {d: [0] * REGISTERS_PER_DEVICE for d in device_ids}
        self.requests = 0
        self.silent = False
        self._delays: list[float] = []
        self._baudrate = baudrate
        self._server: ModbusSerialServer | None = None

    def set_register(self, device_id: int, address: int, value: int) -> None:
        """Store a raw 16-bit register value (masked to 0..0xFFFF)."""
        self.registers[device_id][address] = value & 0xFFFF

    def set_value(self, device_id: int, address: int, value: float, *, scale: float = 1.0) -> None:
        """Store ``value / scale`` as a signed 16-bit integer register."""
        raw = round(value / scale)
        self.set_register(device_id, address, struct.unpack(">H", struct.pack(">h", raw))[0])

    def set_float(self, device_id: int, address: int, value: float) -> None:
        """Store ``value`` as an IEEE-754 float32 in two registers, high word first."""
        hi, lo = struct.unpack(">HH", struct.pack(">f", value))
        self.set_register(device_id, address, hi)
        self.set_register(device_id, address + 1, lo)

    def corrupt_next(self, replies: int = 1) -> None:
        """Flip a bit in the next ``replies`` replies (a noisy RS-485 line)."""
        self.link.corrupt_next(replies)

    def delay_next(self, seconds: float, replies: int = 1) -> None:
        """Answer the next ``replies`` requests ``seconds`` late (a slow or starved transmitter):
        the reply still comes, after the client has given up on it."""
        self._delays += [seconds] * replies

    def unplug(self) -> None:
        """Pull the cable at the gateway's end: its port disappears."""
        self.link.unplug_a()

    def replug(self) -> None:
        """Plug the cable back in at the gateway's end."""
        self.link.replug_a()

    async def _action(
        self,
        device_id: int,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        current_registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> None:
        self.requests += 1
        if self._delays:
            await asyncio.sleep(self._delays.pop(0))
        regs = self.registers[device_id]
        current_registers[:] = regs[start_address : start_address + len(current_registers)]

    def _device(self, device_id: int) -> SimDevice:
        async def action(
            function_code: int,
            start_address: int,
            address: int,
            count: int,
            current_registers: list[int],
            set_values: list[int] | list[bool] | None,
        ) -> None:
            await self._action(
                device_id,
                function_code,
                start_address,
                address,
                count,
                current_registers,
                set_values,
            )

        return SimDevice(
            id=device_id,
            simdata=[SimData(0, count=REGISTERS_PER_DEVICE, values=0, datatype=DataType.REGISTERS)],
            action=action,
        )

    async def __aenter__(self) -> ModbusSimulator:
        # pymodbus logs every deprecation / framing hiccup at WARNING; the tests count them.
        logging.getLogger("pymodbus").setLevel(logging.ERROR)
        self.link.start()
        self._server = ModbusSerialServer(
            [self._device(d) for d in self.registers],
            framer=FramerType.RTU,
            port=str(self.server_path),
            baudrate=self._baudrate,
        )
        await self._server.serve_forever(background=True)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            await self._server.shutdown()  # type: ignore[no-untyped-call]  # pymodbus is untyped here
        self.link.close()
