"""Exporters: turn one Ultralytics YOLO model into the variants bench compares.

One entry point; one module per kind of variant, registered by kind (:mod:`exporters.kinds`)::

    spec.parse_variant("pruned30-int8", fmt="onnx")     -> VariantSpec (the name grammar)
    build.build_variant(source, spec, imgsz=..., options={...})  -> Artifact (path + manifest), cached

    kinds/             the registry: a variant = model kind + precision kind + format kind, each with
                       its options dataclass (CLI flags from it), input checks and builder:
                       plain.py (plain, fp32), pruned.py, student.py, fp16.py, int8.py, onnx.py, trt.py
    stage.py           the build context, the cached-stage runner, the manifest fields every stage writes
    source.py          validate the .pt / .onnx source (detection, supported architecture)
    onnx_export.py     FP32 via Ultralytics' exporter (+ exact DFL rewrite), FP16 conversion, head-decode finder, graph cost
    int8.py            ONNX Runtime static QDQ quantization, head decode left float
    openvino_int8.py   OpenVINO INT8: NNCF post-training quantization of the FP32 ONNX into an IR
    calibration.py     train-split calibration images through the inference letterbox
    splitfree.py       split-free C2f/C3k2 blocks (needed by Torch-Pruning; pickled in pruned .pt)
    prune.py           structured channel pruning (+ ``python -m exporters.prune_cli``)
    finetune.py        fine-tuning of the pruned module (or its unpruned control) with Ultralytics' trainer
    training_record.py a training's per-epoch val curve (results.csv) and its plateau verdict
    tensorrt_build.py  TensorRT 8.6/10.x engine builder (+ ``python -m exporters.trt_smoke`` on device)
    manifest.py        manifests, cache keys, atomic writes
    cli.py             ``bench export``

Heavy dependencies (torch, ultralytics, onnx, onnxruntime, tensorrt) are imported inside functions.
"""
