"""The composition root: wires adapters, edge policy and sync into the daemon, the ``zonegate``
command, the demo and the technician tools. It may import every layer; no layer imports it."""
