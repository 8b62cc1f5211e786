"""bench: what each optimized form of a YOLO model costs and buys on an edge device."""

__version__ = "0.1.0"
