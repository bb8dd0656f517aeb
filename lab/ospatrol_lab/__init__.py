"""The local lab: real servers on 127.0.0.1 (OpenSSH, fake-switches, device simulator) for tests
and `ospatrol lab up|down|status`. A distribution of its own (`ospatrol-lab`, the `lab` extra of
`ospatrol`), so the product wheel carries no simulator."""

__version__ = "0.1.0"
