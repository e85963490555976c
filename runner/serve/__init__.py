"""After training: batch prediction with a logged model, and monitoring a batch against its reference."""
