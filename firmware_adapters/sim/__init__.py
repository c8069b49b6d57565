"""Sensor simulators speaking the real wire protocols over ptys (tests, demo, benchmark).

``SimulatedSensors`` (``site``) is the one-call zone for the demo: ``set_value(gas, value)``.
Single sensors: ``WinsenSimulator``, ``Pms5003Simulator``, and ``ModbusSimulator`` (pymodbus's
own server behind a ``PtyLink``). Scenarios: ramp, spike, noise, corrupt, garbage, silence,
unplug / replug.
"""
