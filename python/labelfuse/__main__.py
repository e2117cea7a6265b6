"""``python -m labelfuse``: the command line (the same as the installed ``labelfuse`` script)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
