"""PyTorch (CPU) side of the analyze-stage speed comparison: the forward passes that variant
scoring and saturation mutagenesis need, on the same architectures as torch_models.py.

variants: for each variant a reference and an alternative window (an SNV at the centre),
          forward in eval mode under torch.no_grad(), batches of --batch; with --rc-average
          also both reverse complements (4 passes per variant).
ism:      for each 1000 bp sequence its 3 x L single-base mutants (and the reference),
          forward in batches of --batch.

Only the network is timed (the windows are built before timing), so the figures are an upper
bound of the speed of a PyTorch tool doing the same job.

Example (from the repository root):
    benches/.venv-torch/bin/python benches/python/torch_analysis.py variants \
        --model deepsea --variants 512 --threads 2 --json out.json
"""

import argparse
import json
import os
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import build  # noqa: E402


def one_hot(idx):
    return nn.functional.one_hot(idx, 4).to(torch.float32).transpose(1, 2).contiguous()


def forward_all(model, x, batch):
    out = []
    for i in range(0, x.shape[0], batch):
        out.append(torch.sigmoid(model(x[i:i + batch])))
    return torch.cat(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["variants", "ism"])
    ap.add_argument("--model", choices=["deepsea", "danq"], required=True)
    ap.add_argument("--variants", type=int, default=512)
    ap.add_argument("--sequences", type=int, default=1)
    ap.add_argument("--rc-average", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--targets", type=int, default=919)
    ap.add_argument("--window", type=int, default=1000)
    ap.add_argument("--json", default=None)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    model, _ = build(a.model, a.targets, a.window)
    model.eval()
    L, h = a.window, a.window // 2
    with torch.no_grad():
        model(one_hot(torch.randint(0, 4, (a.batch, L), generator=gen)))  # warm-up
        if a.mode == "variants":
            ref = torch.randint(0, 4, (a.variants, L), generator=gen)
            alt = ref.clone()
            alt[:, h] = (alt[:, h] + torch.randint(1, 4, (a.variants,), generator=gen)) % 4
            xr, xa = one_hot(ref), one_hot(alt)
            t0 = time.perf_counter()
            p, q = forward_all(model, xr, a.batch), forward_all(model, xa, a.batch)
            if a.rc_average:
                p = (p + forward_all(model, xr.flip(1, 2), a.batch)) / 2
                q = (q + forward_all(model, xa.flip(1, 2), a.batch)) / 2
            float((q - p).abs().max())
            s = time.perf_counter() - t0
            res = {"variants_per_s": a.variants / s, "seconds": s}
        else:
            t0 = time.perf_counter()
            for _ in range(a.sequences):
                seq = torch.randint(0, 4, (L,), generator=gen)
                mut = seq.repeat(3 * L + 1, 1)
                for pos in range(L):
                    for k in range(3):
                        mut[1 + 3 * pos + k, pos] = (seq[pos] + 1 + k) % 4
                logits = []
                x = one_hot(mut)
                for i in range(0, x.shape[0], a.batch):
                    logits.append(model(x[i:i + a.batch]))
                logits = torch.cat(logits)
                float((logits[1:] - logits[:1]).abs().max())
            s = time.perf_counter() - t0
            res = {"seconds_per_sequence": s / a.sequences, "seconds": s}
    res.update({"model": a.model, "mode": a.mode, "threads": a.threads, "batch": a.batch,
                "rc_average": a.rc_average, "torch_version": torch.__version__})
    print(json.dumps(res))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f)


if __name__ == "__main__":
    main()
