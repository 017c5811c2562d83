"""llm-market: an agent-based market for probability forecasts."""
