"""PyTorch eager reference for exp's `gpt` (plugins/text/src/gpt), trained on one text file read
through exp's `bytes` tokenizer and packed as exp packs it.

The model is nanoGPT's shape with exp's names and operations, op for op: token embedding plus the
first T rows of `wpe`; pre-LN blocks whose `c_attn` output is split into q, k and v and viewed as
heads, causal `scaled_dot_product_attention`, exact (erf) GELU; `ln_f`; a head tied to `wte`; mean
cross-entropy over the targets. Keys are exp's checkpoint keys (`wte.weight`, `h.0.attn.c_attn.weight`,
..), and the model is loaded from the initial weights exp wrote.

The data are exp's, ported: the `bytes` tokenizer gives the special tokens ids 0..k and the 256
bytes the ids k..k+256 in the order of their GPT-2 byte-level characters (plugins/text/src/
tokenizer/byte_level.rs), checked against the `tokenizer.json` exp wrote; the document is followed by
the end-of-text token (id 0) and cut into windows of `context` that overlap by one token
(runtime/src/text/packing/causal.rs); the training split drops the tail. Batches are windows in
exp's `BatchOrder` (common.py).

AdamW: decay on the blocks' projection matrices only (exp's `gpt::decays`), not on embeddings, norms
or biases; PyTorch's default single-tensor loop. With --compile the model's forward and loss go
through `torch.compile` (the optimizer stays eager); the steps before --warmup, where compilation
happens, are left out of the timing and the compile time is reported on its own.
"""

import json
import statistics

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file

import common


def bytes_to_unicode():
    """GPT-2's map from each byte to a printable character (the byte-level pre-tokenizer's)."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, chars)))


def byte_ids(n_special):
    """The id of each byte under exp's `bytes` tokenizer: specials first, then the 256 byte
    tokens ordered by their byte-level character."""
    table = bytes_to_unicode()
    order = sorted(table.values())
    rank = {char: index for index, char in enumerate(order)}
    return np.array([n_special + rank[table[byte]] for byte in range(256)], dtype=np.int64)


def check_tokenizer(path, ids):
    """The ids this port gives every byte must be the ones in the tokenizer.json exp wrote."""
    with open(path, encoding="utf-8") as file:
        vocab = json.load(file)["model"]["vocab"]
    table = bytes_to_unicode()
    for byte in range(256):
        if vocab[table[byte]] != ids[byte]:
            raise SystemExit(f"byte {byte}: exp's tokenizer says {vocab[table[byte]]}, "
                             f"this port {ids[byte]}")


class Attention(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.c_attn = nn.Linear(width, 3 * width)
        self.c_proj = nn.Linear(width, width)
        self.heads = heads

    def forward(self, x):
        batch, time_, width = x.shape
        heads = lambda part: part.view(batch, time_, self.heads, width // self.heads).transpose(1, 2)
        query, key, value = (heads(part) for part in self.c_attn(x).split(width, dim=2))
        y = F.scaled_dot_product_attention(query, key, value, is_causal=True)
        return self.c_proj(y.transpose(1, 2).reshape(batch, time_, width))


class Mlp(nn.Module):
    def __init__(self, width, hidden):
        super().__init__()
        self.c_fc = nn.Linear(width, hidden)
        self.c_proj = nn.Linear(hidden, width)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, width, heads, hidden):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width, eps=1e-5)
        self.attn = Attention(width, heads)
        self.ln_2 = nn.LayerNorm(width, eps=1e-5)
        self.mlp = Mlp(width, hidden)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class Gpt(nn.Module):
    def __init__(self, vocab, context, width, depth, heads, hidden):
        super().__init__()
        self.wte = nn.Embedding(vocab, width)
        self.wpe = nn.Embedding(context, width)
        self.h = nn.ModuleList(Block(width, heads, hidden) for _ in range(depth))
        self.ln_f = nn.LayerNorm(width, eps=1e-5)

    def forward(self, ids, targets):
        """Mean cross-entropy of the next-token logits against `targets`."""
        x = self.wte(ids) + self.wpe.weight[: ids.shape[1]]
        for block in self.h:
            x = block(x)
        logits = F.linear(self.ln_f(x), self.wte.weight)
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1),
                               ignore_index=-100)


def decays(name):
    """exp's `gpt::decays`: projection matrices of the blocks only."""
    return (name.startswith("h.") and name.endswith(".weight")
            and (".attn." in name or ".mlp." in name))


def build(weights, heads):
    vocab, width = weights["wte.weight"].shape
    context = weights["wpe.weight"].shape[0]
    depth = sum(1 for key in weights if key.endswith(".attn.c_attn.weight"))
    hidden = weights["h.0.mlp.c_fc.weight"].shape[0]
    model = Gpt(vocab, context, width, depth, heads, hidden)
    model.load_state_dict(weights, strict=True)
    return model


def arguments():
    parser = common.parser(__doc__.splitlines()[0], batch=8, steps=30, warmup=3,
                           weight_decay=0.1)
    parser.add_argument("--text", required=True, help="the one document exp trained on")
    parser.add_argument("--tokenizer", help="exp's tokenizers/<name>.json, to check the byte ids")
    parser.add_argument("--special-tokens", type=int, default=2,
                        help="special tokens before the bytes; the first is end-of-text")
    parser.add_argument("--heads", type=int, required=True)
    parser.add_argument("--compile", action="store_true", help="torch.compile the forward and loss")
    parser.add_argument("--profile", type=int, default=0,
                        help="after training, profile this many more steps (torch.profiler): "
                             "report where a step's time goes, and print the operators that "
                             "took it to stderr")
    return parser.parse_args()


def main():
    args = arguments()
    torch.set_num_threads(args.threads)
    ids = byte_ids(args.special_tokens)
    if args.tokenizer:
        check_tokenizer(args.tokenizer, ids)
    with open(args.text, "rb") as file:
        document = np.frombuffer(file.read(), dtype=np.uint8)
    eot = 0
    stream = torch.from_numpy(np.append(ids[document], eot))
    weights = load_file(args.weights)
    context = weights["wpe.weight"].shape[0]
    n_windows = (len(stream) - 1) // context
    # Row w holds stream[w·context ..= w·context + context]: inputs and targets one apart.
    windows = stream[: n_windows * context + 1].unfold(0, context + 1, context)
    batches = common.batch_indices(args.seed, n_windows, args.batch, args.steps + args.profile)

    model = build(weights, args.heads)
    optimizer = common.adamw(model, args, decays)
    loss_of = torch.compile(model) if args.compile else model
    model.train()

    def step(index):
        rows = windows.index_select(0, index)
        x, y = rows[:, :-1].contiguous(), rows[:, 1:].contiguous()
        optimizer.zero_grad(set_to_none=True)
        loss = loss_of(x, y)
        loss.backward()
        optimizer.step()
        return loss

    step_seconds, warmup_seconds, losses = common.train(step, batches[: args.steps], args.warmup,
                                                        log_every=1)
    profiled = profile(step, batches[args.steps:]) if args.profile else None
    median = statistics.median(step_seconds)
    common.report(
        step_seconds, losses,
        tokens_per_second=args.batch * context / median,
        # The warm-up steps beyond what a timed step takes: compilation, with --compile.
        compile_seconds=max(0.0, warmup_seconds - args.warmup * median) if args.compile else 0.0,
        parameters=sum(p.numel() for p in model.parameters()),
        windows=n_windows,
        profile=profiled,
    )


def profile(step, batches):
    """Where a step's time goes, from torch.profiler over a few more steps: milliseconds per
    step in matrix products (`mm`, `addmm`, `bmm`: their own time), the attention kernels, the
    optimizer (`Optimizer.step` with everything it calls) and the rest. The operators that took
    the most time go to stderr."""
    import sys

    from torch.profiler import ProfilerActivity, profile as profiler, record_function

    with profiler(activities=[ProfilerActivity.CPU]) as prof:
        for index in batches:
            with record_function("bench_step"):
                step(index)
    events = prof.key_averages()
    print(events.table(sort_by="self_cpu_time_total", row_limit=25), file=sys.stderr)
    per_step = lambda microseconds: microseconds / 1e3 / len(batches)
    total = sum(e.cpu_time_total for e in events if e.key == "bench_step")
    matmul = sum(e.self_cpu_time_total for e in events if e.key in ("aten::mm", "aten::addmm", "aten::bmm"))
    attention = sum(e.self_cpu_time_total for e in events
                    if "scaled_dot_product" in e.key or "flash_attention" in e.key)
    optimizer = sum(e.cpu_time_total for e in events if e.key.startswith("Optimizer.step"))
    return {
        "steps": len(batches),
        "step_ms": per_step(total),
        "matmul_ms": per_step(matmul),
        "attention_ms": per_step(attention),
        "optimizer_ms": per_step(optimizer),
        "other_ms": per_step(total - matmul - attention - optimizer),
    }


if __name__ == "__main__":
    main()
