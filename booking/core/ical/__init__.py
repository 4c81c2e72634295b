"""RFC 5545 calendar data for the scheduling core, by operation: :mod:`.validate` (strict
parsing of what comes from outside), :mod:`.expand` (occurrences and busy time, bounded) and
:mod:`.write` (building and editing events)."""
