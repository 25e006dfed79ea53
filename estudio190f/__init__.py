"""e-STUDIO190F simulator: the namespace that holds `hw`, `firmware` and `panel`."""

__version__ = "0.1.0"
