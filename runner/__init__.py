"""runner: a config-driven experiment runner for classic ML (Hydra composes, MLflow tracks)."""
