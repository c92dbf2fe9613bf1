"""Judgements over the live state: guards, the runbook's checks and auto-abort."""
