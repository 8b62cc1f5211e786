"""The scoring core: box formats and IoU, greedy matching, COCO and VOC AP, masks, localization.

numpy only (float64, vectorized); pycocotools is imported lazily and only to rasterize
polygon/RLE masks for ``segm`` evaluation.

Example:
    >>> from harness.metrics import box_iou, evaluate_coco
    >>> box_iou([[0, 0, 2, 2]], [[1, 0, 3, 2]]).round(4).tolist()
    [[0.3333]]
"""

from harness.metrics.boxes import BOX_FORMATS, box_area, convert_boxes
from harness.metrics.coco import STAT_NAMES, ClassAP, CocoParams, CocoResult, evaluate_coco
from harness.metrics.coco_io import CocoDetections, CocoGroundTruth, load_json
from harness.metrics.iou import IOU_KINDS, box_iou
from harness.metrics.matching import Matches, match_detections

__all__ = [
    "BOX_FORMATS",
    "IOU_KINDS",
    "STAT_NAMES",
    "ClassAP",
    "CocoDetections",
    "CocoGroundTruth",
    "CocoParams",
    "CocoResult",
    "Matches",
    "box_area",
    "box_iou",
    "convert_boxes",
    "evaluate_coco",
    "load_json",
    "match_detections",
]
