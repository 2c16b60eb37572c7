"""Writes the fixtures of `ferrosea-train import`'s tests: published architectures, at tiny
widths (or, with --full, their published sizes), saved in their original formats with random
weights, and their outputs on a few real sequences.

    benches/.venv-torch/bin/python crates/train/tests/python/make_import_fixtures.py OUTDIR [--full]

Needs torch, h5py and numpy. Each model keeps the original layer structure, module indices and
key names (read from the sources: Kipoi's DeepSEA/model_architecture.py and beluga/model.py,
Selene's models/deepsea.py and models/danQ.py, DanQ's DanQ_train.py with Keras 0.2's
save_weights layout); only the widths shrink (and the window, which the widths' pools must
still leave a position of):

| file | format | written as |
|---|---|---|
| kipoi_deepsea.pth, kipoi_deepsea_legacy.pth | Kipoi's variantEffects state dict (keys `1.*`: Sequential(ReCodeAlphabet, net)) | zip (torch >= 1.6), and the legacy pickle (torch < 1.6) |
| beluga.pth | Kipoi's Beluga state dict (keys `model.*`) | legacy pickle |
| selene_deepsea.pth.tar | a Selene checkpoint dict (`state_dict` with the `model.` prefix of NonStrandSpecific) | zip |
| selene_danq.pth.tar | a Selene checkpoint dict | zip |
| danq_keras.hdf5 | Keras 0.2's save_weights (`layer_0`..`layer_9`, `param_k`) | HDF5 |

expected.json holds, per file: the window, the number of targets, the sequences (real chr22
windows from data/demo) and the model's outputs (probabilities) on them:
- Kipoi DeepSEA: the variantEffects model on A,C,G,T input (its ReCodeAlphabet turns it into
  the inner network's A,G,C,T);
- Beluga: the model on A,G,C,T input (Beluga takes A,G,C,T);
- Selene DeepSEA: the model on A,C,G,T input;
- Selene DanQ: the model with its LSTM run per sequence. Selene's own forward feeds the LSTM
  (positions, batch, features) although it is built batch_first, so its recurrence runs over
  the samples of a batch and its outputs depend on the batch; the import builds the BiLSTM
  the architecture means, and the fixture's outputs are that network's;
- DanQ (Keras 0.2): a NumPy transcription of Keras 0.2 + Theano (Keras itself does not install
  today): Theano's conv2d flips the kernel, the input is A,G,C,T, dropout scales by 1 - p at
  prediction, the LSTM gates are hard sigmoids (clip(0.2 x + 0.5, 0, 1)), the backward LSTM
  runs in reverse time and its states are put back in order, the flatten is time-major.
"""
import gzip
import json
import os
import sys

import h5py
import numpy as np
import torch
from torch import nn

FULL = "--full" in sys.argv
OUT = [a for a in sys.argv[1:] if not a.startswith("--")][0]
ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")
torch.manual_seed(1)


def sequences(window, n=4):
    """n real windows of chr22 (data/demo), without N, as strings."""
    text = gzip.open(os.path.join(ROOT, "data/demo/hg19_chr22_26-30Mb.fa.gz"), "rt").read()
    seq = "".join(line.strip() for line in text.splitlines() if not line.startswith(">")).upper()
    out, at = [], 200_000
    while len(out) < n:
        s = seq[at : at + window]
        if "N" not in s:
            out.append(s)
        at += 97_531
    return out


def one_hot(seqs, order):
    """(N, 4, L) float32, channels in `order` (e.g. "ACGT")."""
    x = np.zeros((len(seqs), 4, len(seqs[0])), np.float32)
    for i, s in enumerate(seqs):
        for p, b in enumerate(s):
            x[i, order.index(b), p] = 1.0
    return x


def randomise(net):
    """PyTorch's own initialisation (uniform in +-1/sqrt(fan_in): outputs stay away from
    0 and 1 at every size), biases too; batch norm's buffers off their defaults."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    return net.eval()


class Lambda(nn.Module):
    """convert_torch_to_pytorch's LambdaBase/Lambda: a function as a module, no parameters."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class ReCodeAlphabet(nn.Module):
    """Kipoi DeepSEA: A,C,G,T input to the network's A,G,C,T."""

    def forward(self, x):
        return x[:, [0, 2, 1, 3]]


def kipoi_deepsea(filters, hidden, targets, window):
    f1, f2, f3 = filters
    n = ((window - 7) // 4 - 7) // 4 - 7
    net = nn.Sequential(  # DeepSEA/model_architecture.py, indices 0..15
        nn.Conv2d(4, f1, (1, 8), (1, 1)), nn.Threshold(0, 1e-06), nn.MaxPool2d((1, 4), (1, 4)), nn.Dropout(0.2),
        nn.Conv2d(f1, f2, (1, 8), (1, 1)), nn.Threshold(0, 1e-06), nn.MaxPool2d((1, 4), (1, 4)), nn.Dropout(0.2),
        nn.Conv2d(f2, f3, (1, 8), (1, 1)), nn.Threshold(0, 1e-06), nn.Dropout(0.5),
        Lambda(lambda x: x.view(x.size(0), -1)),
        nn.Sequential(Lambda(lambda x: x.view(1, -1) if 1 == len(x.size()) else x), nn.Linear(f3 * n, hidden)),
        nn.Threshold(0, 1e-06),
        nn.Sequential(Lambda(lambda x: x.view(1, -1) if 1 == len(x.size()) else x), nn.Linear(hidden, targets)),
        nn.Sigmoid(),
    )
    return randomise(nn.Sequential(ReCodeAlphabet(), net))


class Beluga(nn.Module):
    """Kipoi's DeepSEA/beluga/model.py (= ExPecto's chromatin.py)."""

    def __init__(self, c, hidden, targets, flat):
        super().__init__()
        self.model = nn.Sequential(
            nn.Sequential(
                nn.Conv2d(4, c[0], (1, 8)), nn.ReLU(), nn.Conv2d(c[0], c[0], (1, 8)), nn.ReLU(),
                nn.Dropout(0.2), nn.MaxPool2d((1, 4), (1, 4)),
                nn.Conv2d(c[0], c[1], (1, 8)), nn.ReLU(), nn.Conv2d(c[1], c[1], (1, 8)), nn.ReLU(),
                nn.Dropout(0.2), nn.MaxPool2d((1, 4), (1, 4)),
                nn.Conv2d(c[1], c[2], (1, 8)), nn.ReLU(), nn.Conv2d(c[2], c[2], (1, 8)), nn.ReLU(),
            ),
            nn.Sequential(
                nn.Dropout(0.5),
                Lambda(lambda x: x.view(x.size(0), -1)),
                nn.Sequential(Lambda(lambda x: x.view(1, -1) if 1 == len(x.size()) else x), nn.Linear(flat, hidden)),
                nn.ReLU(),
                nn.Sequential(Lambda(lambda x: x.view(1, -1) if 1 == len(x.size()) else x), nn.Linear(hidden, targets)),
            ),
            nn.Sigmoid(),
        )

    def forward(self, x):
        return self.model(x)


class SeleneDeepSEA(nn.Module):
    """Selene's models/deepsea.py."""

    def __init__(self, filters, window, targets):
        super().__init__()
        f1, f2, f3 = filters
        self.conv_net = nn.Sequential(
            nn.Conv1d(4, f1, 8), nn.ReLU(inplace=True), nn.MaxPool1d(4, 4), nn.Dropout(p=0.2),
            nn.Conv1d(f1, f2, 8), nn.ReLU(inplace=True), nn.MaxPool1d(4, 4), nn.Dropout(p=0.2),
            nn.Conv1d(f2, f3, 8), nn.ReLU(inplace=True), nn.Dropout(p=0.5),
        )
        self.n = ((window - 7) // 4 - 7) // 4 - 7
        self.f3 = f3
        self.classifier = nn.Sequential(
            nn.Linear(f3 * self.n, targets), nn.ReLU(inplace=True), nn.Linear(targets, targets), nn.Sigmoid()
        )

    def forward(self, x):
        out = self.conv_net(x)
        return self.classifier(out.view(out.size(0), self.f3 * self.n))


class NonStrandSpecific(nn.Module):
    """Selene's wrapper: its state dict prefixes the keys with `model.`."""

    def __init__(self, model):
        super().__init__()
        self.model = model


class SeleneDanQ(nn.Module):
    """Selene's models/danQ.py, with the LSTM run per sequence (see the module docstring)."""

    def __init__(self, filters, lstm, hidden, window, targets):
        super().__init__()
        self.nnet = nn.Sequential(nn.Conv1d(4, filters, 26), nn.ReLU(inplace=True), nn.MaxPool1d(13, 13), nn.Dropout(0.2))
        self.bdlstm = nn.Sequential(nn.LSTM(filters, lstm, num_layers=1, batch_first=True, bidirectional=True))
        self.steps = (window - 25) // 13
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), nn.Linear(self.steps * 2 * lstm, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, targets), nn.Sigmoid(),
        )

    def forward(self, x):
        out = self.nnet(x).transpose(1, 2)  # (N, T, F): per sequence
        out, _ = self.bdlstm(out)
        return self.classifier(out.contiguous().view(x.size(0), -1))


def selene_checkpoint(model, path, prefix_model):
    state = (NonStrandSpecific(model) if prefix_model else model).state_dict()
    torch.save({"step": 1000, "arch": type(model).__name__, "state_dict": state, "min_loss": 0.1, "optimizer": {}}, path)


def hard_sigmoid(x):
    return np.clip(0.2 * x + 0.5, 0.0, 1.0)


def keras_danq(seqs, filters, lstm, hidden, targets, path):
    """Writes Keras 0.2's weight file of DanQ and returns its outputs on seqs (NumPy)."""
    rng = np.random.default_rng(3)
    # Uniform in +-1/sqrt(fan in), the fan in being the first dimension of W (in, out) and
    # the kernel's input x width; biases like their layer's weights.
    fan = {"conv": 4 * 26, "lstm": filters + lstm}

    def u(*s, fan_in=None):
        bound = 1.0 / np.sqrt(fan_in if fan_in else s[0])
        return rng.uniform(-bound, bound, s).astype(np.float32)

    window = len(seqs[0])
    steps = (window - 25) // 13
    conv_w, conv_b = u(filters, 4, 26, 1, fan_in=fan["conv"]), u(filters, fan_in=fan["conv"])
    lstm_p = [
        u(filters, lstm) if j % 3 == 0 else (u(lstm, lstm) if j % 3 == 1 else u(lstm, fan_in=fan["lstm"]))
        for j in range(24)
    ]
    d1w, d1b = u(steps * 2 * lstm, hidden), u(hidden, fan_in=steps * 2 * lstm)
    d2w, d2b = u(hidden, targets), u(targets, fan_in=hidden)
    params = {0: [conv_w, conv_b], 3: lstm_p, 6: [d1w, d1b], 8: [d2w, d2b]}
    with h5py.File(path, "w") as f:
        f.attrs["nb_layers"] = 10
        for k in range(10):
            g = f.create_group(f"layer_{k}")
            ps = params.get(k, [])
            g.attrs["nb_params"] = len(ps)
            for j, p in enumerate(ps):
                g.create_dataset(f"param_{j}", data=p)
    # The forward pass, as Keras 0.2 + Theano compute it.
    x = one_hot(seqs, "AGCT").transpose(0, 2, 1)  # (N, L, 4), A,G,C,T
    n = x.shape[0]
    lout = window - 25
    conv = np.zeros((n, lout, filters), np.float64)
    kernel = conv_w[:, :, ::-1, 0]  # Theano's conv2d is a convolution: the kernel flipped
    for t in range(lout):
        conv[:, t, :] = np.einsum("nkc,fck->nf", x[:, t : t + 26, :], kernel) + conv_b
    h = np.maximum(conv, 0.0)
    h = h[:, : steps * 13].reshape(n, steps, 13, filters).max(axis=2)
    h = h * 0.8  # Dropout(0.2) at prediction

    def run(p, seq):
        w_i, u_i, b_i, w_c, u_c, b_c, w_f, u_f, b_f, w_o, u_o, b_o = p
        hh = np.zeros((n, lstm))
        c = np.zeros((n, lstm))
        out = []
        for t in range(seq.shape[1]):
            xt = seq[:, t]
            i = hard_sigmoid(xt @ w_i + b_i + hh @ u_i)
            fg = hard_sigmoid(xt @ w_f + b_f + hh @ u_f)
            c = fg * c + i * np.tanh(xt @ w_c + b_c + hh @ u_c)
            o = hard_sigmoid(xt @ w_o + b_o + hh @ u_o)
            hh = o * np.tanh(c)
            out.append(hh)
        return np.stack(out, axis=1)

    fwd = run(lstm_p[:12], h)
    bwd = run(lstm_p[12:], h[:, ::-1])[:, ::-1]
    seq = np.concatenate([fwd, bwd], axis=2) * 0.5  # Dropout(0.5) at prediction
    flat = seq.reshape(n, -1)  # time-major
    d1 = np.maximum(flat @ d1w + d1b, 0.0)
    return 1.0 / (1.0 + np.exp(-(d1 @ d2w + d2b)))


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}
    # Kipoi DeepSEA
    window, filters, hidden, targets = (1000, (320, 480, 960), 925, 919) if FULL else (200, (8, 12, 16), 10, 6)
    seqs = sequences(window)
    net = kipoi_deepsea(filters, hidden, targets, window)
    x = torch.from_numpy(one_hot(seqs, "ACGT")).unsqueeze(2)
    with torch.no_grad():
        y = net(x).numpy()
    torch.save(net.state_dict(), os.path.join(OUT, "kipoi_deepsea.pth"))
    torch.save(net.state_dict(), os.path.join(OUT, "kipoi_deepsea_legacy.pth"), _use_new_zipfile_serialization=False)
    for name in ("kipoi_deepsea.pth", "kipoi_deepsea_legacy.pth"):
        expected[name] = {"from": "kipoi-deepsea", "window": window, "targets": targets, "sequences": seqs, "outputs": y.tolist()}
    # Beluga
    window, chans, hidden, targets = (2000, (320, 480, 640), 2003, 2002) if FULL else (400, (8, 12, 16), 11, 5)
    lengths = (((window - 14) // 4 - 14) // 4) - 14
    seqs = sequences(window)
    net = randomise(Beluga(chans, hidden, targets, chans[2] * lengths))
    x = torch.from_numpy(one_hot(seqs, "AGCT")).unsqueeze(2)
    with torch.no_grad():
        y = net(x).numpy()
    torch.save(net.state_dict(), os.path.join(OUT, "beluga.pth"), _use_new_zipfile_serialization=False)
    expected["beluga.pth"] = {"from": "beluga", "window": window, "targets": targets, "sequences": seqs, "outputs": y.tolist()}
    # Selene DeepSEA
    window, filters, targets = (1000, (320, 480, 960), 919) if FULL else (200, (8, 12, 16), 6)
    seqs = sequences(window)
    net = randomise(SeleneDeepSEA(filters, window, targets))
    with torch.no_grad():
        y = net(torch.from_numpy(one_hot(seqs, "ACGT"))).numpy()
    selene_checkpoint(net, os.path.join(OUT, "selene_deepsea.pth.tar"), prefix_model=True)
    expected["selene_deepsea.pth.tar"] = {"from": "selene-deepsea", "window": window, "targets": targets, "sequences": seqs, "outputs": y.tolist()}
    # Selene DanQ
    window, filters, lstm, hidden, targets = (1000, 320, 320, 925, 919) if FULL else (200, 8, 8, 10, 6)
    seqs = sequences(window)
    net = randomise(SeleneDanQ(filters, lstm, hidden, window, targets))
    with torch.no_grad():
        y = net(torch.from_numpy(one_hot(seqs, "ACGT"))).numpy()
    selene_checkpoint(net, os.path.join(OUT, "selene_danq.pth.tar"), prefix_model=False)
    expected["selene_danq.pth.tar"] = {"from": "selene-danq", "window": window, "targets": targets, "sequences": seqs, "outputs": y.tolist()}
    # DanQ, Keras 0.2
    window, filters, lstm, hidden, targets = (1000, 320, 320, 925, 919) if FULL else (200, 8, 8, 10, 6)
    seqs = sequences(window)
    y = keras_danq(seqs, filters, lstm, hidden, targets, os.path.join(OUT, "danq_keras.hdf5"))
    expected["danq_keras.hdf5"] = {"from": "keras-danq", "window": window, "targets": targets, "sequences": seqs, "outputs": y.tolist()}
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)


if __name__ == "__main__":
    main()
