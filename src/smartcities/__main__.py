"""`python -m smartcities` runs the command line."""

from .cli import main

main()
