"""Gas and fume sensor adapters: wire protocols in, stamped ``edge.models.Reading`` out.

One adapter per wire protocol, chosen by ``type:`` in the ``gas:`` config section
(``firmware_adapters.gas.config``): ``winsen_ze`` (9-byte Winsen frames, ``winsen``),
``modbus_rtu`` (register maps polled with pymodbus, ``modbus``) and ``pms5003`` (Plantower
particulates, an indicator only, ``pms5003``). ``wiring.build_adapters`` makes one adapter per
port. Adapters know nothing of permits; ``edge.exposure`` judges what they read.

A new Modbus transmitter model is config (a register map). A new UART protocol is one module:
a parser that resynchronises and counts rejects, and a ``SerialStreamAdapter`` subclass.
"""
