"""The bottom layer: wire protocols (gas, GPS, camera, badge, outputs, simulators) and the
shared bits every layer above imports (config ``Section``, ``Reading``, ``Clock``, backoff)."""
