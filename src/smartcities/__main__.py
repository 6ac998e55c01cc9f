"""`python -m smartcities` runs the command line."""

from .cli import app

app()
