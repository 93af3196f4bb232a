"""The paper's own detector design: a network over the raw kernels of a CNN (chapter, equation
{eq}`weights-ifbid`).

IFBiD {cite:p}`serna2021ifbid` reads the weights of the convolutional layers only (the biases and
the dense layers are left out; the authors' extraction script ``get_weights_DigitWdb.py`` in
BiDAlab/IFBiD keeps the ``Conv2D`` layers). Each layer's weight, filters x input channels x
kernel positions, goes through one block:

1. a 1 x 1 convolution over the input channels, the same for every filter and position, with a
   ReLU;
2. a max over the kernel's positions;
3. a second 1 x 1 layer with a ReLU;
4. a max over the filters, so the block's output does not depend on the order of the layer's
   filters;

and a dense layer classifies the blocks' outputs side by side. We follow the block as an
independent PyTorch re-implementation {cite:p}`toma2022ifbid` builds it (its ``build_block``).
The block is invariant to the order of a layer's own filters, but not to the order of its input
channels, which for every layer but the first are the previous layer's filters; our DeepSets
detector (``earlybias.weights.detectors``) is invariant to both.

For an MLP zoo the detector reads the hidden layer the same way: each unit is a "filter" whose
input channels are the three colours and whose "positions" are the 64 pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from earlybias.weights.detectors import _NetDetector
from earlybias.weights.features import layer_names, layer_view

__all__ = ["IFBiDDetector"]


class _KernelBlocks(nn.Module):
    """One block per layer: h = max_f ReLU(B max_p ReLU(A w[f, :, p])), then a dense layer."""

    def __init__(self, in_channels: list[int], width: int, n_classes: int):
        super().__init__()
        self.first = nn.ModuleList(nn.Linear(c, width) for c in in_channels)
        self.second = nn.ModuleList(nn.Linear(width, width) for _ in in_channels)
        self.head = nn.Linear(width * len(in_channels), n_classes)

    def forward(self, *kernels: torch.Tensor) -> torch.Tensor:
        out = []
        for w, first, second in zip(kernels, self.first, self.second):
            h = torch.relu(first(w))  # w: (batch, filters, positions, channels)
            h = torch.relu(second(h.amax(2)))  # max over the kernel's positions
            out.append(h.amax(1))  # max over the filters
        return self.head(torch.cat(out, dim=1))


@dataclass(repr=False, eq=False, kw_only=True)
class IFBiDDetector(_NetDetector):
    """The paper's detector over the raw kernels of every layer but the readout (``width`` units in
    each 1 x 1 layer). Training as for ``DeepSetsDetector``: AdamW, ``epochs`` epochs of
    mini-batches of ``batch_size`` models, seeded."""

    width: int = 32

    def _inputs(self, params) -> list[torch.Tensor]:
        # (models, filters, positions, input channels): the channels are the 1 x 1 layer's input.
        return [layer_view(params, layer).transpose(2, 3) for layer in layer_names(params)[:-1]]

    def _network(self, dims: list[int], n_classes: int) -> nn.Module:
        return _KernelBlocks(dims, self.width, n_classes)
