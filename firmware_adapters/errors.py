"""The root of every error the adapters raise on purpose: a device or its wire protocol failed.

The layers above catch ``DeviceError`` for what a sensor, reader, camera or output can do wrong,
and leave anything else (a bug) to their generic handler (the aiomqtt habit: one root per
package).
"""

from __future__ import annotations


class DeviceError(Exception):
    """Base of the adapter layer's errors (serial, Modbus, gpsd, camera, badge reader, GPIO)."""
