"""Local stand-ins for the whole cutover infrastructure, on loopback, over real protocols."""
