"""The session record: the hash-chained journal, its anchors, opening and reading it back."""
