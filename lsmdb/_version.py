"""The package version, in a leaf of its own so that any module can name it without
importing the package facade (lsmdb/__init__.py) from below."""

__version__ = "0.1.0"
