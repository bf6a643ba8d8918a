"""Live SSH triage of N lab appliances: collection and triage wall time, triage run one at a time
(the old behaviour) versus in parallel (``-c`` bounds the analysis too).

    python bench/ssh_live.py --hosts 50 -c 10

Every appliance serves the compromised tree (the heaviest analysis the lab has) over loopback;
prints one JSON line per mode with wall seconds and the CPU seconds of this process.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def serve(n: int, conn: Any) -> None:
    """The lab in its own process (it must not compete with the measured process for the GIL)."""
    from nscheck.lab.ssh import STOMPED, Appliance, SshLab, compromised_specs, known_hosts_line
    from nscheck.lab.trees import RECENT
    from nscheck.paths import shipped_signatures_dir
    from nscheck.signatures.ssh import load_ssh_commands

    apps = [Appliance(specs=compromised_specs(), births={STOMPED: RECENT}, name=f"a{i}") for i in range(n)]
    lab = SshLab(apps, load_ssh_commands(shipped_signatures_dir()))
    conn.send((lab.urls, "".join(known_hosts_line(a) for a in apps)))
    conn.recv()  # until the parent is done
    lab.stop()


def run(n: int, concurrency: int, triage_workers: int, yara: bool) -> dict[str, object]:
    from nscheck.inputs import load_triage_inputs
    from nscheck.lab.ssh import LAB_SSH_PASSWORD
    from nscheck.lab.trees import COLLECTED
    from nscheck.nitro.secret import Secret
    from nscheck.paths import shipped_signatures_dir
    from nscheck.signatures.ssh import load_ssh_commands
    from nscheck.triage.context import TriageOptions
    from nscheck.triage.live_ssh import SshAuth, parse_ssh_target, start_triage

    sig = shipped_signatures_dir()
    cs = load_ssh_commands(sig)
    rules = load_triage_inputs(sig).rules
    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.Process(target=serve, args=(n, child), daemon=True)
    proc.start()
    urls, kh_text = parent.recv()
    with tempfile.TemporaryDirectory() as tmp:
        kh = Path(tmp) / "kh"
        kh.write_text(kh_text)
        auth = SshAuth(password=Secret(LAB_SSH_PASSWORD), known_hosts=str(kh), own_known_hosts=str(Path(tmp) / "own"))
        targets = [parse_ssh_target(u) for u in urls]
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.monotonic()
        futs = start_triage(targets, cs, auth, TriageOptions(collected_at=COLLECTED, yara=yara), rules, sig,
                            concurrency=concurrency, host_deadline=600, collect_to=None,
                            triage_workers=triage_workers)
        results = [futs[t.url].result() for t in targets]
        wall = time.monotonic() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    parent.send("stop")
    proc.join(30)
    assert all(r.status.value == "ok" and r.indicators for r in results), [r.error for r in results]
    return {"hosts": n, "c": concurrency, "triage_workers": triage_workers, "yara": yara, "wall_s": round(wall, 2),
            "cpu_s": round(cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime, 2),
            "loadavg_1": round(os.getloadavg()[0], 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("-c", type=int, default=10)
    ap.add_argument("--yara", action="store_true")
    a = ap.parse_args()
    for workers in (1, a.c):
        print(json.dumps(run(a.hosts, a.c, workers, a.yara)), flush=True)


if __name__ == "__main__":
    sys.exit(main())
