"""Stage 2, tracking: the store, a job's run, its params, inputs and model, and what makes two jobs the same."""
