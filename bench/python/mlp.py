"""PyTorch eager reference for exp's `mlp`: linear layers with ReLU between them, keys
`layers.{i}.weight/bias`, sized from the initial weights exp wrote."""

import torch.nn as nn
import torch.nn.functional as F

import common


class Mlp(nn.Module):
    def __init__(self, widths):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.Linear(fan_in, fan_out) for fan_in, fan_out in zip(widths, widths[1:]))

    def forward(self, x):
        x = x.flatten(1)
        for layer in self.layers[:-1]:
            x = F.relu(layer(x))
        return self.layers[-1](x)


def build(weights):
    n_layers = sum(1 for key in weights if key.endswith(".weight"))
    shapes = [weights[f"layers.{idx}.weight"].shape for idx in range(n_layers)]
    model = Mlp([shapes[0][1]] + [shape[0] for shape in shapes])
    model.load_state_dict(weights, strict=True)
    return model


if __name__ == "__main__":
    common.main(build)
