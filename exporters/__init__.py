"""Exporters: turn one Ultralytics YOLO model into the variants bench compares."""
