"""A running cockpit session, headless: the TUI and `cockpit act` both drive it."""
