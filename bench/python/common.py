"""The shared half of the PyTorch eager reference scripts: the digits data with exactly exp's
train split, exp's batch order, and the timed training loop.

Each model script (mlp.py, convnet.py) defines an idiomatic `nn.Module` whose state-dict keys
match exp's checkpoint keys, and calls `main` with a function that builds it from the initial
weights exp wrote, so both sides start from the same initialisation.

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


def arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="digits.csv.gz")
    parser.add_argument("--weights", help="initial weights (exp's checkpoints/<model>.safetensors)")
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20, help="steps left out of the timing")
    parser.add_argument("--seed", type=int, default=1, help="the train node's seed")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--log-every", type=int, default=100)
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--print-split", action="store_true",
                        help="print the train/test split as JSON and exit")
    return parser.parse_args()


def main(build_model):
    """Trains `build_model(initial_weights)` as exp's train node does and prints JSON timings."""
    args = arguments()
    images, labels = load_digits(args.data)
    train, test = split_indices(labels.tolist(), args.test_fraction, args.split_seed)
    if args.print_split:
        print(json.dumps({"train": train, "test": test}))
        return
    torch.set_num_threads(args.threads)
    x = torch.from_numpy(images[train] / np.float32(16.0))
    y = torch.from_numpy(labels[train])
    batches = [torch.tensor(b, dtype=torch.int64)
               for b in batch_order(args.seed, len(train), args.batch, args.steps)]

    model = build_model(load_file(args.weights))
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.999),
                                  eps=1e-8, weight_decay=args.weight_decay)
    model.train()
    step_seconds, losses, examples = [], {}, 0
    for step, index in enumerate(batches):
        started = time.perf_counter()
        xb, yb = x.index_select(0, index), y.index_select(0, index)
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        optimizer.step()
        elapsed = time.perf_counter() - started
        done = step + 1
        if done > args.warmup:
            step_seconds.append(elapsed)
            examples += len(index)
        if done % args.log_every == 0 or done == args.steps:
            losses[str(done)] = loss.item()
    if not step_seconds:
        raise SystemExit("no timed steps: --steps must exceed --warmup")
    print(json.dumps({
        "step_seconds_median": statistics.median(step_seconds),
        "step_seconds_mean": statistics.fmean(step_seconds),
        "examples_per_second": examples / sum(step_seconds),
        "timed_steps": len(step_seconds),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "losses": losses,
    }))
