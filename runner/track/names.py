"""Every name the runner writes into MLflow: run tags, version tags, aliases and artifact paths.

Logged records point at these names (a reviewed sweep, a gated version, a monitored champion), so
they never change; everything that reads or writes one imports it from here.
"""
from __future__ import annotations

# ---- run tags of a job
DATASET = "runner.dataset"              # the Hydra choices (or read off the config outside Hydra)
MODEL = "runner.model"
SAMPLER = "runner.sampler"
OVERRIDES = "runner.overrides"          # the task overrides as typed (secrets redacted)
CODE_VERSION = "runner.code_version"    # runner.track.identity.code_version
DATA_DIGEST = "runner.data_digest"      # every row of the full dataset, before splitting
IDENTITY = "runner.identity"            # config + code + data: equal identities reuse a FINISHED run
JOB_NUM = "runner.job_num"
EVAL = "runner.eval"                    # holdout | cv (absent on runs logged before eval existed: holdout)
OUTPUT_DIR = "runner.output_dir"
GIT_COMMIT = "runner.git_commit"
GIT_DIRTY = "runner.git_dirty"
MODEL_URI = "runner.model_uri"          # the LoggedModel the job logged (models:/m-<id>)
FAILURE = "runner.failure"              # why a run is FAILED or KILLED (one line)
REGISTERED_VERSION = "runner.registered_version"  # "<name>/<version>"
RERUN_OF = "runner.rerun_of"
PARENT = "mlflow.parentRunId"           # MLflow's own: a sweep's jobs are its parent run's children
MLFLOW_GIT_COMMIT = "mlflow.source.git.commit"

# ---- run tags of a sweep's parent run
SWEEP = "runner.sweep"                  # "true" on a sweep's parent run
SWEEP_DIR = "runner.sweep_dir"
OPTIMIZED_METRIC = "runner.optimized_metric"
JOB_PREFIX = "runner.job."              # runner.job.<n> = the run id of job n
REUSED_PREFIX = "runner.reused."        # runner.reused.<n> = the earlier run job n reused

# ---- the Model Registry
CHAMPION = "champion"
CHALLENGER = "challenger"
GATE_DECISION = "gate.decision"         # promoted | kept | first | off
GATE_PREFIX = "gate."
MONITOR_PREFIX = "monitor."             # a version's latest monitoring status
MONITOR_RUN_PREFIX = "runner.monitor."  # tags of a monitoring run

# run tag -> version tag: what a registered version says about where it came from
VERSION_TAGS = {
    IDENTITY: "identity",
    MODEL: "model",
    SAMPLER: "sampler",
    DATASET: "dataset",
    DATA_DIGEST: "data_digest",
    GIT_COMMIT: "git_commit",
    GIT_DIRTY: "git_dirty",
    CODE_VERSION: "code_version",
    OVERRIDES: "overrides",
}

# ---- artifacts of a job's run
RESOLVED_CONFIG = "resolved_config.yaml"
OVERRIDES_FILE = "overrides.yaml"
CLASSIFICATION_REPORT = "classification_report.txt"
TRACEBACK = "failure/traceback.txt"
PLOTS = "plots"
REFERENCE_PROFILE = "reference_profile.json"
HOLDOUT_PREDICTIONS = "predictions/holdout.parquet"  # row, label, prediction, proba_<class> per held-out row
CV_FOLDS = "cv/folds.csv"               # eval=cv: every fold's scores
FEATURE_IMPORTANCE = "feature_importance.csv"  # feature, importance_mean, importance_std (explain=true, or the report)
MODEL_NAME = "model"                    # the LoggedModel's name

# ---- artifacts of a sweep's parent run
SUMMARY_CSV = "summary.csv"
SUMMARY_MD = "summary.md"
COMPARISON_PNG = "comparison.png"
REPORT_HTML = "report.html"              # a sweep's self-contained report page (runner.sweep.report)
SEARCH_RESULT = "optimization_results.yaml"  # Optuna's best params and value

# ---- where a run's process runs (runner.track.liveness): every job run and sweep parent run
HOST = "runner.host"                    # socket.gethostname()
BOOT_ID = "runner.boot_id"              # /proc/sys/kernel/random/boot_id: this boot of this machine
PID_NS = "runner.pid_ns"                # /proc/self/ns/pid, e.g. pid:[4026531836]: the pid namespace (container)
PID = "runner.pid"
PID_START = "runner.pid_start"          # field 22 of /proc/<pid>/stat: start time in clock ticks after boot
HEARTBEAT = "runner.heartbeat"          # epoch seconds of the process's latest sign of life, rewritten while it runs
