"""The built-in lab: simulated NetScaler appliances (and look-alikes, and broken hosts) on
loopback, serving what real appliances serve, for tests, demos and benchmarks.

    from nscheck.lab import start_lab
    with start_lab("demo") as lab:
        print(lab.target_urls)

Presets: ``demo`` (small mixed fleet), ``full`` (every profile and every fault), ``indicators``
(compromised / clean customised / catch-all gateways). ``many_hosts(n)`` builds a benchmark fleet.
Each ``LabTarget.expected`` says what a correct scanner should conclude (tests only; never served).
"""

from nscheck.lab.check import disagreements
from nscheck.lab.profiles import (
    FAULTS,
    KINDS,
    PRESETS,
    ROLES,
    WEBSHELL_PATH,
    Profile,
    expected,
    many_hosts,
    preset,
)
from nscheck.lab.server import LabError, LabTarget, RunningLab, check_loopback, start_lab

__all__ = [
    "FAULTS",
    "KINDS",
    "PRESETS",
    "ROLES",
    "WEBSHELL_PATH",
    "LabError",
    "LabTarget",
    "Profile",
    "RunningLab",
    "check_loopback",
    "disagreements",
    "expected",
    "many_hosts",
    "preset",
    "start_lab",
]
