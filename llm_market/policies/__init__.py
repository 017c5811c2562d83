"""Policies: how teams turn observations into actions."""
