"""Budgets: money ledger, expenditure validation and the pivot."""
