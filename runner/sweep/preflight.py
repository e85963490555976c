"""A sweep's preflight: every cell checked before the first fit, the invalid ones listed together.

Hydra's callbacks cannot do this (the sweeper builds the batch after `on_multirun_start`, and no
callback can drop a cell), so the runner's sweeper (hydra_plugins/runner_plugins/sweeper.py) calls
`check_cells` on each batch before launching it. A cell is checked as a single run checks its
config (runner.job.run.plan: the config's own checks, the dataset's, and the model and sampler
against the loaded split), each distinct dataset loaded once. The invalid cells are printed as one
table, recorded as FAILED runs with their reasons under the sweep's parent run (with their job
numbers, as the job would have recorded itself) and not launched. A cell Hydra cannot compose is
reported the same way. `runner.preflight=false` turns it off: each job then finds its own mistakes.
"""
from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from runner.errors import UserError, exception_line
from runner.job.context import HIDDEN_OVERRIDES, JobContext
from runner.track.secrets import redact_text

log = logging.getLogger(__name__)

Cell = tuple[int, Sequence[str]]


@dataclass
class Invalid:
    """A cell that would fail before its fit, and why."""

    num: int
    overrides: Sequence[str]
    error: Exception
    cfg: DictConfig
    ctx: JobContext
    start: float

    @property
    def reason(self) -> str:
        return redact_text(exception_line(self.error))


def check(cfg: DictConfig, splits: dict[str, Any]) -> None:
    """A job config's checks before its fit (what runner.job.run.plan refuses); `splits` caches the loaded data."""
    from runner.config import validate
    from runner.train import checks, data, decision, features, pipeline

    validate.config(cfg)
    checks.dataset_params(cfg.dataset)
    OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves
    preprocess = str(cfg.preprocess.get("kind", "none"))
    key = json.dumps([OmegaConf.to_container(cfg.dataset, resolve=True), preprocess], sort_keys=True, default=str)
    if key not in splits:
        try:
            splits[key] = data.load_split(cfg.dataset, preprocess)
        except UserError as e:
            splits[key] = e
    split = splits[key]
    if isinstance(split, UserError):
        raise split
    pipe = pipeline.build(cfg, features.step(split.X_train, cfg.dataset.kind == "csv", preprocess), split.classes)
    sampler = pipe.named_steps["sampler"]
    checks.against_data(cfg, split, None if sampler == "passthrough" else sampler, pipeline.inner_model(pipe.named_steps["model"]))
    decision.wrap(pipe, cfg, split.classes)


def _as_the_job_fails(cfg: DictConfig, ctx: JobContext, found: Exception) -> Exception | None:
    """The error the job itself would record (runner.job.run.plan, its traceback included), for a cell the
    checks refused; None if plan accepts it after all (then the job runs)."""
    from runner.job.run import plan

    try:
        plan(cfg, ctx)
    except UserError as e:
        return e
    except Exception:  # e.g. an interpolation the job cannot resolve either: the checks' own error
        return found
    return None


def _uncomposed(master: DictConfig, num: int, overrides: Sequence[str]) -> tuple[DictConfig, JobContext]:
    """What a run of a cell Hydra cannot compose is recorded with: the sweep's config, the cell's choices."""
    from runner.sweep import lifecycle

    cfg = OmegaConf.create(OmegaConf.to_container(master, resolve=False))
    assert isinstance(cfg, DictConfig)
    choices = dict(master.hydra.runtime.choices)
    for o in overrides:
        key, _, value = o.lstrip("+~").partition("=")
        if key in choices:
            choices[key] = value
    with read_write(cfg), open_dict(cfg):
        del cfg["hydra"]
        sweep = lifecycle.current()
        if sweep is not None:
            cfg.mlflow.parent_run_id = sweep.parent_run_id
            cfg.mlflow.tracking_uri = sweep.uri
    shown = tuple(redact_text(o) for o in overrides if not o.lstrip("+~").startswith(HIDDEN_OVERRIDES))
    return cfg, JobContext(choices, num, None, shown, multirun=True)


def check_cells(cells: Sequence[Cell], compose: Callable[[int, Sequence[str]], DictConfig], master: DictConfig) -> list[Cell]:
    """Check every cell (job number, overrides); print and record the invalid ones; return the valid ones, in order."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from runner.config import hydra_errors
    from runner.sweep import lifecycle

    tic = time.perf_counter()
    splits: dict[str, Any] = {}
    valid: list[Cell] = []
    invalid: list[Invalid] = []
    for num, overrides in cells:
        start = time.time()
        try:
            job_config = compose(num, overrides)
        except (HydraException, OmegaConfBaseException, ValueError) as e:
            cfg, ctx = _uncomposed(master, num, overrides)
            invalid.append(Invalid(num, overrides, UserError(hydra_errors.error_line(e)), cfg, ctx, start))
            continue
        cfg, ctx = lifecycle.job_context(job_config)
        try:
            check(cfg, splits)
        except (UserError, OmegaConfBaseException) as e:
            error = _as_the_job_fails(cfg, ctx, e)
            if error is not None:
                invalid.append(Invalid(num, overrides, error, cfg, ctx, start))
                continue
        except Exception as e:  # not a mistake the checks know: the job meets it and records it itself
            log.debug("preflight: job %d: %s", num, exception_line(e))
        valid.append((num, overrides))
    if invalid:
        print_invalid(invalid, len(cells))
        record(invalid)
    log.info("preflight: %d of %d cells valid (checked in %.2fs)", len(valid), len(cells), time.perf_counter() - tic)
    return valid


def print_invalid(invalid: list[Invalid], total: int) -> None:
    """One table of the invalid cells: job number, overrides, reason."""
    from rich.table import Table

    from runner.sweep import render

    table = Table(title=f"preflight: {len(invalid)} of {total} jobs are invalid and will not run", title_justify="left")
    table.add_column("job", justify="right")
    table.add_column("overrides")
    table.add_column("reason", style="red")
    for bad in invalid:
        table.add_row(str(bad.num), " ".join(bad.ctx.overrides), bad.reason)
    sys.stdout.flush()
    render.console().print(table)
    sys.stdout.flush()


def record(invalid: list[Invalid]) -> None:
    """Each invalid cell as a FAILED run with its reason, under the sweep's parent run with its job number."""
    from runner.job.run import record_invalid
    from runner.track import store

    for bad in invalid:
        uri = store.resolve_uri(bad.cfg.mlflow.tracking_uri)
        try:
            record_invalid(bad.cfg, bad.ctx, uri, bad.error, bad.start)
        except Exception as e:  # the store said no: the table above still says why
            log.warning("could not record invalid job %d: %s", bad.num, exception_line(e))
