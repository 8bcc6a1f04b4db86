"""`python3 -m xtts.export ...`: the exporter's command line (export.py)."""
import sys

from .export import main

sys.argv[0] = "python3 -m xtts.export"  # what --help and usage errors name, instead of __main__.py
main()
