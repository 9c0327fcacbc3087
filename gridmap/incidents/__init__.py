"""Incidents: intake, routing, the closed loop, supervision and metrics (issue: incidents)."""
