"""The scoring core: box formats and IoU, greedy matching, COCO and VOC AP, masks, localization.

numpy only (float64, vectorized); pycocotools is imported lazily and only to rasterize
polygon/RLE masks for ``segm`` evaluation.

Example:
    >>> from harness.metrics import box_iou, evaluate_coco
    >>> box_iou([[0, 0, 2, 2]], [[1, 0, 3, 2]]).round(4).tolist()
    [[0.3333]]
"""

from harness.metrics.bootstrap import Interval, bootstrap_map, bootstrap_map_difference, bootstrap_map_drop
from harness.metrics.boxes import BOX_FORMATS, box_area, convert_boxes
from harness.metrics.coco import STAT_NAMES, ClassAP, CocoParams, CocoResult, evaluate_coco
from harness.metrics.coco_io import CocoDetections, CocoGroundTruth, load_json
from harness.metrics.instance import InstanceScore, instance_score
from harness.metrics.iou import IOU_KINDS, box_iou
from harness.metrics.localization import FalsePositive, LocalizationReport, localization_analysis
from harness.metrics.masks import MaskMetrics, mask_metrics
from harness.metrics.matching import Matches, match_detections
from harness.metrics.voc import VocResult, evaluate_voc, voc_ap

__all__ = [
    "BOX_FORMATS",
    "IOU_KINDS",
    "STAT_NAMES",
    "ClassAP",
    "CocoDetections",
    "CocoGroundTruth",
    "CocoParams",
    "CocoResult",
    "FalsePositive",
    "InstanceScore",
    "Interval",
    "LocalizationReport",
    "MaskMetrics",
    "Matches",
    "VocResult",
    "bootstrap_map",
    "bootstrap_map_difference",
    "bootstrap_map_drop",
    "box_area",
    "box_iou",
    "convert_boxes",
    "evaluate_coco",
    "evaluate_voc",
    "instance_score",
    "load_json",
    "localization_analysis",
    "mask_metrics",
    "match_detections",
    "voc_ap",
]
