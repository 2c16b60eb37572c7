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
[N, R, 4, L] order) it also writes tangermeme's deep_lift_shap attributions of each sequence
against its R references (float64), summed over the channels, as OUTDIR/deeplift_shap.txt
([N, L] order), and Captum's DeepLiftShap's as OUTDIR/deeplift_shap_captum.txt with its
convergence deltas on stderr. tangermeme is the oracle: on this network (ReLU then a max pool
over all positions) Captum 0.9's DeepLift misses the summation to delta by up to twice the
output's change (its own `return_convergence_delta` says so), while tangermeme's and ours
sum to it exactly. Needs torch, captum, tangermeme, safetensors, h5py, numpy.
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
        from tangermeme.deep_lift_shap import deep_lift_shap

        t = deep_lift_shap(
            net, x.detach(), target=target, references=torch.from_numpy(refs).double(),
            batch_size=64, dtype=torch.float64, warning_threshold=1e9,
        )
        np.savetxt(f"{out}/deeplift_shap.txt", t.detach().numpy().sum(axis=1).reshape(-1), fmt="%.10e")
        dls = DeepLiftShap(net)
        rows, deltas = [], []
        for i in range(n):
            a, d = dls.attribute(
                x[i : i + 1].detach(), baselines=torch.from_numpy(refs[i]).double(), target=target,
                return_convergence_delta=True,
            )
            rows.append(a.detach().numpy()[0].sum(axis=0))
            deltas.append(float(d.abs().max()))
        np.savetxt(f"{out}/deeplift_shap_captum.txt", np.concatenate(rows), fmt="%.10e")
        print(f"captum DeepLiftShap: largest |convergence delta| {max(deltas):.3g}", file=sys.stderr)


if __name__ == "__main__":
    main()
