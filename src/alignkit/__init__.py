"""alignkit: train language models through the whole assistant lifecycle."""

__version__ = "0.1.0"
