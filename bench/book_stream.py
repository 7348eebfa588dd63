#!/usr/bin/env python3
"""The reference order-book stream through each book implementation (same as `perpsim bench book`).

  python bench/book_stream.py [--impl ref|cython|cython-batch] [--stream PATH] [--repeat N]
"""

import sys

from perpsim.sim.bookbench import main

if __name__ == "__main__":
    sys.exit(main())
