"""A network trained (or imported) by ferrosea, as a PyTorch nn.Module.

Written by `ferrosea-train export --to pytorch` beside model.safetensors; needs only torch
(the weights are read by the small safetensors reader below, without torch.load):

    import sys; sys.path.insert(0, "model")   # this directory
    from model import load
    net = load("model")                       # model.py and model.safetensors
    logits = net(x)                           # x: float (N, CHANNELS, WINDOW), one-hot A, C, G, T
    outputs = net.predict(x)                  # sigmoid (or softmax) of the logits, as ferrosea's

The layers are those of ferrosea's layer list (SPEC below, as the checkpoint's recipe
expands); the state-dict keys are ferrosea's names with PyTorch's own parameters (an LSTM's
`weight_ih_l0`, ..., `_reverse`; batch norm's buffers). TARGETS lists the outputs.
"""
import json
import struct

import torch
import torch.nn.functional as F
from torch import nn

SPEC = json.loads(r"""__SPEC__""")
WINDOW = SPEC["window"]
CHANNELS = SPEC["channels"]
ALPHABET = SPEC["alphabet"]
TARGETS = SPEC["targets"]
THRESHOLD_VALUE = 1e-6


def activate(x, name):
    if name == "relu":
        return F.relu(x)
    if name == "sigmoid":
        return torch.sigmoid(x)
    if name == "tanh":
        return torch.tanh(x)
    if name == "threshold":  # Torch's nn.Threshold(0, 1e-6): DeepSEA's
        return F.threshold(x, 0.0, THRESHOLD_VALUE)
    return x


def pool(x, p):
    """Pooling of (N, C, L): {"max": k}, {"avg": k}, "global-max", "global-avg" or None."""
    if p is None:
        return x
    if p == "global-max":
        return x.amax(dim=2)
    if p == "global-avg":
        return x.mean(dim=2)
    if "max" in p:
        return F.max_pool1d(x, p["max"]) if p["max"] > 1 else x
    return F.avg_pool1d(x, p["avg"]) if p["avg"] > 1 else x


def hard_sigmoid(x):
    return torch.clamp(0.2 * x + 0.5, 0.0, 1.0)


class Recurrent(nn.Module):
    """A recurrent layer whose gates are Keras' hard sigmoid (which torch's LSTM/GRU cannot
    use), with the parameters of torch's nn.LSTM / nn.GRU / nn.RNN (gate order i, f, g, o /
    r, z, n), so that the state dict is the same."""

    def __init__(self, cell, inputs, hidden, bidirectional):
        super().__init__()
        self.cell, self.hidden, self.bidirectional = cell, hidden, bidirectional
        gates = {"lstm": 4, "gru": 3, "simple": 1}[cell] * hidden
        for suffix in ["", "_reverse"][: 2 if bidirectional else 1]:
            self.register_parameter("weight_ih_l0" + suffix, nn.Parameter(torch.zeros(gates, inputs)))
            self.register_parameter("weight_hh_l0" + suffix, nn.Parameter(torch.zeros(gates, hidden)))
            self.register_parameter("bias_ih_l0" + suffix, nn.Parameter(torch.zeros(gates)))
            self.register_parameter("bias_hh_l0" + suffix, nn.Parameter(torch.zeros(gates)))

    def direction(self, x, suffix, reverse):
        w_ih, w_hh = getattr(self, "weight_ih_l0" + suffix), getattr(self, "weight_hh_l0" + suffix)
        b_ih, b_hh = getattr(self, "bias_ih_l0" + suffix), getattr(self, "bias_hh_l0" + suffix)
        n, t, _ = x.shape
        hsz = self.hidden
        xp = x @ w_ih.T + b_ih
        h = x.new_zeros(n, hsz)
        c = x.new_zeros(n, hsz)
        out = [None] * t
        for s in range(t):
            at = t - 1 - s if reverse else s
            hh = h @ w_hh.T + b_hh
            z = xp[:, at]
            if self.cell == "lstm":
                g = z + hh
                i, f = hard_sigmoid(g[:, :hsz]), hard_sigmoid(g[:, hsz : 2 * hsz])
                gg, o = torch.tanh(g[:, 2 * hsz : 3 * hsz]), hard_sigmoid(g[:, 3 * hsz :])
                c = f * c + i * gg
                h = o * torch.tanh(c)
            elif self.cell == "gru":
                r = hard_sigmoid(z[:, :hsz] + hh[:, :hsz])
                u = hard_sigmoid(z[:, hsz : 2 * hsz] + hh[:, hsz : 2 * hsz])
                nn_ = torch.tanh(z[:, 2 * hsz :] + r * hh[:, 2 * hsz :])
                h = nn_ + u * (h - nn_)
            else:
                h = torch.tanh(z + hh)
            out[at] = h
        return torch.stack(out, dim=1)

    def forward(self, x):
        outs = [self.direction(x, "", False)]
        if self.bidirectional:
            outs.append(self.direction(x, "_reverse", True))
        return torch.cat(outs, dim=2), None


def recurrent_module(spec, inputs):
    cell, hidden = spec["cell"], spec["hidden"]
    bidirectional = spec.get("bidirectional", False)
    if spec.get("gate_activation", "sigmoid") == "hard-sigmoid":
        return Recurrent(cell, inputs, hidden, bidirectional)
    kind = {"lstm": nn.LSTM, "gru": nn.GRU, "simple": nn.RNN}[cell]
    return kind(inputs, hidden, batch_first=True, bidirectional=bidirectional)


def build(layers, parent, feat):
    """Adds the modules of `layers` to `parent` (a residual body's to a child of its own);
    `feat` is the input's shape per sample: ("seq", C, L), ("time", T, F) or ("flat", F)."""
    for layer in layers:
        kind, name = layer["kind"], layer["name"]
        if kind == "conv":
            c, length = feat[1], feat[2]
            if feat[0] == "time":
                c, length = feat[2], feat[1]
            conv = nn.Conv1d(c, layer["filters"], layer["width"], stride=layer.get("stride", 1),
                             dilation=layer.get("dilation", 1), bias=layer.get("bias", True))
            parent.add_module(name, conv)
            span = layer.get("dilation", 1) * (layer["width"] - 1) + 1
            stride = layer.get("stride", 1)
            if layer.get("padding", "valid") == "same":
                lout = -(-length // stride)
            else:
                lout = (length - span) // stride + 1
            p = layer.get("pool")
            if p in ("global-max", "global-avg"):
                feat = ("flat", layer["filters"])
            elif p:
                k = p.get("max", p.get("avg"))
                feat = ("seq", layer["filters"], lout // k)
            else:
                feat = ("seq", layer["filters"], lout)
        elif kind == "dense":
            parent.add_module(name, nn.Linear(feat[1], layer["units"], bias=layer.get("bias", True)))
            feat = ("flat", layer["units"])
        elif kind == "batch-norm":
            c = feat[2] if feat[0] == "time" else feat[1]
            parent.add_module(name, nn.BatchNorm1d(c, eps=layer.get("eps", 1e-5),
                                                   momentum=layer.get("momentum", 0.1)))
        elif kind == "flatten":
            size = 1
            for d in feat[1:]:
                size *= d
            feat = ("flat", size)
        elif kind == "pool":
            c, length = (feat[2], feat[1]) if feat[0] == "time" else (feat[1], feat[2])
            p = layer["pool"]
            if p in ("global-max", "global-avg"):
                feat = ("flat", c)
            else:
                feat = ("seq", c, length // p.get("max", p.get("avg")))
        elif kind == "residual":
            body = nn.Module()
            parent.add_module(name, body)
            build(layer["body"], body, feat)
        elif kind == "recurrent":
            steps, inputs = (feat[1], feat[2]) if feat[0] == "time" else (feat[2], feat[1])
            parent.add_module(name, recurrent_module(layer, inputs))
            width = layer["hidden"] * (2 if layer.get("bidirectional", False) else 1)
            feat = ("time", steps, width) if layer.get("return", "sequence") == "sequence" else ("flat", width)
    return feat


def channels_first(x, feat):
    return x.transpose(1, 2) if feat == "time" else x


def time_first(x, feat):
    return x.transpose(1, 2) if feat == "seq" else x


def run(layers, parent, x, feat, training):
    """The forward pass of `layers`; `feat` is "seq" (N, C, L), "time" (N, T, F) or "flat"."""
    for layer in layers:
        kind, name = layer["kind"], layer["name"]
        if kind == "conv":
            x = channels_first(x, feat)
            length = x.shape[2]
            stride, dilation = layer.get("stride", 1), layer.get("dilation", 1)
            if layer.get("padding", "valid") == "same":
                span = dilation * (layer["width"] - 1) + 1
                lout = -(-length // stride)
                total = max((lout - 1) * stride + span - length, 0)
                x = F.pad(x, (total // 2, total - total // 2))
            x = pool(activate(getattr(parent, name)(x), layer.get("activation", "linear")), layer.get("pool"))
            feat = "flat" if x.dim() == 2 else "seq"
        elif kind == "dense":
            x = activate(getattr(parent, name)(x), layer.get("activation", "linear"))
        elif kind == "batch-norm":
            bn = getattr(parent, name)
            x = bn(x.transpose(1, 2)).transpose(1, 2) if feat == "time" else bn(x)
        elif kind == "dropout":
            x = F.dropout(x, layer["p"], training=training)
        elif kind == "flatten":
            x = x.flatten(1)
            feat = "flat"
        elif kind == "activation":
            x = activate(x, layer["activation"])
        elif kind == "pool":
            x = pool(channels_first(x, feat), layer["pool"])
            feat = "flat" if x.dim() == 2 else "seq"
        elif kind == "residual":
            y, last = run(layer["body"], getattr(parent, name), x, feat, training)
            if feat == "seq" and last == "time":
                y = y.transpose(1, 2)
            elif feat == "time" and last == "seq":
                y = y.transpose(1, 2)
            x = x + y
        elif kind == "recurrent":
            seq, _ = getattr(parent, name)(time_first(x, feat))
            returns = layer.get("return", "sequence")
            hsz = layer["hidden"]
            if returns == "sequence":
                x, feat = seq, "time"
            elif returns == "max":
                x, feat = seq.amax(dim=1), "flat"
            else:
                last = seq[:, -1, :hsz]
                if layer.get("bidirectional", False):
                    last = torch.cat([last, seq[:, 0, hsz:]], dim=1)
                x, feat = last, "flat"
    return x, feat


class Net(nn.Module):
    """The network: SPEC's layers, then the output layer (logits, or the output activation's
    values for a model trained with mean squared error)."""

    def __init__(self, spec=SPEC):
        super().__init__()
        self.spec = spec
        feat = build(spec["layers"], self, ("seq", spec["channels"], spec["window"]))
        self.output = nn.Linear(feat[1], len(spec["targets"]))

    def forward(self, x):
        h, _ = run(self.spec["layers"], self, x, "seq", self.training)
        return activate(self.output(h), self.spec.get("output_activation", "linear"))

    @torch.no_grad()
    def predict(self, x):
        """The outputs as ferrosea reports them: the logits' sigmoid (loss bce), softmax
        (loss softmax), or the values themselves (loss mse)."""
        y = self.forward(x)
        loss = self.spec.get("loss", "bce")
        if loss == "softmax":
            return torch.softmax(y, dim=1)
        return y if loss == "mse" else torch.sigmoid(y)


DTYPES = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16,
          "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32, "U8": torch.uint8}


def read_safetensors(path):
    """The tensors of a safetensors file (8-byte little-endian header length, JSON header,
    then the data), without the safetensors package."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    out = {}
    for key, v in header.items():
        if key == "__metadata__":
            continue
        a, b = v["data_offsets"]
        raw = bytearray(data[8 + n + a : 8 + n + b])
        t = torch.frombuffer(raw, dtype=DTYPES[v["dtype"]]) if raw else torch.zeros(0, dtype=DTYPES[v["dtype"]])
        out[key] = t.reshape(v["shape"])
    return out


def load(path="."):
    """The network with the weights of `path` (model.safetensors, or the directory holding
    it), in evaluation mode."""
    import os

    if os.path.isdir(path):
        path = os.path.join(path, "model.safetensors")
    net = Net()
    net.load_state_dict(read_safetensors(path), strict=True)
    return net.eval()
