"""A real single-node SLURM cluster for tests: munged, slurmctld and slurmd, each with its own socket, ports, state
and pid file in a scratch folder, so nothing of the machine's own is touched; stopped by the pids in their pid files.
Client commands (sbatch, squeue, scancel, submitit) reach it through the environment of ``Cluster.env``."""

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import NamedTuple

DAEMONS = ("munged", "slurmctld", "slurmd")


class Cluster(NamedTuple):
    root: Path
    env: dict  # os.environ with SLURM_CONF pointing at this cluster

    def pids(self) -> list[int]:
        return [int(p.read_text()) for p in (self.root / f"{d}.pid" for d in DAEMONS) if p.exists()]

    def completed(self) -> list[dict]:
        """The job completion log (jobcomp/filetxt): one dict per finished job, JobId, JobState, Partition, ..."""
        log = self.root / "jobcomp.log"
        lines = log.read_text().splitlines() if log.exists() else []
        return [dict(f.split("=", 1) for f in line.split() if "=" in f) for line in lines]


def missing() -> str | None:
    """Why no cluster can be started here, or None."""
    absent = [d for d in (*DAEMONS, "sbatch", "scancel", "squeue", "mungekey") if shutil.which(d) is None]
    if absent:
        return f"SLURM or munge is not installed ({', '.join(absent)} missing; Debian: apt-get install slurm-wlm munge)"
    if os.geteuid() != 0:
        return "a test SLURM cluster runs its daemons as root"
    return None


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def start(root: Path) -> Cluster:
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o700)  # munged refuses a socket folder others can write to
    munge_socket = root / "munge.socket"
    subprocess.run(["mungekey", "--create", "--keyfile", str(root / "munge.key")], check=True, capture_output=True)
    subprocess.run(["munged", "--force", f"--socket={munge_socket}", f"--key-file={root / 'munge.key'}",
                    f"--pid-file={root / 'munged.pid'}", f"--log-file={root / 'munged.log'}",
                    f"--seed-file={root / 'munged.seed'}"], check=True, capture_output=True)
    node = subprocess.run(["slurmd", "-C"], check=True, capture_output=True, text=True).stdout.splitlines()[0]
    host = node.split()[0].split("=", 1)[1]
    ctld_port, slurmd_port = _free_ports(2)
    settings = {
        "ClusterName": "gan1dtest", "SlurmctldHost": host, "SlurmctldPort": ctld_port, "SlurmdPort": slurmd_port,
        "AuthType": "auth/munge", "CredType": "cred/munge", "AuthInfo": f"socket={munge_socket}",
        "ProctrackType": "proctrack/linuxproc", "TaskPlugin": "task/none", "SelectType": "select/cons_tres",
        "SelectTypeParameters": "CR_Core", "SlurmUser": "root", "SlurmdUser": "root", "ReturnToService": 2,
        "MpiDefault": "none", "KillWait": 5,
        "JobAcctGatherType": "jobacct_gather/none", "AccountingStorageType": "accounting_storage/none",
        "JobCompType": "jobcomp/filetxt", "JobCompLoc": root / "jobcomp.log",
        "StateSaveLocation": root / "state", "SlurmdSpoolDir": root / "spool",
        "SlurmctldPidFile": root / "slurmctld.pid", "SlurmdPidFile": root / "slurmd.pid",
        "SlurmctldLogFile": root / "slurmctld.log", "SlurmdLogFile": root / "slurmd.log",
    }
    lines = [f"{k}={v}" for k, v in settings.items()]
    lines += [f"{node} State=UNKNOWN", "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP"]
    (root / "slurm.conf").write_text("\n".join(lines) + "\n")
    env = {**os.environ, "SLURM_CONF": str(root / "slurm.conf")}
    cluster = Cluster(root, env)
    try:
        subprocess.run(["slurmctld", "-i"], env=env, check=True, capture_output=True)
        subprocess.run(["slurmd"], env=env, check=True, capture_output=True)
        _wait_idle(cluster)
    except BaseException:
        stop(cluster)
        raise
    return cluster


def _wait_idle(cluster: Cluster, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        state = subprocess.run(["sinfo", "-h", "-o", "%T"], env=cluster.env, capture_output=True, text=True).stdout
        if state.strip() == "idle":
            return
        time.sleep(0.5)
    raise RuntimeError(f"the test SLURM node did not come up: see {cluster.root}/slurmd.log and slurmctld.log")


def stop(cluster: Cluster, timeout: float = 15) -> None:
    """SIGTERM each daemon by the pid in its pid file (slurmd, slurmctld, munged) and wait until each is gone."""
    for daemon in reversed(DAEMONS):
        pid_file = cluster.root / f"{daemon}.pid"
        if not pid_file.exists():
            continue
        pid = int(pid_file.read_text())
        try:
            os.kill(pid, 15)
        except ProcessLookupError:
            continue
        end = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < end:
            time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purposes
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ", 1)[1].startswith("Z"))
