"""``python -m window_ner.cli``: the command line."""

import sys

from window_ner.cli import main

sys.exit(main())
