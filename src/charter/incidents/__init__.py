"""Serious incidents (EU AI Act Art. 73): reporting deadlines, the authority, suspension of the system's licenses."""
