"""Captum's attributions of a deepbind-tiny network with ferrosea's weights: the oracle of
the ignored test `attributions_equal_captums` (crates/interpret/tests/attribute.rs).

    benches/.venv-torch/bin/python captum_attributions.py ATTR.h5 WEIGHTS.safetensors TARGET STEPS OUTDIR [REFS.txt R]

Builds DeepBind's layout in PyTorch (conv 4->F of width K, ReLU, max pool over all positions,
dense with ReLU, dropout (inactive), output dense; the ReLUs and the pool are modules, so that
Captum's DeepLift applies its rules to them), loads the safetensors weights by our names
(conv1, dense1, output), and writes Captum's Saliency (abs=True) and IntegratedGradients
(all-zero baseline, method riemann_middle, STEPS points) of output TARGET for the sequences
`x` of a ferrosea attribution file ([N, L, 4], float64 arithmetic, so the oracle's own error
is negligible), as OUTDIR/saliency.txt and OUTDIR/ig.txt: one value per line, in the file's
[N, L, 4] order. With REFS.txt (R references [4, L] per sequence, one value per line, in
[N, R, 4, L] order) it also writes DeepLiftShap's attributions of each sequence against its R
references, summed over the channels, as OUTDIR/deeplift_shap.txt ([N, L] order). Needs
torch, captum, safetensors, h5py, numpy.
"""
import sys

import h5py
import numpy as np
import torch
from captum.attr import DeepLiftShap, IntegratedGradients, Saliency
from safetensors.numpy import load_file


class DeepBind(torch.nn.Module):
    def __init__(self, w, window):
        super().__init__()
        f, c, k = w["conv1.weight"].shape
        self.conv = torch.nn.Conv1d(c, f, k)
        self.relu1, self.relu2 = torch.nn.ReLU(), torch.nn.ReLU()
        self.pool = torch.nn.MaxPool1d(window - k + 1)
        self.dense = torch.nn.Linear(*w["dense1.weight"].shape[::-1])
        self.out = torch.nn.Linear(*w["output.weight"].shape[::-1])
        with torch.no_grad():
            for mod, name in [(self.conv, "conv1"), (self.dense, "dense1"), (self.out, "output")]:
                mod.weight.copy_(torch.from_numpy(w[f"{name}.weight"]))
                mod.bias.copy_(torch.from_numpy(w[f"{name}.bias"]))

    def forward(self, x):
        h = self.pool(self.relu1(self.conv(x))).squeeze(2)
        return self.out(self.relu2(self.dense(h)))


def main():
    attr, weights, target, steps, out = sys.argv[1:6]
    with h5py.File(attr, "r") as f:
        x_nlc = f["x"][:]
    net = DeepBind(load_file(weights), x_nlc.shape[1]).double().eval()
    x = torch.from_numpy(np.ascontiguousarray(x_nlc.transpose(0, 2, 1))).double()
    x.requires_grad_(True)
    target, steps = int(target), int(steps)
    sal = Saliency(net).attribute(x, target=target, abs=True)
    ig = IntegratedGradients(net).attribute(
        x, baselines=torch.zeros_like(x), target=target, n_steps=steps, method="riemann_middle"
    )
    for name, a in [("saliency", sal), ("ig", ig)]:
        np.savetxt(f"{out}/{name}.txt", a.detach().numpy().transpose(0, 2, 1).reshape(-1), fmt="%.10e")
    if len(sys.argv) > 6:
        n, l = x.shape[0], x.shape[2]
        refs = np.loadtxt(sys.argv[6]).reshape(n, int(sys.argv[7]), 4, l)
        dls = DeepLiftShap(net)
        rows = []
        for i in range(n):
            a = dls.attribute(
                x[i : i + 1].detach(), baselines=torch.from_numpy(refs[i]).double(), target=target
            )
            rows.append(a.detach().numpy()[0].sum(axis=0))
        np.savetxt(f"{out}/deeplift_shap.txt", np.concatenate(rows), fmt="%.10e")


if __name__ == "__main__":
    main()
