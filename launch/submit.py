#!/usr/bin/env python
"""Submit or run ITT stages: `python launch/submit.py --help`."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # usable without `pip install -e`

from hpc_itt.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
