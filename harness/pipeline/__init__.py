"""The measured pipeline: preprocess (letterbox), inference, postprocess (decode, NMS, unletterbox)."""
