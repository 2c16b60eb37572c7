"""PyTorch reference fixture for the ferrosea optimizer / scheduler / loss tests.

This script uses PyTorch (CPU, float32 tensors) as the ground truth for the
Rust implementations in crates/train: it runs SGD (plain, momentum, Nesterov,
dampening, weight decay), RMSprop (plain, weight decay, momentum), Adam and
AdamW for 5 steps on two fixed parameters (shapes [3, 4] and [4]) whose
initial values and per-step gradients come from numpy's default_rng(7)
(standard normal cast to float32; the gradients are assigned directly to
p.grad, there is no model or loss), records the StepLR and ReduceLROnPlateau
learning-rate sequences, and evaluates binary_cross_entropy_with_logits on
extreme and ordinary logits.  Everything is written to
crates/train/tests/fixtures/optim_torch.json; every float32 value is
written as the float64 that represents it exactly (shortest round-trip repr),
so parsing to f64 and casting to f32 recovers the torch value bit for bit.
Rerun it from the repository root with
`benches/.venv-torch/bin/python crates/train/tests/python/optim_reference.py`
(the venv holds a PyTorch install; see benches/.venv-torch/, which is git-ignored).
"""

import json
import os

import numpy as np
import torch

SEED = 7
SHAPES = [[3, 4], [4]]
STEPS = 5

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "fixtures", "optim_torch.json"))

CASES = [
    ("sgd", "SGD", dict(lr=0.1)),
    ("sgd_momentum", "SGD", dict(lr=0.1, momentum=0.9)),
    ("sgd_nesterov_wd", "SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("sgd_dampening_wd", "SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.001)),
    ("rmsprop", "RMSprop", dict(lr=0.01, alpha=0.99, eps=1e-8)),
    ("rmsprop_wd", "RMSprop", dict(lr=0.001, alpha=0.9, eps=1e-6, weight_decay=0.01)),
    ("rmsprop_momentum", "RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-8, momentum=0.5)),
    ("adam", "Adam", dict(lr=0.01)),
    ("adam_betas_wd", "Adam", dict(lr=0.01, betas=(0.8, 0.95), eps=1e-7, weight_decay=0.01)),
    ("adamw", "AdamW", dict(lr=0.01, weight_decay=0.01)),
    ("adamw_betas_wd", "AdamW", dict(lr=0.003, betas=(0.9, 0.99), weight_decay=0.1)),
]


def flat(t):
    """float32 tensor/array -> list of Python floats (exact float64 of each f32)."""
    return [float(x) for x in np.asarray(t, dtype=np.float32).reshape(-1)]


def make_inputs():
    rng = np.random.default_rng(SEED)
    init = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(STEPS)]
    return init, grads


def run_case(name, opt_name, hyper, init, grads):
    params = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in init]
    opt = getattr(torch.optim, opt_name)(params, **hyper)
    expected = []
    for step_grads in grads:
        opt.zero_grad(set_to_none=True)
        for p, g in zip(params, step_grads):
            p.grad = torch.from_numpy(g.copy())
        opt.step()
        expected.append([flat(p.detach().numpy()) for p in params])
    return {
        "name": name,
        "optimizer": opt_name.lower(),
        "hyper": {k: (list(v) if isinstance(v, tuple) else v) for k, v in hyper.items()},
        "shapes": SHAPES,
        "init": [flat(a) for a in init],
        "grads": [[flat(g) for g in step] for step in grads],
        "expected": expected,
    }


def dummy_optimizer(lr):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def step_schedule():
    hyper = {"step_size": 2, "gamma": 0.5}
    base_lr, epochs = 0.1, 7
    opt = dummy_optimizer(base_lr)
    sched = torch.optim.lr_scheduler.StepLR(opt, **hyper)
    lrs = []
    for _ in range(epochs):
        lrs.append(float(opt.param_groups[0]["lr"]))  # lr used during this epoch
        opt.step()
        sched.step()
    return {"name": "step", "kind": "StepLR", "hyper": hyper, "base_lr": base_lr,
            "epochs": epochs, "lrs": lrs}


def plateau_schedule():
    hyper = {"mode": "min", "factor": 0.1, "patience": 2, "threshold": 1e-4,
             "threshold_mode": "rel", "cooldown": 1, "min_lr": 1e-5}
    base_lr = 0.1
    val_losses = [1.0, 0.9, 0.9, 0.9, 0.9, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85,
                  0.2, 0.2, 0.2, 0.2, 0.2]
    opt = dummy_optimizer(base_lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **hyper)
    lrs = []
    for v in val_losses:
        opt.step()
        sched.step(v)
        lrs.append(float(opt.param_groups[0]["lr"]))  # lr in effect after step(v)
    return {"name": "plateau", "kind": "ReduceLROnPlateau", "hyper": hyper,
            "base_lr": base_lr, "val_losses": val_losses, "lrs": lrs}


def bce_with_logits():
    base = [-1000.0, -50.0, -3.0, -0.5, 0.0, 0.5, 3.0, 50.0, 1000.0]
    logits = [x for x in base for _ in (0, 1)]
    targets = [t for _ in base for t in (0.0, 1.0)]
    x = torch.tensor(logits, dtype=torch.float32)
    y = torch.tensor(targets, dtype=torch.float32)
    F = torch.nn.functional
    mean = F.binary_cross_entropy_with_logits(x, y, reduction="mean")
    per = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    return {"logits": flat(x.numpy()), "targets": flat(y.numpy()),
            "mean": float(mean.item()), "per_element": flat(per.numpy())}


def dumps(obj, level=0):
    """JSON with indent 1, but lists of plain numbers kept on a single line."""
    pad, pad1 = " " * level, " " * (level + 1)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{pad1}{json.dumps(k)}: {dumps(v, level + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list):
        if all(isinstance(v, (int, float, str, bool)) or v is None for v in obj):
            return "[" + ", ".join(json.dumps(v) for v in obj) + "]"
        items = [pad1 + dumps(v, level + 1) for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(obj)


def main():
    torch.manual_seed(0)
    init, grads = make_inputs()
    fixture = {
        "generator": "crates/train/tests/python/optim_reference.py",
        "torch_version": torch.__version__,
        "numpy_seed": SEED,
        "dtype": "float32",
        "cases": [run_case(n, o, h, init, grads) for n, o, h in CASES],
        "schedules": [step_schedule(), plateau_schedule()],
        "bce_with_logits": bce_with_logits(),
    }
    text = dumps(fixture) + "\n"
    json.loads(text)  # sanity: valid JSON
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write(text)
    print(f"wrote {OUT} ({len(text)} bytes, {len(fixture['cases'])} optimizer cases)")


if __name__ == "__main__":
    main()
