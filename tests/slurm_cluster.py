"""A real single-node SLURM for tests: start munged, slurmctld and slurmd; stop what was started.

Needs root and Debian's slurm-wlm and munge (``.ci/run`` installs them). No
accounting database: ``AccountingStorageType=accounting_storage/none``, so
the cluster profile reads job states from squeue. ``MinJobAge=600`` keeps
finished jobs visible to squeue long enough for Snakemake to see them end.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

CONF = Path("/etc/slurm/slurm.conf")
MARKER = "# written by mrczflow tests"
STATE = Path("/tmp/mrczflow-slurm")


def running(name: str) -> bool:
    return subprocess.run(["pgrep", "-x", name], capture_output=True).returncode == 0


def slurm_conf() -> str:
    host = socket.gethostname().split(".")[0]
    memory_mb = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20 * 0.9)
    return "\n".join(
        [
            MARKER,
            "ClusterName=mrczflow",
            f"SlurmctldHost={host}",
            "SlurmUser=root",
            "AuthType=auth/munge",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core_Memory",
            "SchedulerType=sched/backfill",
            "AccountingStorageType=accounting_storage/none",
            "JobAcctGatherType=jobacct_gather/none",
            "JobCompType=jobcomp/none",
            "MinJobAge=600",
            "ReturnToService=2",
            f"SlurmctldPidFile={STATE}/slurmctld.pid",
            f"SlurmdPidFile={STATE}/slurmd.pid",
            f"SlurmdSpoolDir={STATE}/slurmd",
            f"StateSaveLocation={STATE}/state",
            f"SlurmctldLogFile={STATE}/slurmctld.log",
            f"SlurmdLogFile={STATE}/slurmd.log",
            f"NodeName={host} CPUs={os.cpu_count()} RealMemory={memory_mb} State=UNKNOWN",
            "PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
            "",
        ]
    )


class Cluster:
    """Context manager: a running single-node SLURM; daemons it started are stopped on exit."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.wrote_conf = False

    def __enter__(self) -> Cluster:
        missing = [tool for tool in ("munged", "slurmctld", "slurmd", "sbatch") if shutil.which(tool) is None]
        if missing:
            raise RuntimeError(f"SLURM tools missing: {missing}; install slurm-wlm and munge (see .ci/run)")
        if not running("slurmctld"):
            if CONF.exists() and MARKER not in CONF.read_text():
                raise RuntimeError(
                    f"{CONF} exists and is not ours; not touching a real cluster's configuration"
                )
            CONF.parent.mkdir(parents=True, exist_ok=True)
            CONF.write_text(slurm_conf())
            self.wrote_conf = True
            for folder in ("slurmd", "state"):
                (STATE / folder).mkdir(parents=True, exist_ok=True)
        try:
            if not running("munged"):
                Path("/run/munge").mkdir(parents=True, exist_ok=True)
                shutil.chown("/run/munge", "munge", "munge")
                subprocess.run(["runuser", "-u", "munge", "--", "munged"], check=True)
                self.started.append("munged")
            for daemon in ("slurmctld", "slurmd"):
                if not running(daemon):
                    subprocess.run([daemon], check=True)
                    self.started.append(daemon)
            self._wait_idle()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_idle(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True).stdout.strip()
            if state in ("idle", "mix", "alloc"):
                return
            time.sleep(1)
        raise RuntimeError(f"SLURM node did not come up (sinfo: {state!r}); see {STATE}/*.log")

    def __exit__(self, *exc: object) -> None:
        if self.started:
            subprocess.run(["scancel", "--user", os.environ.get("USER", "root")], capture_output=True)
        for daemon in reversed(self.started):
            subprocess.run(["pkill", "-x", daemon], capture_output=True)
            for _ in range(50):
                if not running(daemon):
                    break
                time.sleep(0.2)
        if self.wrote_conf:
            CONF.unlink(missing_ok=True)
