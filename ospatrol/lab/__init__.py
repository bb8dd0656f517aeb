"""The local lab: real servers on 127.0.0.1 (OpenSSH, fake-switches, device simulator) for tests
and `ospatrol lab up|down|status`."""
