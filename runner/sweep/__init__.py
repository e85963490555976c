"""A multirun in the launching process: parent run, worker warm-up, leaderboard and its renderings."""
