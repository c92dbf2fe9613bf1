"""What is true now: polling the sources, folding readings into state, events and recording."""
