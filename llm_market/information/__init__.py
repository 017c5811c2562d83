"""Information: indices, questions, beliefs, news and scoring."""
