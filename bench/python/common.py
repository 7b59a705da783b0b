"""The shared half of the PyTorch eager reference scripts: exp's random streams and batch order,
the digits data with exactly exp's train split, the arguments every script takes, AdamW as exp
configures it, the timed training loop and the JSON report the harness reads.

Each model script (mlp.py, convnet.py, gpt.py, unet.py) defines an idiomatic `nn.Module` whose
state-dict keys match exp's checkpoint keys and loads it from the initial weights exp wrote, so
both sides start from the same initialisation. The digits scripts call `main` with a function
that builds their model; gpt.py and unet.py bring their own data and loss to `train`.

The split and the batch order are exact ports of exp's SplitMix64 `Rng`
(plugins/api/src/sdk.rs), `split_indices` (plugins/std/src/dataset/digits.rs) and the training
loop's `BatchOrder` (runtime/src/nodes/train.rs): every step sees the same examples in both.
The batch indices are computed before timing starts, a small advantage to PyTorch: exp draws
each epoch's permutation inside its timed step.
"""

import argparse
import gzip
import json
import math
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

MASK = (1 << 64) - 1


class Rng:
    """SplitMix64, as exp's `Rng`; Python integers are masked to emulate u64 wrap-around."""

    def __init__(self, seed):
        self.state = seed & MASK

    def next_u64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def permutation(self, n):
        """A permutation of range(n) (Fisher-Yates), as `Rng::permutation`."""
        order = list(range(n))
        for i in range(n - 1, 0, -1):
            j = self.next_u64() % (i + 1)
            order[i], order[j] = order[j], order[i]
        return order


def load_digits(path):
    """Pixel rows (float32, 0-16) and integer labels from the shipped CSV."""
    with gzip.open(path, "rt") as file:
        rows = [line.split(",") for line in file if line.strip()]
    values = np.array(rows, dtype=np.float32)
    return values[:, :64], values[:, 64].astype(np.int64)


def split_indices(labels, test_fraction, seed):
    """Stratified split, as exp's `split_indices`: sorted train and test indices."""
    rng = Rng(seed)
    train, test = [], []
    for cls in range(10):
        members = [idx for idx, label in enumerate(labels) if label == cls]
        order = rng.permutation(len(members))
        # Rust's f64::round rounds halves away from zero; Python's round() does not.
        n_test = math.floor(len(members) * test_fraction + 0.5)
        for rank, position in enumerate(order):
            (test if rank < n_test else train).append(members[position])
    return sorted(train), sorted(test)


def batch_order(seed, examples, batch, steps):
    """The indices of every step's batch, as the training loop's `BatchOrder`."""
    rng = Rng(seed)
    epoch, position, batches = [], 0, []
    for _ in range(steps):
        if position >= len(epoch):
            epoch, position = rng.permutation(examples), 0
        end = min(position + batch, len(epoch))
        batches.append(epoch[position:end])
        position = end
    return batches


def batch_indices(seed, examples, batch, steps):
    """`batch_order` as int64 tensors, ready for `index_select`."""
    return [torch.tensor(b, dtype=torch.int64)
            for b in batch_order(seed, examples, batch, steps)]


def parser(description, batch, steps, warmup, weight_decay):
    """The arguments every script takes (the train node's, exp's thread count, the initial
    weights), with the script's defaults; a script adds its own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--weights", help="initial weights (exp's checkpoints/<model>.safetensors)")
    parser.add_argument("--batch", type=int, default=batch)
    parser.add_argument("--steps", type=int, default=steps)
    parser.add_argument("--warmup", type=int, default=warmup, help="steps left out of the timing")
    parser.add_argument("--seed", type=int, default=1, help="the train node's seed")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=weight_decay)
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--log-every", type=int, default=1, help="steps between logged losses")
    return parser


def load_strict(model, path):
    """Loads exp's initial weights into `model`, which must have exactly exp's tensors: the
    same checkpoint keys with the same shapes, or the script stops and says which differ."""
    weights = load_file(path)
    ours = model.state_dict()
    missing = sorted(set(ours) - set(weights))
    unexpected = sorted(set(weights) - set(ours))
    shapes = [f"{key}: exp {tuple(weights[key].shape)}, here {tuple(ours[key].shape)}"
              for key in sorted(set(ours) & set(weights))
              if weights[key].shape != ours[key].shape]
    if missing or unexpected or shapes:
        raise SystemExit(
            f"{path} does not hold this model's tensors: missing {missing}, unexpected "
            f"{unexpected}, other shapes {shapes}")
    model.load_state_dict(weights, strict=True)
    return model


def adamw(model, args, decays=lambda name: True):
    """`torch.optim.AdamW` as exp's `adamw` (β 0.9 and 0.999, ε 1e-8), decaying only the
    parameters `decays` names, as exp leaves alone those its model exempts."""
    params = dict(model.named_parameters())
    groups = [
        {"params": [p for n, p in params.items() if decays(n)], "weight_decay": args.weight_decay},
        {"params": [p for n, p in params.items() if not decays(n)], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW([group for group in groups if group["params"]], lr=args.lr,
                             betas=(0.9, 0.999), eps=1e-8)


def train(step, batches, warmup, log_every):
    """Calls `step(batch)` (one optimizer step; it returns the loss) on every batch and times
    each call. Returns the seconds of the steps after the first `warmup`, the seconds of those
    warm-up steps together, and the loss every `log_every` steps and at the last, by step
    (read after the step's timing ends)."""
    step_seconds, warmup_seconds, losses = [], 0.0, {}
    for done, batch in enumerate(batches, start=1):
        started = time.perf_counter()
        loss = step(batch)
        elapsed = time.perf_counter() - started
        if done > warmup:
            step_seconds.append(elapsed)
        else:
            warmup_seconds += elapsed
        if done % log_every == 0 or done == len(batches):
            losses[str(done)] = loss.item()
    if not step_seconds:
        raise SystemExit("no timed steps: --steps must exceed --warmup")
    return step_seconds, warmup_seconds, losses


def report(step_seconds, losses, **extra):
    """Prints the one JSON object the harness reads: step times, losses and `extra`."""
    print(json.dumps({
        "step_seconds_median": statistics.median(step_seconds),
        "step_seconds_mean": statistics.fmean(step_seconds),
        "timed_steps": len(step_seconds),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "losses": losses,
        **extra,
    }))


def main(build_model):
    """Trains `build_model(initial_weights)` on the digits as exp's train node does and prints
    JSON timings."""
    args = digits_arguments()
    images, labels = load_digits(args.data)
    train_rows, test_rows = split_indices(labels.tolist(), args.test_fraction, args.split_seed)
    if args.print_split:
        print(json.dumps({"train": train_rows, "test": test_rows}))
        return
    torch.set_num_threads(args.threads)
    x = torch.from_numpy(images[train_rows] / np.float32(16.0))
    y = torch.from_numpy(labels[train_rows])
    batches = batch_indices(args.seed, len(train_rows), args.batch, args.steps)

    model = build_model(load_file(args.weights))
    optimizer = adamw(model, args)
    model.train()

    def step(index):
        xb, yb = x.index_select(0, index), y.index_select(0, index)
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        optimizer.step()
        return loss

    step_seconds, _, losses = train(step, batches, args.warmup, args.log_every)
    examples = sum(len(index) for index in batches[args.warmup:])
    report(step_seconds, losses, examples_per_second=examples / sum(step_seconds))


def digits_arguments():
    parser_ = parser(__doc__.splitlines()[0], batch=512, steps=300, warmup=20,
                     weight_decay=0.01)
    parser_.add_argument("--data", required=True, help="digits.csv.gz")
    parser_.add_argument("--test-fraction", type=float, default=0.2)
    parser_.add_argument("--split-seed", type=int, default=0)
    parser_.add_argument("--print-split", action="store_true",
                         help="print the train/test split as JSON and exit")
    return parser_.parse_args()
