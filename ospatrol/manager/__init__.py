"""The manager daemon: syslog listeners, analysis worker processes, alert outputs, scheduler."""
