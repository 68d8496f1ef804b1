"""The PyInstaller application's entry point (packaging/studio.spec): ``studio.cli.main``.

``freeze_support`` comes first: the editor starts its engine and trainer processes with
multiprocessing's "spawn", which in a frozen program runs this same executable again.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from studio.cli import main

    sys.exit(main())
