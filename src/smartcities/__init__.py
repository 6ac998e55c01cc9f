"""smartcities: build, check and publish a smart cities index."""

__version__ = "0.1.0"
