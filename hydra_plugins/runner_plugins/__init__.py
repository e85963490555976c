"""The runner's own Hydra plugins (found by Hydra in the `hydra_plugins` namespace package).

- `joblib_launcher.ResilientJoblibLauncher` (`launcher=local-parallel`): Hydra's joblib launcher, but a
  worker process that dies costs its job only: the other jobs run on a fresh pool.
- `sweeper.PreflightBasicSweeper` (the default `hydra/sweeper: basic`, also `runner`): Hydra's basic sweeper that checks every
  cell before the first fit (runner.sweep.preflight) and launches only the valid ones, keeping job numbers.
"""
