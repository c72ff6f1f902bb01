"""Domain layer: chat rules in plain Python (no Flask), talking to storage through ports."""
