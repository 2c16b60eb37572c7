"""The peers' side of the attribution benchmark (benches/attribute.rs): sequences per second
of an attribution of output 0 of DeepSEA or DanQ (the architectures of torch_models.py,
random weights) on random one-hot 1000 bp windows, on the CPU.

    benches/.venv-torch/bin/python benches/python/captum_attribute.py MODEL THREADS SEQUENCES STEPS PASS [METHOD PEER REFERENCES]

METHOD ig (default): Captum's IntegratedGradients, all-zero baseline, riemann_middle, STEPS
points, internal_batch_size PASS. METHOD dls: DeepLIFT/SHAP against REFERENCES dinucleotide
shuffles of each sequence, drawn in the timed part (as ours are): PEER captum calls Captum's
DeepLiftShap once per sequence with its shuffles (tangermeme's dinucleotide_shuffle) as the
baselines; PEER tangermeme calls tangermeme's deep_lift_shap (n_shuffles=REFERENCES,
batch_size PASS / 2 sequence-reference pairs, as ours). DanQ's nn.LSTM has no rule in either:
its gradient passes through, as ours does with --recurrent-rule gradient.

Prints the figure on stdout.
"""
import os
import sys
import time
import warnings

import torch
from captum.attr import DeepLiftShap, IntegratedGradients

sys.path.insert(0, os.path.dirname(__file__))
from torch_models import build  # noqa: E402


def main():
    model, threads, sequences, steps, batch = sys.argv[1], *map(int, sys.argv[2:6])
    method = sys.argv[6] if len(sys.argv) > 6 else "ig"
    peer = sys.argv[7] if len(sys.argv) > 7 else "captum"
    refs = int(sys.argv[8]) if len(sys.argv) > 8 else 20
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    warnings.filterwarnings("ignore")
    net, _ = build(model, 919, 1000)
    net.eval()
    gen = torch.Generator().manual_seed(7)
    idx = torch.randint(0, 4, (sequences, 1000), generator=gen)
    x = torch.nn.functional.one_hot(idx, 4).float().transpose(1, 2).contiguous()
    if method == "ig":
        ig = IntegratedGradients(net)
        run = lambda x: ig.attribute(
            x, baselines=torch.zeros_like(x), target=0, n_steps=steps,
            method="riemann_middle", internal_batch_size=batch,
        )
    elif peer == "captum":
        from tangermeme.ersatz import dinucleotide_shuffle
        dls = DeepLiftShap(net)

        def run(x):
            out = []
            for i in range(x.shape[0]):
                r = dinucleotide_shuffle(x[i : i + 1], n=refs, random_state=i)[0]
                out.append(dls.attribute(x[i : i + 1], baselines=r, target=0))
            return torch.cat(out)
    else:
        from tangermeme.deep_lift_shap import deep_lift_shap

        run = lambda x: deep_lift_shap(
            net, x, target=0, batch_size=batch // 2, n_shuffles=refs, random_state=1,
            warning_threshold=1e9,
        )
    run(x[:1])  # warm-up
    t = time.perf_counter()
    a = run(x)
    assert a.shape == x.shape
    print(sequences / (time.perf_counter() - t))


if __name__ == "__main__":
    main()
