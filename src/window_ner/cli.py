"""The window-ner command line."""
import sys


def main(argv=None) -> int:
    print("window-ner: not yet", file=sys.stderr)
    return 2
