"""Stage 3, the Model Registry: versions, the promotion gate, and the one policy deciding both."""
