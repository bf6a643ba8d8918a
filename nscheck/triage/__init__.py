"""Offline triage of artefacts collected from a NetScaler appliance (``nscheck triage``).

``sources`` gives a uniform read-only view over a directory tree, a tar / tar.gz, a ``show
techsupport`` collector bundle or a disk image; ``checks`` holds one small module per check family
(rules in signatures/triage/); ``logs`` streams log files; ``runner.triage_path`` produces a
``HostResult(kind="triage")``.
"""
