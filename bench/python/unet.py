"""PyTorch eager reference for exp's `unet` (plugins/diffusion/src/model/unet.rs): a small
caption-conditioned U-Net trained to predict the noise ε of DDPM, op for op, on batches shaped
like the `shapes` images.

The network (unet/network.rs): `conv_in`; per level a residual block (GroupNorm, SiLU, 3×3
conv, then GroupNorm scaled and shifted per channel by a FiLM of the conditioning,
h·(1 + scale) + shift, SiLU, 3×3 conv, plus the input or its 1×1 `skip` where the channels
change) and, on the way down, a stride-2 3×3 `downsample` below every level but the deepest;
a `mid` block; on the way up, each level's block reads what comes from below concatenated with
the down block's output at that level, then a nearest ×2 upsampling and a 3×3 `upsample`
conv above every level but the shallowest; `norm_out`, SiLU, `conv_out`. Level i has
`width·multipliers[i]` channels. The conditioning is SiLU of the time embedding (diffusers'
sinusoid, cos then sin, ω_k = 10000^(−k/(width/2)), through `linear_1`, SiLU, `linear_2`) plus
one row of each caption attribute's table, whose last row means "none". Group norms have ε 1e-5.

The loss (unet.rs): per example t ~ U{0..T−1}, ε ~ N(0, I), and with probability
`condition_dropout` the caption replaced by "none"; x_t = √ᾱ_t·x_0 + √(1 − ᾱ_t)·ε with the
linear β schedule (1e-4 to 0.02, ᾱ in float64, the coefficients cast to float32); the loss is
the mean squared error between the predicted and the true ε. AdamW decays every tensor but the
biases, the norms and the caption tables (exp's `UNet::no_decay`).

The model is built from the configuration the harness passes (and the dataset's image shape and
attribute sizes), then given exp's initial weights by checkpoint key: a key or a shape that
differs stops the script, so both sides train exactly the same network.

Not the same inputs: exp draws its images from the Rust `shapes` generator and t, ε and the
dropout from its own Rust random stream, which this script does not port. It draws its own with
torch: a pool of `--examples` images uniform in [−1, 1] with targets in range, batches of the
same size in exp's batch order (common.py), and t, ε and the dropout per step. Step time,
throughput and memory compare like for like; the losses only in magnitude (both start near the
ε-prediction loss of an untrained network, about 1).
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

import common

# The sinusoid's base period and the group norms' ε (network.rs, layers.rs).
MAX_PERIOD = 10000.0
GROUP_NORM_EPS = 1e-5
# The embedding is this many times the base width (plan.rs).
EMBEDDING_FACTOR = 4
# β of the linear schedule (schedule.rs).
LINEAR_BETAS = (1e-4, 0.02)


def conv(inputs, outputs, kernel=3, stride=1):
    return nn.Conv2d(inputs, outputs, kernel, stride=stride, padding=kernel // 2)


class ResBlock(nn.Module):
    def __init__(self, inputs, outputs, embedding, groups):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, inputs, eps=GROUP_NORM_EPS)
        self.conv1 = conv(inputs, outputs)
        self.film = nn.Linear(embedding, 2 * outputs)
        self.norm2 = nn.GroupNorm(groups, outputs, eps=GROUP_NORM_EPS)
        self.conv2 = conv(outputs, outputs)
        self.skip = conv(inputs, outputs, kernel=1) if inputs != outputs else None

    def forward(self, x, conditioning):
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(conditioning)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(F.silu(h))
        return (x if self.skip is None else self.skip(x)) + h


class Level(nn.Module):
    """A level of one path: its block, then its resampling convolution (`downsample` or
    `upsample`), if any."""

    def __init__(self, block, resample_name=None, channels=0):
        super().__init__()
        self.block = block
        self.resample_name = resample_name
        if resample_name:
            stride = 2 if resample_name == "downsample" else 1
            setattr(self, resample_name, conv(channels, channels, stride=stride))

    def resample(self, h):
        if self.resample_name == "upsample":
            h = F.interpolate(h, scale_factor=2.0, mode="nearest")
        return getattr(self, self.resample_name)(h) if self.resample_name else h


class TimeEmbedding(nn.Module):
    def __init__(self, width, embedding):
        super().__init__()
        half = width // 2
        exponents = torch.arange(half, dtype=torch.float64) / half
        self.register_buffer("frequencies", torch.exp(-math.log(MAX_PERIOD) * exponents).float(),
                             persistent=False)
        self.linear_1 = nn.Linear(width, embedding)
        self.linear_2 = nn.Linear(embedding, embedding)

    def forward(self, timesteps):
        angles = timesteps.float()[:, None] * self.frequencies[None]
        features = torch.cat([angles.cos(), angles.sin()], dim=1)
        return self.linear_2(F.silu(self.linear_1(features)))


class UNet(nn.Module):
    def __init__(self, image_channels, width, multipliers, groups, values):
        super().__init__()
        channels = [width * multiplier for multiplier in multipliers]
        levels = len(channels)
        embedding = EMBEDDING_FACTOR * width
        block = lambda inputs, outputs: ResBlock(inputs, outputs, embedding, groups)
        self.conv_in = conv(image_channels, width)
        self.time_embedding = TimeEmbedding(width, embedding)
        self.caption = nn.ModuleList(nn.Embedding(count + 1, embedding) for count in values)
        self.down = nn.ModuleList(
            Level(block(width if level == 0 else channels[level - 1], channels[level]),
                  "downsample" if level + 1 < levels else None, channels[level])
            for level in range(levels))
        self.mid = Level(block(channels[-1], channels[-1]))
        # Indexed by level, so the keys are exp's (`up.1` is the deepest of two); run deepest
        # first.
        self.up = nn.ModuleList(
            Level(block(channels[min(level + 1, levels - 1)] + channels[level], channels[level]),
                  "upsample" if level > 0 else None, channels[level])
            for level in range(levels))
        self.norm_out = nn.GroupNorm(groups, width, eps=GROUP_NORM_EPS)
        self.conv_out = conv(width, image_channels)

    def forward(self, x, timesteps, rows):
        """The predicted noise of `x` at `timesteps` under the caption tables' `rows`
        (int64 `[batch, attributes]`)."""
        embedding = self.time_embedding(timesteps)
        for attribute, table in enumerate(self.caption):
            embedding = embedding + table(rows[:, attribute])
        conditioning = F.silu(embedding)
        h = self.conv_in(x)
        skips = []
        for level in self.down:
            h = level.block(h, conditioning)
            skips.append(h)
            h = level.resample(h)
        h = self.mid.block(h, conditioning)
        for level, skip in zip(reversed(self.up), reversed(skips)):
            h = level.resample(level.block(torch.cat([h, skip], dim=1), conditioning))
        return self.conv_out(F.silu(self.norm_out(h)))


def decays(name):
    """exp's `UNet::no_decay`, negated: every tensor but biases, norms and caption tables."""
    return not (name.endswith(".bias") or "norm" in name or name.startswith("caption."))


def linear_schedule(timesteps):
    """√ᾱ_t and √(1 − ᾱ_t) for t in 0..T under the linear schedule, in float64."""
    betas = torch.linspace(*LINEAR_BETAS, timesteps, dtype=torch.float64)
    alphas_cumprod = torch.cumprod(1 - betas, dim=0)
    return alphas_cumprod.sqrt(), (1 - alphas_cumprod).sqrt()


def arguments():
    parser = common.parser(__doc__.splitlines()[0], batch=64, steps=30, warmup=1,
                           weight_decay=0.01)
    parser.add_argument("--examples", type=int, required=True,
                        help="images in the pool batches are drawn from (exp's train split)")
    parser.add_argument("--channels", type=int, default=3, help="image channels")
    parser.add_argument("--size", type=int, default=16, help="side of the square images")
    parser.add_argument("--values", type=lambda text: [int(v) for v in text.split(",")],
                        default=[4, 4, 2], help="values of each caption attribute")
    parser.add_argument("--width", type=int, required=True)
    parser.add_argument("--multipliers", type=lambda text: [int(v) for v in text.split(",")],
                        required=True)
    parser.add_argument("--groups", type=int, required=True)
    parser.add_argument("--timesteps", type=int, required=True)
    parser.add_argument("--schedule", choices=["linear"], required=True,
                        help="the β schedule (only exp's `linear` is ported)")
    parser.add_argument("--condition-dropout", type=float, required=True)
    return parser.parse_args()


def main():
    args = arguments()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    images = torch.rand(args.examples, args.channels, args.size, args.size) * 2 - 1
    targets = torch.stack([torch.randint(0, count, (args.examples,)) for count in args.values],
                          dim=1)
    none_rows = torch.tensor(args.values, dtype=torch.int64)
    batches = common.batch_indices(args.seed, args.examples, args.batch, args.steps)
    signal, spread = linear_schedule(args.timesteps)

    model = UNet(args.channels, args.width, args.multipliers, args.groups, args.values)
    common.load_strict(model, args.weights)
    optimizer = common.adamw(model, args, decays)
    model.train()

    def step(index):
        x0, y = images.index_select(0, index), targets.index_select(0, index)
        batch = len(index)
        t = torch.randint(0, args.timesteps, (batch,))
        dropped = torch.rand(batch) < args.condition_dropout
        noise = torch.randn_like(x0)
        # An unlabelled attribute (−100) or a dropped caption reads the "none" row.
        rows = torch.where((y < 0) | dropped[:, None], none_rows, y)
        per_example = (batch, 1, 1, 1)
        noisy = (x0 * signal[t].float().view(per_example)
                 + noise * spread[t].float().view(per_example))
        optimizer.zero_grad(set_to_none=True)
        loss = F.mse_loss(model(noisy, t, rows), noise)
        loss.backward()
        optimizer.step()
        return loss

    step_seconds, _, losses = common.train(step, batches, args.warmup, args.log_every)
    examples = sum(len(index) for index in batches[args.warmup:])
    common.report(step_seconds, losses,
                  examples_per_second=examples / sum(step_seconds),
                  parameters=sum(p.numel() for p in model.parameters()))


if __name__ == "__main__":
    main()
