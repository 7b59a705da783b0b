"""PyTorch eager reference for exp's `convnet`: 3x3 convolutions (padding 1) with ReLU, a 2x2
max-pool and a linear head; keys `convs.{i}.weight/bias`, `head.weight/bias`, sized from the
initial weights exp wrote."""

import math

import torch.nn as nn
import torch.nn.functional as F

import common


class ConvNet(nn.Module):
    def __init__(self, channels, side, classes):
        super().__init__()
        widths = [1] + channels
        self.convs = nn.ModuleList(
            nn.Conv2d(c_in, c_out, 3, padding=1) for c_in, c_out in zip(widths, widths[1:]))
        self.head = nn.Linear(channels[-1] * (side // 2) ** 2, classes)
        self.side = side

    def forward(self, x):
        x = x.view(-1, 1, self.side, self.side)
        for conv in self.convs:
            x = F.relu(conv(x))
        x = F.max_pool2d(x, 2)
        return self.head(x.flatten(1))


def build(weights):
    n_convs = sum(1 for key in weights if key.startswith("convs.") and key.endswith(".weight"))
    channels = [weights[f"convs.{idx}.weight"].shape[0] for idx in range(n_convs)]
    classes, features = weights["head.weight"].shape
    side = 2 * math.isqrt(features // channels[-1])
    model = ConvNet(channels, side, classes)
    model.load_state_dict(weights, strict=True)
    return model


if __name__ == "__main__":
    common.main(build)
