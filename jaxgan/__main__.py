"""``python -m jaxgan``: the same command line as the ``jaxgan`` console script."""

import sys

from jaxgan.cli import main

if __name__ == "__main__":
    sys.exit(main())
