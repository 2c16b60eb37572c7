"""The oracle of the ignored test `exports_run_in_pytorch_and_onnxruntime`
(crates/train/tests/export.rs): loads an export directory's model.py (with its own
safetensors reader) in PyTorch and its model.onnx in onnxruntime, runs both on the inputs of
CHECK.json and prints the largest difference of each from ferrosea's outputs there.

    benches/.venv-torch/bin/python check_export.py EXPORT_DIR CHECK.json

CHECK.json: {"x": [N, C, L] nested lists, "outputs": [N, T]}. Needs torch, onnx and
onnxruntime. Exits 1 when a difference reaches 1e-5.
"""
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch


def main():
    directory, check = sys.argv[1:3]
    case = json.load(open(check))
    x = np.array(case["x"], dtype=np.float32)
    want = np.array(case["outputs"], dtype=np.float64)
    sys.path.insert(0, directory)
    from model import load

    net = load(directory)
    got_torch = net.predict(torch.from_numpy(x)).numpy()
    model = onnx.load(f"{directory}/model.onnx")
    onnx.checker.check_model(model)
    session = ort.InferenceSession(f"{directory}/model.onnx", providers=["CPUExecutionProvider"])
    got_onnx = session.run(["outputs"], {"x": x})[0]
    worst = 0.0
    for name, got in (("pytorch", got_torch), ("onnxruntime", got_onnx)):
        d = float(np.abs(got - want).max())
        print(f"{name}: largest difference {d:.2e}")
        worst = max(worst, d)
    sys.exit(1 if worst >= 1e-5 else 0)


if __name__ == "__main__":
    main()
