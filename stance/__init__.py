"""stance: stance labelling of real discussion threads."""

__version__ = "0.1.0"
