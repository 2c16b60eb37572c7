"""PyTorch (CPU) side of the ferrosea speed comparison: DeepSEA, DanQ, DeepBind, Basset.

Builds the reference architectures in PyTorch (those of ferrosea's presets of the same
names), then times training steps (forward, BCEWithLogits mean loss, backward, optimizer
step: SGD lr 0.01 momentum 0.9 for DeepSEA, RMSprop lr 1e-3 for DanQ, Adam lr 1e-3 for
DeepBind, RMSprop lr 2e-3 momentum 0.98 for Basset, as the presets) and inference
batches (eval mode, torch.no_grad()) on random one-hot input with random binary
labels.  The input and labels are generated once, before timing.

Example (from the repository root):
    benches/.venv-torch/bin/python benches/python/torch_models.py \
        --model deepsea --threads 2 --batch 64 --train-steps 5 \
        --infer-batches 5 --targets 919 --window 1000 --json out.json
"""

import argparse
import json
import time

import torch
from torch import nn


class DeepSEA(nn.Module):
    def __init__(self, targets=919, window=1000):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(4, 320, 8), nn.ReLU(), nn.MaxPool1d(4, 4), nn.Dropout(0.2),
            nn.Conv1d(320, 480, 8), nn.ReLU(), nn.MaxPool1d(4, 4), nn.Dropout(0.2),
            nn.Conv1d(480, 960, 8), nn.ReLU(), nn.Dropout(0.5),
        )
        length = ((window - 7) // 4 - 7) // 4 - 7  # 53 for window 1000
        self.classifier = nn.Sequential(
            nn.Flatten(),  # 960 * 53 = 50880
            nn.Linear(960 * length, 925), nn.ReLU(),
            nn.Linear(925, targets),
        )

    def forward(self, x):  # x: (B, 4, window)
        return self.classifier(self.features(x))


class DanQ(nn.Module):
    def __init__(self, targets=919, window=1000):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv1d(4, 320, 26), nn.ReLU(), nn.MaxPool1d(13, 13), nn.Dropout(0.2),
        )
        self.steps = (window - 25) // 13  # 75 for window 1000
        self.lstm = nn.LSTM(320, 320, batch_first=True, bidirectional=True)
        self.drop = nn.Dropout(0.5)
        self.classifier = nn.Sequential(
            nn.Flatten(),  # 75 * 640 = 48000
            nn.Linear(self.steps * 640, 925), nn.ReLU(),
            nn.Linear(925, targets),
        )

    def forward(self, x):  # x: (B, 4, window)
        h = self.conv(x).transpose(1, 2)  # (B, 75, 320)
        h, _ = self.lstm(h)  # (B, 75, 640), full sequence
        return self.classifier(self.drop(h))


def deepbind(targets):
    """16 filters of 24, ReLU, a global max pool, dense 32 with dropout 0.5."""
    return nn.Sequential(
        nn.Conv1d(4, 16, 24), nn.ReLU(), nn.AdaptiveMaxPool1d(1), nn.Flatten(),
        nn.Linear(16, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, targets),
    )


def basset(targets, window):
    """Kelley et al. 2016: three valid convolutions with batch norm, ReLU and max pools
    3/4/4, two dense layers of 1000 with batch norm, ReLU and dropout 0.3."""
    length = (((window - 18) // 3 - 10) // 4 - 6) // 4  # 10 for 600 bp, 18 for 1000
    return nn.Sequential(
        nn.Conv1d(4, 300, 19), nn.BatchNorm1d(300), nn.ReLU(), nn.MaxPool1d(3),
        nn.Conv1d(300, 200, 11), nn.BatchNorm1d(200), nn.ReLU(), nn.MaxPool1d(4),
        nn.Conv1d(200, 200, 7), nn.BatchNorm1d(200), nn.ReLU(), nn.MaxPool1d(4),
        nn.Flatten(),
        nn.Linear(200 * length, 1000), nn.BatchNorm1d(1000), nn.ReLU(), nn.Dropout(0.3),
        nn.Linear(1000, 1000), nn.BatchNorm1d(1000), nn.ReLU(), nn.Dropout(0.3),
        nn.Linear(1000, targets),
    )


def build(name, targets, window):
    if name == "deepsea":
        model = DeepSEA(targets, window)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    elif name == "danq":
        model = DanQ(targets, window)
        opt = torch.optim.RMSprop(model.parameters(), lr=1e-3)
    elif name == "deepbind":
        model = deepbind(targets)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    else:
        model = basset(targets, window)
        opt = torch.optim.RMSprop(model.parameters(), lr=2e-3, momentum=0.98)
    return model, opt


def random_batch(batch, window, targets, gen):
    idx = torch.randint(0, 4, (batch, window), generator=gen)
    x = nn.functional.one_hot(idx, 4).to(torch.float32).transpose(1, 2).contiguous()
    y = torch.randint(0, 2, (batch, targets), generator=gen).to(torch.float32)
    return x, y


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=["deepsea", "danq", "deepbind", "basset"], required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--train-steps", type=int, default=5)
    ap.add_argument("--infer-batches", type=int, default=5)
    ap.add_argument("--targets", type=int, default=919)
    ap.add_argument("--window", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=2, help="untimed training steps")
    ap.add_argument("--json", default=None, help="write the figures here")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    model, opt = build(a.model, a.targets, a.window)
    loss_fn = nn.BCEWithLogitsLoss()  # mean reduction
    x, y = random_batch(a.batch, a.window, a.targets, gen)

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.detach()

    model.train()
    for _ in range(a.warmup):
        train_step()
    t0 = time.perf_counter()
    for _ in range(a.train_steps):
        loss = train_step()
    loss.item()  # make sure the work is done
    train_s = time.perf_counter() - t0

    model.eval()
    with torch.no_grad():
        model(x)  # one untimed warm-up inference batch
        t0 = time.perf_counter()
        for _ in range(a.infer_batches):
            out = model(x)
        float(out[0, 0])
        infer_s = time.perf_counter() - t0

    res = {
        "model": a.model,
        "threads": a.threads,
        "batch": a.batch,
        "train_samples_per_s": a.batch * a.train_steps / train_s,
        "infer_samples_per_s": a.batch * a.infer_batches / infer_s,
        "torch_version": torch.__version__,
        "train_steps": a.train_steps,
        "infer_batches": a.infer_batches,
        "targets": a.targets,
        "window": a.window,
        "params": sum(p.numel() for p in model.parameters()),
    }
    print(f"torch {res['torch_version']} {a.model} threads={a.threads} batch={a.batch}: "
          f"train {res['train_samples_per_s']:.2f} samples/s ({train_s / a.train_steps:.3f} s/step), "
          f"infer {res['infer_samples_per_s']:.2f} samples/s ({infer_s / a.infer_batches:.3f} s/batch)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
