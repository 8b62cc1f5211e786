"""Exporters: turn one Ultralytics YOLO model into the variants bench compares.

One entry point, one module per kind of variant::

    spec.parse_variant("pruned30-int8", fmt="onnx")   -> VariantSpec (the name grammar)
    build.build_variant(source, spec, imgsz=..., ...)  -> Artifact (path + manifest), cached

    source.py          validate the .pt / .onnx source (detection, supported architecture)
    onnx_export.py     FP32 via Ultralytics' exporter (+ exact DFL rewrite), FP16 conversion, head-decode finder, graph cost
    int8.py            ONNX Runtime static QDQ quantization, head decode left float
    calibration.py     train-split calibration images through the inference letterbox
    splitfree.py       split-free C2f/C3k2 blocks (needed by Torch-Pruning; pickled in pruned .pt)
    prune.py           structured channel pruning (+ ``python -m exporters.prune_cli``)
    finetune.py        fine-tuning of the pruned module with Ultralytics' trainer
    tensorrt_build.py  TensorRT 8.6/10.x engine builder (+ ``python -m exporters.trt_smoke`` on device)
    manifest.py        manifests, cache keys, atomic writes
    cli.py             ``bench export``

Heavy dependencies (torch, ultralytics, onnx, onnxruntime, tensorrt) are imported inside functions.
"""
