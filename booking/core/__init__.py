"""The pure scheduling core: intervals, open hours, slots and RFC 5545 data, computed
from values handed in. No I/O, no Flask, no SQLAlchemy, no Radicale (README.md says why;
tests/booking/core/test_purity.py and import-linter hold it)."""
