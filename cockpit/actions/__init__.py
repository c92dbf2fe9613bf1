"""Guarded actions: one registry of what the cockpit can change, how, and how to undo it."""
