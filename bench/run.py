"""Run OrbitFlow's benchmarks (``make bench``): the leads board and search on MariaDB."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from leads_bench import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
