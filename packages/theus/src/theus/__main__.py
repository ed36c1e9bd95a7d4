"""``python -m theus``: the theus command line (see :mod:`theus._cli`)."""

from ._cli import main

main()
