"""`launcher=local-parallel`: Hydra's joblib launcher, resilient to a worker process that dies.

Hydra's joblib launcher runs a batch as one `joblib.Parallel` call; when one loky worker dies
(SIGKILL, the OOM killer, a segfault in native code) loky breaks the whole pool and the call raises
`TerminatedWorkerError`: every job of the batch is lost and the sweep ends with a traceback.

This launcher submits each cell as its own future to the same reusable loky pool (the one
`joblib.Parallel` with the launcher's arguments uses, so runner.sweep.warmup's warm workers serve
it). Each cell writes its worker's pid to a marker file as it starts. When the pool breaks, loky
fails the pending futures *before* it kills the remaining workers, so at that moment the cell
whose worker is already dead is known: that job is recorded FAILED (`worker process died
(SIGKILL)`, through runner.sweep.lifecycle) and not retried; the cells cancelled with it (their
workers killed by loky) and those still queued run again on a fresh pool. Job numbers never change.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, as_completed
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, run_job, setup_globals
from hydra_plugins.hydra_joblib_launcher._core import process_joblib_cfg
from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher
from omegaconf import DictConfig

from hydra_plugins.runner_plugins.jobs import job_config

log = logging.getLogger(__name__)

Cell = tuple[int, Sequence[str]]  # (job number, overrides)


def execute_cell(idx: int, overrides: Sequence[str], hydra_context: Any, config: DictConfig, task_function: Any,
                 singleton_state: dict[Any, Any], markers: str) -> JobReturn:
    """One job in a loky worker (as Hydra's joblib launcher runs it), after noting which process runs it."""
    (Path(markers) / f"{idx}.pid").write_text(str(os.getpid()))
    setup_globals()
    Singleton.set_state(singleton_state)
    sweep_config = job_config(hydra_context, config, idx, overrides)
    HydraConfig.instance().set_config(sweep_config)
    return run_job(hydra_context=hydra_context, task_function=task_function, config=sweep_config,
                   job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")


def signal_name(code: int | None) -> str:
    """How a worker ended, as a reason reads it: `SIGKILL` for -9, `exit code 3` for 3."""
    if code is None:
        return "unknown cause"
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def _alive(pid: int) -> bool:
    """Whether a process runs (a zombie, or a pid gone from /proc, is dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def _exit_codes_in(message: str) -> list[int]:
    """loky's 'The exit codes of the workers are {SIGKILL(-9)}' -> [-9]."""
    return [int(c) for c in re.findall(r"\((-?\d+)\)", message.split("exit codes", 1)[-1])]


class _Breakage:
    """Which cells' workers were already dead when loky declared the pool broken (before it killed the rest)."""

    def __init__(self, markers: Path, unfinished: set[int], executor: Any) -> None:
        self.markers = markers
        self.unfinished = unfinished
        self.executor = executor
        self.lock = threading.Lock()
        self.seen = False
        self.dead: dict[int, str] = {}  # job number -> reason
        self.pids: dict[int, int] = {}  # job number -> pid of every started, unfinished cell

    def started(self) -> dict[int, int]:
        out = {}
        for idx in list(self.unfinished):
            try:
                out[idx] = int((self.markers / f"{idx}.pid").read_text())
            except (OSError, ValueError):
                continue
        return out

    def on_done(self, idx: int, future: Future[Any]) -> None:
        """A future's callback: runs in loky's manager thread, which fails every future before killing the workers."""
        from joblib.externals.loky.process_executor import TerminatedWorkerError

        with self.lock:
            if future.cancelled():
                return
            error = future.exception()
            if error is None:
                self.unfinished.discard(idx)
                return
            if self.seen or not isinstance(error, TerminatedWorkerError):
                return
            self.seen = True
            self.pids = self.started()
            processes = getattr(self.executor, "_processes", None) or {}
            codes = _exit_codes_in(str(error))
            for job, pid in self.pids.items():
                if _alive(pid):
                    continue
                process = processes.get(pid)
                code = process.exitcode if process is not None else (codes[0] if len(codes) == 1 else None)
                self.dead[job] = f"worker process died ({signal_name(code)})"


def lost_job(job_config: DictConfig, overrides: Sequence[str], reason: str) -> JobReturn:
    """A job whose process died: recorded FAILED with `reason` (runner.sweep.lifecycle.record_lost_job), and
    returned to the sweeper as any failed job of the runner is: completed, with NaN."""
    from runner.sweep import lifecycle

    idx = job_config.hydra.job.num
    log.error("job %s failed: %s", idx, reason)
    try:
        lifecycle.record_lost_job(job_config, reason)
    except Exception as e:  # the sweep still reports the others
        log.warning("could not record job %s as failed: %s", idx, e)
    ret = JobReturn(overrides=list(overrides), cfg=job_config, hydra_cfg=job_config, working_dir=os.getcwd(),
                    task_name=str(job_config.hydra.job.name), status=JobStatus.COMPLETED)
    ret.return_value = float("nan")
    return ret


class ResilientJoblibLauncher(JoblibLauncher):
    """Hydra's joblib launcher (same config: n_jobs, ...), cell by cell: a dead worker costs its job only."""

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        return self.launch_cells([(initial_job_idx + i, list(o)) for i, o in enumerate(job_overrides)])

    def launch_cells(self, cells: Sequence[Cell]) -> list[JobReturn]:
        """Run the cells (job number, overrides) in parallel; a result for each, in the order given."""
        assert self.config is not None and self.hydra_context is not None and self.task_function is not None
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        args = dict(self.joblib)
        args["backend"] = "loky"  # as Hydra's launcher: the threading backend is incompatible with Hydra
        process_joblib_cfg(args)
        log.info("Joblib.Parallel(%s) is launching %d jobs", ",".join(f"{k}={v}" for k, v in args.items()), len(cells))
        log.info("Launching jobs, sweep output dir : %s", sweep_dir)
        for idx, overrides in cells:
            log.info("\t#%d : %s", idx, " ".join(filter_overrides(overrides)))

        results: dict[int, JobReturn] = {}
        pending = list(cells)
        markers = Path(tempfile.mkdtemp(prefix="runner-cells-"))
        try:
            blind = 0  # breakages in a row that no started job explains (a worker dying between jobs)
            while pending:
                dead = self._run_pool(args, pending, results, markers)
                blind = 0 if dead else blind + 1
                if blind >= 3:  # never loop for ever: what is left is lost
                    dead = {idx: "worker process died (the worker pool broke 3 times in a row)" for idx, _ in pending
                            if idx not in results}
                for idx, reason in dead.items():
                    results[idx] = self._lost(idx, dict(pending)[idx], reason)
                pending = [c for c in pending if c[0] not in results]
                if pending:
                    log.warning("running %d unfinished jobs again on a fresh worker pool: %s", len(pending),
                                ", ".join(f"#{i}" for i, _ in pending))
        finally:
            shutil.rmtree(markers, ignore_errors=True)
        return [results[idx] for idx, _ in cells]

    def _run_pool(self, args: dict[str, Any], cells: list[Cell], results: dict[int, JobReturn], markers: Path) -> dict[int, str]:
        """Submit the cells to the pool; fill `results`; after a breakage, the jobs whose worker died (and why)."""
        from joblib import Parallel
        from joblib.externals.loky.process_executor import TerminatedWorkerError

        for idx, _ in cells:
            (markers / f"{idx}.pid").unlink(missing_ok=True)
        singleton_state = Singleton.get_state()
        with Parallel(**args) as parallel:
            executor = parallel._backend._workers  # the reusable loky pool joblib.Parallel(**args) uses
            breakage = _Breakage(markers, {idx for idx, _ in cells}, executor)
            futures: dict[Future[Any], int] = {}
            for idx, overrides in cells:
                future = executor.submit(execute_cell, idx, list(overrides), self.hydra_context, self.config,
                                         self.task_function, singleton_state, str(markers))
                future.add_done_callback(lambda f, idx=idx: breakage.on_done(idx, f))
                futures[future] = idx
            broken = False
            try:
                for future in as_completed(futures):
                    try:
                        results[futures[future]] = future.result()
                    except TerminatedWorkerError:
                        broken = True
            except BaseException:  # Ctrl-C, SIGTERM: stop the workers too (the sweep closes their runs KILLED)
                for future in futures:
                    future.cancel()
                executor.shutdown(wait=False, kill_workers=True)
                raise
        if not broken:
            return {}
        # Loky kills the other workers after failing the futures: wait until they are gone, then close
        # the runs their cancelled jobs had opened (those jobs run again).
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in breakage.pids.values()) and time.monotonic() < deadline:
            time.sleep(0.05)
        for idx in breakage.pids:
            if idx not in breakage.dead and idx not in results:
                self._cancelled(idx, dict(cells)[idx])
        if not breakage.dead:
            log.warning("a worker process died between jobs; no job was lost")
        return breakage.dead

    def _job_config(self, idx: int, overrides: Sequence[str]) -> DictConfig:
        assert self.config is not None and self.hydra_context is not None
        return job_config(self.hydra_context, self.config, idx, overrides)

    def _lost(self, idx: int, overrides: Sequence[str], reason: str) -> JobReturn:
        """A job whose worker died: recorded FAILED (not retried), and NaN for the sweeper, as any failed job."""
        return lost_job(self._job_config(idx, overrides), overrides, reason)

    def _cancelled(self, idx: int, overrides: Sequence[str]) -> None:
        from runner.sweep import lifecycle

        try:
            lifecycle.discard_cancelled_job(self._job_config(idx, overrides))
        except Exception as e:
            log.warning("could not close the cancelled run of job %d: %s", idx, e)
