"""Allow `python -m ospatrol`."""

from ospatrol.cli import main

main()
