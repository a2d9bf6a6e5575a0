"""Small ONNX classifiers built with the onnx helper API (what skl2onnx would write for a logistic regression)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def logistic(path: Path, weights: list[float], bias: float, *, outputs: str = "label+proba") -> Path:
    """X [N, len(weights)] float → `label` int64 [N] and `probabilities` float [N, 2]; or only `score` [N, 1]."""
    w = numpy_helper.from_array(np.array(weights, dtype=np.float32).reshape(-1, 1), "W")
    b = numpy_helper.from_array(np.array([bias], dtype=np.float32), "B")
    half = numpy_helper.from_array(np.array([0.5], dtype=np.float32), "half")
    one = numpy_helper.from_array(np.array([1.0], dtype=np.float32), "one")
    flat = numpy_helper.from_array(np.array([-1], dtype=np.int64), "flat")
    nodes = [
        helper.make_node("MatMul", ["X", "W"], ["z0"]),
        helper.make_node("Add", ["z0", "B"], ["z"]),
        helper.make_node("Sigmoid", ["z"], ["score"]),
    ]
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, len(weights)])
    if outputs == "score":
        out = [helper.make_tensor_value_info("score", TensorProto.FLOAT, [None, 1])]
    else:
        nodes += [
            helper.make_node("Sub", ["one", "score"], ["neg"]),
            helper.make_node("Concat", ["neg", "score"], ["probabilities"], axis=1),
            helper.make_node("Greater", ["score", "half"], ["above"]),
            helper.make_node("Cast", ["above"], ["label2d"], to=TensorProto.INT64),
            helper.make_node("Reshape", ["label2d", "flat"], ["label"]),
        ]
        out = [
            helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2]),
        ]
    graph = helper.make_graph(nodes, "logistic", [x], out, initializer=[w, b, half, one, flat])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path
