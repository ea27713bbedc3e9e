"""`python -m window_ner`: the command line."""

import sys

from window_ner.cli import main

if __name__ == "__main__":
    sys.exit(main())
