"""The one table of ``zonegate`` exit codes (the README lists it for technicians and scripts).

Each number means one thing for every command (3-6 are the answers only ``gps probe`` and
``import-roster`` give, kept at the values the README has documented since they shipped). The
values follow BSD sysexits where one fits, so systemd and shell scripts read them the usual
way; 78 (EX_CONFIG) is also what the unit's ``RestartPreventExitStatus=`` stops a restart loop on.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """What a ``zonegate`` command's exit status means."""

    OK = 0
    """Done; nothing wrong found."""
    FAILED = 1
    """The command ran and the answer is "no": a check failed, a command was refused, a store
    problem was found, rows were left out of an import."""
    USAGE = 2
    """The command line is wrong (argparse's own code)."""
    OUTSIDE_FENCE = 3
    """``gps probe``: the fixes put the terminal outside the zone's geofence."""
    CLOCK_OFF = 4
    """``gps probe``: the system clock and GPS time differ by more than ``gps.clock_bound_s``."""
    NO_FIX = 5
    """``gps probe``: a fence is configured and no usable fix came within the window."""
    PARTIAL = 6
    """``import-roster --partial``: the good workers were written, some rows were refused (each
    listed); the "no" answers of a whole command are ``FAILED``."""
    DATA = 65
    """EX_DATAERR: an input file (roster, photo, envelope) holds data that cannot be used."""
    NO_INPUT = 66
    """EX_NOINPUT: an input file named on the command line cannot be read."""
    UNAVAILABLE = 69
    """EX_UNAVAILABLE: a peer or a part is not there (broker, gpsd, camera, face models)."""
    SOFTWARE = 70
    """EX_SOFTWARE: a bug; the message asks for a report."""
    STORE = 74
    """EX_IOERR: a store (registry, journal, face store) is damaged, missing or unwritable; the
    message gives the recovery step."""
    BUSY = 75
    """EX_TEMPFAIL: the daemon holds the state directory; stop it and try again."""
    NO_PERMISSION = 77
    """EX_NOPERM: the command needs root (sealed secrets only root can unseal); run it with
    sudo."""
    CONFIG = 78
    """EX_CONFIG: the config file is wrong (every problem printed as file:line)."""
    INTERRUPTED = 130
    """Ctrl-C."""
