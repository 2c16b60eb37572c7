"""Captum's side of the attribution benchmark (benches/attribute.rs): sequences per second
of IntegratedGradients (all-zero baseline, riemann_middle) of output 0 of DeepSEA or DanQ
(the architectures of torch_models.py, random weights) on random one-hot 1000 bp windows.

    benches/.venv-torch/bin/python benches/python/captum_attribute.py MODEL THREADS SEQUENCES STEPS PASS

Prints the figure on stdout.
"""
import os
import sys
import time

import torch
from captum.attr import IntegratedGradients

sys.path.insert(0, os.path.dirname(__file__))
from torch_models import build  # noqa: E402


def main():
    model, threads, sequences, steps, batch = sys.argv[1], *map(int, sys.argv[2:6])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    net, _ = build(model, 919, 1000)
    net.eval()
    gen = torch.Generator().manual_seed(7)
    idx = torch.randint(0, 4, (sequences, 1000), generator=gen)
    x = torch.nn.functional.one_hot(idx, 4).float().transpose(1, 2).contiguous()
    ig = IntegratedGradients(net)
    run = lambda x: ig.attribute(
        x, baselines=torch.zeros_like(x), target=0, n_steps=steps,
        method="riemann_middle", internal_batch_size=batch,
    )
    run(x[:1])  # warm-up
    t = time.perf_counter()
    a = run(x)
    assert a.shape == x.shape
    print(sequences / (time.perf_counter() - t))


if __name__ == "__main__":
    main()
