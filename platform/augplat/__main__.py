"""``python -m augplat`` is the same as the ``augplat`` command."""

from augplat.cli import main

main()
