"""Recording: the event logs, the digest, the column names, the data collector, the summary."""
