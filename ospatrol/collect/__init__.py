"""Collectors: fetch a host's state over a transport, compare it with the store, emit findings."""
