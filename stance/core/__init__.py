"""What every part shares: errors, text normalisation, files and safe writes,
the Turn, the debate schema, progress bars."""

import csv
import sys

# A CSV field may hold a whole page: csv's default limit (128 KiB) refused
# stance's own output. Every module that reads CSV imports from stance.core.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
