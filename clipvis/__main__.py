"""`python -m clipvis predict | label | evaluate | train` (see `--help`)."""
import sys

from .commands import main

if __name__ == "__main__":
    sys.exit(main())
