"""One writer per run folder: a lease (`lease.json`) that the working process holds and renews.

The lease names its holder (host, pid, the pid's start time) and when it was last renewed. A
lease is live while its holder is: on the same host that is exact and immediate (the pid exists
and started when the lease says, so a reused pid does not count); from another host — a Slurm job
on a compute node seen from the login node — it is live until `TTL_S` after its last renewal.
A dead holder's lease (kill -9, a node gone, a cancelled job) is taken over and the run resumes
from its last complete checkpoint, as it always did.

Taking a lease is atomic under an `flock` of `.lease.lock` in the folder, so two processes that
race for the same folder never both win. Written by hand: no well-kept library leases folders
across processes and hosts with holder identity (filelock's locks die with their process, but say
nothing about who holds them and do not work across NFS clients without lockd).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
import time
import uuid
from pathlib import Path

from hpc_itt import atomic

LEASE = "lease.json"
RENEW_S = 10.0
TTL_S = 60.0  # 6 missed renewals: a holder on another host is dead after at most this long


class Held(Exception):
    """Another live process holds the lease."""

    def __init__(self, holder: dict):
        self.holder = holder
        super().__init__(describe(holder))


def describe(holder: dict) -> str:
    age = time.time() - holder.get("renewed", 0)
    return f"{holder.get('what', 'a run')} by pid {holder.get('pid')} on {holder.get('host')} (renewed {age:.0f} s ago)"


def _start_time(pid: int) -> str | None:
    """The pid's start time (clock ticks since boot, /proc/<pid>/stat field 22): tells a reused pid
    apart. None when it is gone or a zombie (killed, not yet reaped: a container's init may never)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


def _alive(holder: dict, now: float | None = None) -> bool:
    """A holder that adopted a lease from the process that queued it (`handed_by`) keeps it live
    while that process lives too: between the job's end and its submitter's release."""
    if holder.get("released"):
        return False
    if holder.get("host") == socket.gethostname():
        if _start_time(int(holder.get("pid", -1))) == holder.get("pid_start"):
            return True
        parent = holder.get("handed_by") or {}
        return parent.get("host") == holder["host"] and _start_time(int(parent.get("pid", -1))) == parent.get("pid_start")
    return (now or time.time()) - float(holder.get("renewed", 0)) < TTL_S


def read(folder: Path) -> dict | None:
    try:
        return json.loads((Path(folder) / LEASE).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def holder(folder: Path) -> dict | None:
    """The live holder of a folder's lease, or None."""
    found = read(folder)
    return found if found and _alive(found) else None


def ours(found: dict, job: str | None) -> bool:
    """Held by another process of the same scheduler job (another rank, or the job before a requeue)."""
    return job is not None and found.get("job") == job


@contextlib.contextmanager
def _locked(folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lease.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class Lease:
    """Held while the run works; `renew` is called by a background thread (`keep`)."""

    def __init__(self, folder: Path, record: dict):
        self.folder, self.record = Path(folder), record
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def take(cls, folder: Path, what: str, token: str | None = None, job: str | None = None) -> "Lease":
        """Take the folder's lease, or adopt it when `token` is the one its current holder was
        given (a submitter hands the cell it queued to the job that runs it), or when it is held
        by an earlier start of the same scheduler job (`job`: a requeue keeps its id). Raises Held."""
        folder = Path(folder)
        with _locked(folder):
            found = read(folder)
            if found and _alive(found) and not (token and found.get("token") == token) and not ours(found, job):
                raise Held(found)
            pid = os.getpid()
            adopted = bool(found and token and found.get("token") == token and not found.get("released"))
            record = {"what": what, "job": job, "host": socket.gethostname(), "pid": pid, "pid_start": _start_time(pid),
                      "token": token or uuid.uuid4().hex, "taken": time.time(), "renewed": time.time(),
                      "took_over": None if not found or found.get("released") or found.get("token") == token
                      else {k: found.get(k) for k in ("host", "pid", "renewed")},
                      "handed_by": {k: found.get(k) for k in ("host", "pid", "pid_start")} if adopted else None}
            atomic.write_text(folder / LEASE, json.dumps(record), fsync=True)
        return cls(folder, record)

    def renew(self) -> None:
        with _locked(self.folder):
            found = read(self.folder)
            if self._stop.is_set() or not found or found.get("released") or found.get("token") != self.record["token"]:
                return  # taken over (we were presumed dead): never write over the new holder
            self.record["renewed"] = time.time()
            atomic.write_text(self.folder / LEASE, json.dumps(self.record))

    def keep(self) -> "Lease":
        def loop():
            while not self._stop.wait(RENEW_S):
                self.renew()

        self._thread = threading.Thread(target=loop, name="lease-renewal", daemon=True)
        self._thread.start()
        return self

    def release(self) -> None:
        """End the lease; an adopted one stays with the process that handed it over, which ends it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()  # a renewal under way must not write over the release
        if self.record.get("handed_by"):
            return
        with _locked(self.folder):
            found = read(self.folder)
            if found and found.get("token") == self.record["token"]:
                atomic.write_text(self.folder / LEASE, json.dumps(dict(self.record, released=time.time())))

    def __enter__(self) -> "Lease":
        return self.keep()

    def __exit__(self, *exc) -> None:
        self.release()
