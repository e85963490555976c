"""Where a job runs and what it is called (runner.job.context): its run name and run tags."""
from __future__ import annotations

from helpers import compose
from runner.job.context import Choices, JobContext, choices, run_tags
from runner.track import names


def test_run_names_leave_out_the_default_dataset() -> None:
    assert Choices("synthetic-imbalanced", "rf", "smotetomek").run_name == "rf+smotetomek"
    assert Choices("iris", "logreg", "none").run_name == "logreg+none@iris"


def test_outside_hydra_the_choices_are_read_off_the_config() -> None:
    assert JobContext.from_hydra() == JobContext()
    assert choices(compose(["model=rf", "sampler=smotetomek"]), JobContext()) == Choices(
        "synthetic-imbalanced", "RandomForestClassifier", "SMOTETomek")
    assert choices(compose(["dataset=iris"]), JobContext()) == Choices("iris", "LogisticRegression", "none")
    hydra = JobContext(choices={"dataset": "iris", "model": "logreg", "sampler": "none"})
    assert choices(compose(["dataset=iris"]), hydra).run_name == "logreg+none@iris"


def test_run_tags_say_choices_overrides_identity_job_folder_and_parent() -> None:
    cfg = compose(["mlflow.parent_run_id=p" + "0" * 31, "model=rf", "eval=cv"])
    ctx = JobContext(num=4, output_dir="/out/4", overrides=("model=rf", "+extra.api_token=***"), multirun=True)
    tags = run_tags(cfg, ctx, Choices("d", "rf", "none"), code_version="c", data_digest="", identity="i",
                    git_commit="abc", git_dirty="true")
    assert tags == {names.DATASET: "d", names.MODEL: "rf", names.SAMPLER: "none", names.EVAL: "cv",
                    names.OVERRIDES: "model=rf +extra.api_token=***", names.CODE_VERSION: "c", names.IDENTITY: "i",
                    names.GIT_COMMIT: "abc", names.GIT_DIRTY: "true", names.MLFLOW_GIT_COMMIT: "abc",
                    names.JOB_NUM: "4", names.OUTPUT_DIR: "/out/4", names.PARENT: "p" + "0" * 31}
    bare = run_tags(compose([]), JobContext(), Choices("d", "m", "s"))
    assert bare == {names.DATASET: "d", names.MODEL: "m", names.SAMPLER: "s", names.EVAL: "holdout", names.OVERRIDES: ""}
