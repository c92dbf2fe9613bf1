"""Looking back at a journal: the timeline, replay, the postmortem report and its charts."""
