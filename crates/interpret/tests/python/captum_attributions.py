"""Captum's attributions of a deepbind-tiny network with ferrosea's weights: the oracle of
the ignored test `attributions_equal_captums` (crates/interpret/tests/attribute.rs).

    benches/.venv-torch/bin/python captum_attributions.py ATTR.h5 WEIGHTS.safetensors TARGET STEPS OUTDIR

Builds DeepBind's layout in PyTorch (conv 4->F of width K, ReLU, max over positions, dense
with ReLU, dropout (inactive), output dense), loads the safetensors weights by our names
(conv1, dense1, output), and writes Captum's Saliency (abs=True) and IntegratedGradients
(all-zero baseline, method riemann_middle, STEPS points) of output TARGET for the sequences
`x` of a ferrosea attribution file ([N, L, 4], float64 arithmetic, so the oracle's own error
is negligible), as OUTDIR/saliency.txt and OUTDIR/ig.txt: one value per line, in the file's
[N, L, 4] order. Needs torch, captum, safetensors, h5py, numpy.
"""
import sys

import h5py
import numpy as np
import torch
from captum.attr import IntegratedGradients, Saliency
from safetensors.numpy import load_file


class DeepBind(torch.nn.Module):
    def __init__(self, w):
        super().__init__()
        f, c, k = w["conv1.weight"].shape
        self.conv = torch.nn.Conv1d(c, f, k)
        self.dense = torch.nn.Linear(*w["dense1.weight"].shape[::-1])
        self.out = torch.nn.Linear(*w["output.weight"].shape[::-1])
        with torch.no_grad():
            for mod, name in [(self.conv, "conv1"), (self.dense, "dense1"), (self.out, "output")]:
                mod.weight.copy_(torch.from_numpy(w[f"{name}.weight"]))
                mod.bias.copy_(torch.from_numpy(w[f"{name}.bias"]))

    def forward(self, x):
        h = torch.relu(self.conv(x)).amax(dim=2)
        return self.out(torch.relu(self.dense(h)))


def main():
    attr, weights, target, steps, out = sys.argv[1:6]
    net = DeepBind(load_file(weights)).double().eval()
    with h5py.File(attr, "r") as f:
        x_nlc = f["x"][:]
    x = torch.from_numpy(np.ascontiguousarray(x_nlc.transpose(0, 2, 1))).double()
    x.requires_grad_(True)
    target, steps = int(target), int(steps)
    sal = Saliency(net).attribute(x, target=target, abs=True)
    ig = IntegratedGradients(net).attribute(
        x, baselines=torch.zeros_like(x), target=target, n_steps=steps, method="riemann_middle"
    )
    for name, a in [("saliency", sal), ("ig", ig)]:
        np.savetxt(f"{out}/{name}.txt", a.detach().numpy().transpose(0, 2, 1).reshape(-1), fmt="%.10e")


if __name__ == "__main__":
    main()
