"""Random COCO-style sets with the hard cases in them, and the two reference evaluators."""

from __future__ import annotations

import contextlib
import copy
import io

import numpy as np


def random_coco(
    seed: int,
    *,
    n_images: int = 12,
    n_cats: int = 4,
    gt_per_image: float = 4.0,
    dt_per_image: float = 10.0,
    crowd_rate: float = 0.08,
    tie_levels: int | None = None,
    size: float = 640.0,
    int_ids: bool = True,
) -> tuple[dict, list]:
    """Ground truth dict and results list. Includes empty images, detection-only images,
    crowd regions, tiny and huge boxes, duplicates, categories without ground truth, and
    (with ``tie_levels``) many equal scores."""
    rng = np.random.default_rng(seed)
    cat_ids = sorted(rng.choice(np.arange(1, 3 * n_cats + 1), n_cats, replace=False).tolist())
    img_ids = rng.choice(np.arange(1, 10 * n_images + 1), n_images, replace=False).tolist()
    if not int_ids:
        img_ids = [f"img_{i:04d}" for i in img_ids]
    images = [{"id": i, "width": int(size), "height": int(size)} for i in img_ids]
    anns, dets = [], []
    ann_id = 1

    def rand_box() -> list:
        kind = rng.random()
        if kind < 0.15:  # tiny
            w, h = rng.uniform(0.5, 8, 2)
        elif kind < 0.25:  # huge
            w, h = rng.uniform(200, size, 2)
        else:
            w, h = np.exp(rng.uniform(np.log(8), np.log(300), 2))
        x, y = rng.uniform(0, size - min(w, size - 1)), rng.uniform(0, size - min(h, size - 1))
        return [float(x), float(y), float(w), float(h)]

    for img in img_ids:
        mode = rng.random()
        n_gt = 0 if mode < 0.15 else rng.poisson(gt_per_image)
        n_dt = 0 if 0.15 <= mode < 0.25 else rng.poisson(dt_per_image)
        gts = []
        for _ in range(n_gt):
            cat = int(rng.choice(cat_ids[:-1] if n_cats > 1 else cat_ids))  # last category: detections only
            b = rand_box()
            crowd = int(rng.random() < crowd_rate)
            area = b[2] * b[3] * float(rng.uniform(0.5, 1.0))  # area field differs from the box area
            anns.append({"id": ann_id, "image_id": img, "category_id": cat, "bbox": b, "area": area, "iscrowd": crowd})
            gts.append((cat, b))
            ann_id += 1
        for _ in range(n_dt):
            if gts and rng.random() < 0.7:
                cat, b = gts[rng.integers(len(gts))]
                if rng.random() < 0.1:
                    cat = int(rng.choice(cat_ids))
                jitter = rng.normal(0, 0.1, 4) * np.array([b[2], b[3], b[2], b[3]])
                nb = [b[0] + jitter[0], b[1] + jitter[1], max(b[2] + jitter[2], 0.0), max(b[3] + jitter[3], 0.0)]
                if rng.random() < 0.05:
                    nb = list(b)  # exact copy: IoU exactly 1
            else:
                cat, nb = int(rng.choice(cat_ids)), rand_box()
            score = float(rng.random())
            if tie_levels:
                score = float(np.floor(score * tie_levels) / tie_levels)
            dets.append({"image_id": img, "category_id": cat, "bbox": [float(v) for v in nb], "score": score})
            if rng.random() < 0.05:
                dets.append(dict(dets[-1]))  # a duplicate with the same score
    cats = [{"id": c, "name": f"c{c}"} for c in cat_ids]
    order = rng.permutation(len(dets))
    return {"images": images, "annotations": anns, "categories": cats}, [dets[i] for i in order]


def pycocotools_stats(gt: dict, dt: list, iou_type: str = "bbox", *, max_dets=None, evaluator: bool = False):
    """Run pycocotools on deep copies (it mutates its input); return stats (and the evaluator)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO()
        cg.dataset = copy.deepcopy(gt)
        cg.createIndex()
        cd = cg.loadRes(copy.deepcopy(dt)) if dt else COCO()
        if not dt:
            cd.dataset = {"images": copy.deepcopy(gt["images"]), "annotations": [], "categories": copy.deepcopy(gt["categories"])}
            cd.createIndex()
        e = COCOeval(cg, cd, iou_type)
        if max_dets is not None:
            e.params.maxDets = list(max_dets)
        e.evaluate()
        e.accumulate()
        e.summarize()
    return (np.asarray(e.stats), e) if evaluator else np.asarray(e.stats)


def faster_coco_eval_stats(gt: dict, dt: list, iou_type: str = "bbox") -> np.ndarray:
    """Run faster-coco-eval's C++ evaluator on deep copies; return its 12 stats."""
    from faster_coco_eval import COCO, COCOeval_faster

    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO(copy.deepcopy(gt))
        cd = cg.loadRes(copy.deepcopy(dt))
        e = COCOeval_faster(cg, cd, iou_type, print_function=lambda *a, **k: None)
        e.evaluate()
        e.accumulate()
        e.summarize()
    return np.asarray(e.stats[:12])


def random_segm(seed: int, *, n_images: int = 6, n_cats: int = 3, size: int = 96) -> tuple[dict, list]:
    """Masks: polygon ground truth, crowd regions as uncompressed RLE, detections as compressed RLE."""
    import pycocotools.mask as mask_util

    rng = np.random.default_rng(seed)
    cat_ids = list(range(1, n_cats + 1))
    images = [{"id": i + 1, "width": size + 7 * i, "height": size} for i in range(n_images)]
    anns, dets = [], []

    def poly(cx, cy, r):
        k = int(rng.integers(3, 9))
        ang = np.sort(rng.uniform(0, 2 * np.pi, k))
        rad = r * rng.uniform(0.5, 1.0, k)
        pts = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1)
        return [float(v) for v in pts.ravel()]

    for img in images:
        w, h = img["width"], img["height"]
        objs = []
        for _ in range(int(rng.poisson(3))):
            cat = int(rng.choice(cat_ids[:-1]))
            cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(2, 30)
            crowd = rng.random() < 0.15
            if crowd:
                m = np.zeros((h, w), np.uint8, order="F")
                x0, y0 = int(rng.integers(0, w - 5)), int(rng.integers(0, h - 5))
                m[y0 : y0 + int(rng.integers(3, 40)), x0 : x0 + int(rng.integers(3, 40))] = 1
                runs = _runs(m)
                seg = {"size": [h, w], "counts": runs}
                area = float(m.sum())
            else:
                seg = [poly(cx, cy, r)] + ([poly(cx + r, cy, r / 2)] if rng.random() < 0.3 else [])
                area = float(mask_util.area(mask_util.merge(mask_util.frPyObjects(seg, h, w))))
            x, y, bw, bh = mask_util.toBbox(mask_util.merge(mask_util.frPyObjects(seg, h, w)) if isinstance(seg, list) else mask_util.frPyObjects(seg, h, w)).tolist()
            anns.append({"id": len(anns) + 1, "image_id": img["id"], "category_id": cat, "segmentation": seg,
                         "area": area, "bbox": [x, y, bw, bh], "iscrowd": int(crowd)})
            objs.append((cat, cx, cy, r))
        for _ in range(int(rng.poisson(6))):
            if objs and rng.random() < 0.7:
                cat, cx, cy, r = objs[int(rng.integers(len(objs)))]
                cx, cy, r = cx + rng.normal(0, 2), cy + rng.normal(0, 2), r * rng.uniform(0.8, 1.2)
            else:
                cat, cx, cy, r = int(rng.choice(cat_ids)), rng.uniform(0, w), rng.uniform(0, h), rng.uniform(2, 30)
            rle = mask_util.merge(mask_util.frPyObjects([poly(cx, cy, r)], h, w))
            rle["counts"] = rle["counts"].decode("ascii")
            dets.append({"image_id": img["id"], "category_id": cat, "segmentation": rle, "score": float(rng.random())})
    return {"images": images, "annotations": anns, "categories": [{"id": c} for c in cat_ids]}, dets


def _runs(m: np.ndarray) -> list:
    flat = m.ravel(order="F")
    edges = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate(([0], edges, [flat.size]))
    runs = np.diff(bounds).tolist()
    return ([0] + runs) if flat[0] == 1 else runs
