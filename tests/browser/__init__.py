"""Browser tests of the site and the dashboard (a package, so its conftest does not shadow tests/conftest.py)."""
