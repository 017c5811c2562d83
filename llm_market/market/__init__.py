"""Market: goods, demand, the order book and the matching mechanisms."""
