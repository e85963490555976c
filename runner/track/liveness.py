"""Where a run's process runs, whether it still does, and closing the runs whose process is gone.

Every job run and sweep parent run records its place as tags at creation (`tags()`): host, boot id,
pid namespace, pid and the process's start time. Host and pid alone are unsafe: containers share a
hostname and pids are reused. A RUNNING run is an orphan when its process provably no longer exists:

- on this machine (same boot id and pid namespace): `/proc/<pid>` is gone, a zombie, or has another
  start time (field 22 of `/proc/<pid>/stat`): the pid now belongs to another process;
- anywhere else (Ray workers, another container, a team server's other users): no heartbeat for
  `runner.stale_after` seconds. While a run is open its process rewrites the tag `runner.heartbeat`
  (epoch seconds) every `min(60, stale_after / 4)` seconds from a daemon thread (`Heartbeat`).

`close_orphans` finds them with one `search_runs` (status filter) and closes each as KILLED with the
reason in `runner.failure` (`process <pid> on <host> is gone`), in one line on stderr. A run whose
process is alive on this machine is never touched, whatever its heartbeat. Runs without these tags
(logged before they existed) are left alone: nothing proves them dead. A user who may not write to
the experiment (a read-only user of a team server) gets no cleanup and no error.
"""
from __future__ import annotations

import functools
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from runner.track import names

if TYPE_CHECKING:
    from mlflow import MlflowClient

log = logging.getLogger(__name__)

HEARTBEAT_EVERY = 60.0  # seconds between heartbeats, at most (a quarter of stale_after when that is shorter)
DENIED = ("PERMISSION_DENIED", "UNAUTHENTICATED", "readonly database", "read-only")


@functools.cache
def boot_id() -> str:
    """This boot of this machine ('' without /proc)."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as fh:
            return fh.read().strip()
    except OSError:
        return ""


@functools.cache
def pid_namespace() -> str:
    """This process's pid namespace, e.g. `pid:[4026531836]` ('' without /proc)."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def process_start(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks after boot); None when the process is gone
    or a zombie (it has exited; only its parent has not collected it yet)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            stat = fh.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # the name (field 2) may hold spaces and parentheses
    state, start = fields[0], fields[19]          # fields 3 and 22
    return None if state in ("Z", "X", "x") else start


def tags() -> dict[str, str]:
    """Where this process runs, as run tags (and a first heartbeat): for every run it creates."""
    pid = os.getpid()
    return {
        names.HOST: socket.gethostname(),
        names.BOOT_ID: boot_id(),
        names.PID_NS: pid_namespace(),
        names.PID: str(pid),
        names.PID_START: process_start(pid) or "",
        names.HEARTBEAT: str(int(time.time())),
    }


def gone_reason(run_tags: Mapping[str, str], stale_after: float, now: float | None = None) -> str | None:
    """Why the run's process provably no longer exists (its `runner.failure`), or None while it may live."""
    pid = run_tags.get(names.PID, "")
    if not pid.isdigit():
        return None  # logged before runs recorded where they run: nothing to go by
    host = run_tags.get(names.HOST, "?")
    here = bool(boot_id()) and run_tags.get(names.BOOT_ID) == boot_id() and run_tags.get(names.PID_NS) == pid_namespace()
    if here and run_tags.get(names.PID_START):
        if process_start(int(pid)) != run_tags[names.PID_START]:
            return f"process {pid} on {host} is gone"
        return None  # alive: never touched
    try:
        beat = float(run_tags.get(names.HEARTBEAT, ""))
    except ValueError:
        return None
    silent = (time.time() if now is None else now) - beat
    if silent > stale_after:
        return f"process {pid} on {host} sent no heartbeat for {silent:.0f} s (runner.stale_after={stale_after:g})"
    return None


def denied(e: BaseException) -> bool:
    """Whether `e` says this user may not write to the store."""
    code = str(getattr(e, "error_code", ""))
    return any(d in code or d in str(e) for d in DENIED)


def close_orphans(client: MlflowClient, experiment_ids: Sequence[str], stale_after: float) -> list[str]:
    """Close the RUNNING runs of these experiments whose process is gone as KILLED; return their ids.

    One `search_runs` with a status filter; then, per orphan only, a re-read (it may have just ended
    by itself) and two writes. Says so in one line on stderr.
    """
    from mlflow.exceptions import MlflowException

    from runner.track.store import quiet_lock_errors

    if not experiment_ids:
        return []
    quiet_lock_errors()
    running = client.search_runs(list(experiment_ids), filter_string="attributes.status = 'RUNNING'", max_results=1000)
    closed: list[tuple[str, str, str]] = []
    for run in running:
        reason = gone_reason(run.data.tags, stale_after)
        if reason is None:
            continue
        run_id = run.info.run_id
        try:
            if client.get_run(run_id).info.status != "RUNNING":  # it ended before its process did
                continue
            client.set_tag(run_id, names.FAILURE, reason)
            client.set_terminated(run_id, "KILLED")
        except MlflowException as e:
            if denied(e):
                log.debug("no permission to close orphaned run %s (%s); leaving it", run_id, e)
                break
            raise
        closed.append((run_id, run.info.run_name or "", reason))
    if len(closed) == 1:
        run_id, name, reason = closed[0]
        print(f"closed orphaned run {run_id} ({name}) as KILLED: {reason}", file=sys.stderr)
    elif closed:
        print(f"closed {len(closed)} orphaned runs as KILLED (runner.failure says why): "
              + ", ".join(f"{run_id} ({reason})" for run_id, _, reason in closed), file=sys.stderr)
    return [run_id for run_id, _, _ in closed]


def close_orphans_safely(client: MlflowClient, experiment_ids: Sequence[str], stale_after: float) -> list[str]:
    """`close_orphans` for commands that only read (runner.review): a failure is a log line, never the command's."""
    from runner.errors import exception_line

    try:
        return close_orphans(client, experiment_ids, stale_after)
    except Exception as e:
        if denied(e):
            log.debug("no permission to close orphaned runs: %s", e)
        else:
            log.warning("could not check for orphaned runs: %s", exception_line(e))
        return []


class Heartbeat:
    """Rewrites the run's `runner.heartbeat` tag every `every` seconds from a daemon thread until `stop()`.

    A beat that fails (a locked or unreachable store) is skipped: the next one tries again.
    """

    def __init__(self, client: MlflowClient, run_id: str, stale_after: float) -> None:
        import mlflow

        self.client = mlflow.MlflowClient(client.tracking_uri)  # a plain client: a beat never waits out a lock
        self.run_id = run_id
        self.every = max(1.0, min(HEARTBEAT_EVERY, stale_after / 4))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{run_id[:8]}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.client.set_tag(self.run_id, names.HEARTBEAT, str(int(time.time())))
            except Exception as e:  # never the job's failure: the run's status is written by the job itself
                log.debug("heartbeat of run %s skipped: %s", self.run_id, e)

    def stop(self) -> None:
        """No more beats (one in flight may still land: harmless)."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=0.2)


def keep_alive(client: MlflowClient, run_id: str, stale_after: float = 600.0) -> Heartbeat:
    """Start the heartbeat of a run this process holds open (a sweep's parent run); `.stop()` when it ends."""
    return Heartbeat(client, run_id, stale_after)
