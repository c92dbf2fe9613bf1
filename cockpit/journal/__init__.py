"""The journal: an append-only, hash-chained record of the cutover, and reading it back."""
