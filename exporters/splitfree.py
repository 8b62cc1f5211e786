"""Split-free C2f/C3k2 blocks: the same function, without the ``chunk`` that structured pruning cannot follow.

Ultralytics' C2f (and its YOLO11 child C3k2) computes one 1x1 convolution ``cv1`` with ``2c`` output
channels and splits the result in two halves. Torch-Pruning 1.6.1 cannot keep the two halves
consistent (IndexError or a hang on stock YOLO11), so before pruning each block is rewritten as two
1x1 convolutions ``cv0`` and ``cv1`` of ``c`` channels each, with the weights (and BatchNorm
statistics) copied from the halves of the original ``cv1``. The outputs are identical; afterwards
the two halves can be pruned independently.

Pruned checkpoints pickle :class:`C2fSplitFree` by its import path
(``exporters.splitfree.C2fSplitFree``): keep this module name stable, or old checkpoints stop loading.

Example:
    >>> from ultralytics.nn.tasks import DetectionModel  # doctest: +SKIP
    >>> model = DetectionModel("yolo11n.yaml", verbose=False)  # doctest: +SKIP
    >>> convert_split_blocks(model)  # doctest: +SKIP
    8
"""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["C2fSplitFree", "convert_split_blocks", "split_conv"]

# attributes ultralytics' parse_model puts on every layer of model.model (from-index, index, type, params)
_LAYER_ATTRS = ("f", "i", "type", "np")


class C2fSplitFree(nn.Module):
    """A C2f/C3k2 block whose first 1x1 convolution is two separate convolutions.

    Args:
        cv0: convolution producing the first half (the pass-through branch).
        cv1: convolution producing the second half (the input of the bottleneck chain).
        m: the bottleneck chain (``nn.ModuleList``), unchanged from the original block.
        cv2: the output 1x1 convolution over the concatenation, unchanged.
    """

    def __init__(self, cv0: nn.Module, cv1: nn.Module, m: nn.ModuleList, cv2: nn.Module):
        super().__init__()
        self.cv0 = cv0
        self.cv1 = cv1
        self.m = m
        self.cv2 = cv2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Same result as ``C2f.forward`` for the block this was converted from."""
        y = [self.cv0(x), self.cv1(x)]
        y.extend(block(y[-1]) for block in self.m)
        return self.cv2(torch.cat(y, 1))


def split_conv(conv_module: nn.Module, start: int, stop: int) -> nn.Module:
    """Copy an Ultralytics ``Conv`` (conv + optional BatchNorm + activation) keeping output channels ``start:stop``.

    Args:
        conv_module: an ``ultralytics.nn.modules.Conv`` (fused or not).
        start: first output channel kept.
        stop: one past the last output channel kept.

    Returns:
        A new ``Conv`` computing exactly those output channels of the original.
    """
    new = copy.deepcopy(conv_module)
    old_conv = conv_module.conv
    keep = slice(start, stop)
    conv = nn.Conv2d(
        old_conv.in_channels,
        stop - start,
        old_conv.kernel_size,
        old_conv.stride,
        old_conv.padding,
        old_conv.dilation,
        old_conv.groups,
        bias=old_conv.bias is not None,
        padding_mode=old_conv.padding_mode,
    )
    with torch.no_grad():
        conv.weight.copy_(old_conv.weight[keep])
        if old_conv.bias is not None:
            conv.bias.copy_(old_conv.bias[keep])
    conv.weight.requires_grad_(old_conv.weight.requires_grad)
    new.conv = conv
    bn = getattr(conv_module, "bn", None)
    if isinstance(bn, nn.BatchNorm2d):
        new_bn = nn.BatchNorm2d(stop - start, eps=bn.eps, momentum=bn.momentum, affine=bn.affine)
        with torch.no_grad():
            if bn.affine:
                new_bn.weight.copy_(bn.weight[keep])
                new_bn.bias.copy_(bn.bias[keep])
            new_bn.running_mean.copy_(bn.running_mean[keep])
            new_bn.running_var.copy_(bn.running_var[keep])
            new_bn.num_batches_tracked.copy_(bn.num_batches_tracked)
        new.bn = new_bn
    return new


def _convert_block(block: nn.Module) -> C2fSplitFree:
    half = block.c
    new = C2fSplitFree(split_conv(block.cv1, 0, half), split_conv(block.cv1, half, 2 * half), block.m, block.cv2)
    for attr in _LAYER_ATTRS:
        if hasattr(block, attr):
            setattr(new, attr, getattr(block, attr))
    new.train(block.training)
    return new


def convert_split_blocks(model: nn.Module) -> int:
    """Replace every C2f/C3k2 block inside ``model`` by its split-free equivalent, in place.

    Blocks nested anywhere (``model.model[i]``, or the ``m`` list of another block) are converted.
    Outputs are unchanged up to floating-point rounding.

    Args:
        model: an Ultralytics model (``DetectionModel``) or any module containing C2f blocks.

    Returns:
        How many blocks were converted.
    """
    from ultralytics.nn.modules.block import C2f

    converted = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            # only blocks that use C2f's own forward (C2fAttn takes a second input and is left alone)
            if isinstance(child, C2f) and type(child).forward is C2f.forward:
                setattr(parent, name, _convert_block(child))
                converted += 1
    return converted
