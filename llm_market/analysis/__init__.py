"""Analysis: event logs, the run report and the stylized facts."""
