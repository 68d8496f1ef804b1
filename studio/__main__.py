"""``python -m studio``."""

from studio.cli import main

# The guard matters: the engine process is started with multiprocessing's "spawn", which
# imports the main module again in the child.
if __name__ == "__main__":
    raise SystemExit(main())
