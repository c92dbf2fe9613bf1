"""Signal sources: each reads one family of signals and returns Readings."""
