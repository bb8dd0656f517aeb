"""OSPatrol: agentless-first security monitoring in the OSSEC tradition."""

__version__ = "0.1.0"
