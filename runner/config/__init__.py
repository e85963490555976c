"""Stage 0, the config: the typed schema, what may be built, and checks that need no fit."""
