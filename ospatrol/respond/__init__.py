"""Responding to alerts: output formats (alerts.log, alerts.json), outputs and active responses."""
