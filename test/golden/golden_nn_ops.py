# Golden cases for linear algebra, convolution and pooling, and the functional neural-network
# ops: softmax and logSoftmax, every loss with its reductions and options, layerNorm,
# batchNorm (training, with the running statistics it updates, and evaluation), dropout in
# its deterministic settings, embedding.
#
# Letters: N batch, C channels or classes, H/W height and width, K reduction length.

import math

import torch
import torch.nn.functional as F

from golden_common import F32, f32, gen_for, op_case, rand, randn

nan, inf = math.nan, math.inf


def linalg_cases():
    out = []
    g = gen_for("matmul")
    M = [
        ("2d", [randn(g, 3, 4), randn(g, 4, 5)]),
        ("k64", [randn(g, 8, 64), randn(g, 64, 16)]),
        ("1d-2d", [randn(g, 4), randn(g, 4, 5)]),
        ("2d-1d", [randn(g, 3, 4), randn(g, 4)]),
        ("1d-1d", [randn(g, 6), randn(g, 6)]),
        ("batched", [randn(g, 2, 3, 4), randn(g, 2, 4, 5)]),
        ("broadcast", [randn(g, 2, 1, 3, 4), randn(g, 3, 4, 2)]),
        ("3d-2d", [randn(g, 2, 3, 4), randn(g, 4, 5)]),
        ("k0", [torch.zeros(3, 0), torch.zeros(0, 4)]),
        ("edge", [f32([[nan, 1, 2], [inf, 1, 0], [1, 2, 3], [1e30, 1e30, 0]]), f32([[1, 0], [0, 1], [1, 1]])]),
    ]
    for suffix, args in M:
        out.append(op_case(f"matmul/{suffix}", "matmul", args, torch.matmul, scale="abs"))
    out.append(op_case("matmul/transposed", "matmul", [randn(g, 4, 3), randn(g, 4, 5)], lambda a, b: a.T @ b, params={"transpose": True}, scale="abs"))
    out.append(op_case("matmul/inner-mismatch", "matmul", [randn(g, 3, 4), randn(g, 5, 2)], torch.matmul, error_kind="shape"))
    ia = torch.randint(-1000, 1000, (3, 4), generator=g, dtype=torch.int32)
    ib = torch.randint(-100000, 100000, (4, 2), generator=g, dtype=torch.int32)
    out.append(op_case("matmul/int32", "matmul", [ia, ib], torch.matmul))
    out.append(op_case("dot", "dot", [randn(g, 7), randn(g, 7)], torch.dot, scale="abs"))
    out.append(op_case("linear/bias", "linear", [randn(g, 2, 3, 4), randn(g, 5, 4), randn(g, 5)], F.linear, scale="abs"))
    out.append(op_case("linear/no-bias", "linear", [randn(g, 3, 4), randn(g, 5, 4)], F.linear, scale="abs"))

    C1 = [
        ("plain", {}, [randn(g, 2, 3, 10), randn(g, 4, 3, 3)]),
        ("stride2-pad1-bias", {"stride": 2, "padding": 1}, [randn(g, 2, 3, 10), randn(g, 4, 3, 3), randn(g, 4)]),
        ("dilation2-groups", {"dilation": 2, "groups": 3}, [randn(g, 2, 3, 11), randn(g, 6, 1, 3)]),
        ("same-even", {"padding": "same"}, [randn(g, 1, 2, 9), randn(g, 3, 2, 4)]),
    ]
    for suffix, p, args in C1:
        tp = dict(p)
        out.append(op_case(f"conv1d/{suffix}", "conv1d", args, lambda x, w, b=None, tp=tp: F.conv1d(x, w, b, **tp), params=p, scale="abs"))
    C2 = [
        ("plain", {}, [randn(g, 2, 3, 7, 7), randn(g, 4, 3, 3, 3)]),
        ("stride2-pad1-bias", {"stride": 2, "padding": 1}, [randn(g, 2, 3, 7, 7), randn(g, 4, 3, 3, 3), randn(g, 4)]),
        ("stride-pad-pairs", {"stride": [1, 2], "padding": [2, 0]}, [randn(g, 1, 2, 6, 8), randn(g, 3, 2, 3, 2)]),
        ("dilation2", {"dilation": 2, "padding": 2}, [randn(g, 1, 2, 8, 8), randn(g, 3, 2, 3, 3)]),
        ("groups3", {"groups": 3, "padding": 1}, [randn(g, 2, 3, 5, 5), randn(g, 6, 1, 3, 3), randn(g, 6)]),
        ("same-even", {"padding": "same"}, [randn(g, 1, 2, 6, 7), randn(g, 2, 2, 4, 2)]),
        ("1x1", {}, [randn(g, 2, 8, 3, 3), randn(g, 5, 8, 1, 1)]),
        ("edge", {"padding": 1}, [f32([nan, 1, 2, 3, inf, 5, 6, 7, 8], [1, 1, 3, 3]), f32([0, 1, 0, 1, 1, 1, 0, 1, 0], [1, 1, 3, 3])]),
    ]
    for suffix, p, args in C2:
        tp = dict(p)
        out.append(op_case(f"conv2d/{suffix}", "conv2d", args, lambda x, w, b=None, tp=tp: F.conv2d(x, w, b, **tp), params=p, scale="abs"))
    out.append(op_case("conv2d/channel-mismatch", "conv2d", [randn(g, 1, 3, 5, 5), randn(g, 2, 2, 3, 3)], lambda x, w: F.conv2d(x, w), error_kind="shape"))
    CT = [
        ("plain", {}, [randn(g, 2, 4, 5, 5), randn(g, 4, 3, 3, 3)]),
        ("stride2-pad1-outpad1-bias", {"stride": 2, "padding": 1, "outputPadding": 1}, [randn(g, 2, 4, 4, 4), randn(g, 4, 3, 3, 3), randn(g, 3)]),
        ("dilation2", {"dilation": 2}, [randn(g, 1, 2, 4, 4), randn(g, 2, 3, 3, 3)]),
        ("groups2", {"groups": 2, "stride": [2, 1]}, [randn(g, 1, 4, 3, 4), randn(g, 4, 2, 2, 3), randn(g, 4)]),
    ]
    for suffix, p, args in CT:
        tp = {("output_padding" if k == "outputPadding" else k): v for k, v in p.items()}
        out.append(op_case(f"convTranspose2d/{suffix}", "convTranspose2d", args,
                           lambda x, w, b=None, tp=tp: F.conv_transpose2d(x, w, b, **tp), params=p, scale="abs"))
    P = [
        ("k2", {"kernelSize": 2}, randn(g, 2, 3, 6, 6)),
        ("k3-s2-p1", {"kernelSize": 3, "stride": 2, "padding": 1}, randn(g, 2, 2, 7, 7)),
        ("pairs", {"kernelSize": [2, 3], "stride": [1, 2]}, randn(g, 1, 2, 5, 7)),
        ("ties", {"kernelSize": 2}, torch.round(randn(g, 1, 2, 4, 4) * 0.6)),
        ("edge", {"kernelSize": 2}, f32([nan, 1, 2, 3, -inf, -inf, -inf, -inf, 1, 1, 5, inf, 0, -0.0, 7, 7], [1, 1, 4, 4])),
    ]

    def k(p, key, default=None):
        return p.get(key, default)

    for suffix, p, x in P:
        tp = {"kernel_size": k(p, "kernelSize"), "stride": k(p, "stride"), "padding": k(p, "padding", 0)}
        out.append(op_case(f"maxPool2d/{suffix}", "maxPool2d", [x], lambda x, tp=tp: F.max_pool2d(x, **tp), params=p))
        if suffix != "edge":
            out.append(op_case(f"avgPool2d/{suffix}", "avgPool2d", [x], lambda x, tp=tp: F.avg_pool2d(x, **tp), params=p, scale="abs"))
    x = randn(g, 2, 2, 7, 7)
    for cip in [True, False]:
        p = {"kernelSize": 3, "stride": 2, "padding": 1, "countIncludePad": cip}
        out.append(op_case(f"avgPool2d/count-include-pad={cip}", "avgPool2d", [x],
                           lambda x, cip=cip: F.avg_pool2d(x, 3, 2, 1, count_include_pad=cip), params=p, scale="abs"))
    for size in [[3, 2], [1, 1], [7, 7], [4, 3]]:
        out.append(op_case(f"adaptiveAvgPool2d/{size}", "adaptiveAvgPool2d", [randn(g, 2, 3, 7, 5)],
                           lambda x, s=size: F.adaptive_avg_pool2d(x, s), params={"outputSize": size}, scale="abs"))
    return out


SOFTMAX_EDGE = f32([
    [1.0, 2.0, 3.0, 4.0],
    [-inf, 0.0, 1.0, -inf],
    [-inf, -inf, -inf, -inf],
    [inf, 0.0, 1.0, 2.0],
    [nan, 0.0, 1.0, 2.0],
    [1e30, 0.0, -1e30, 1.0],
    [100.0, 100.0, 100.0, 100.0],
    [-200.0, 0.0, 0.0, 0.0],
])


def softmax_cases():
    out = []
    for op, fn in [("softmax", F.softmax), ("logSoftmax", F.log_softmax)]:
        for axis in [-1, 0, 1]:
            x = randn(gen_for(f"{op}/{axis}"), 3, 4, 5, scale=3)
            out.append(op_case(f"{op}/axis={axis}", op, [x], lambda x, a=axis, fn=fn: fn(x, dim=a), params={"axis": axis}))
        out.append(op_case(f"{op}/edge", op, [SOFTMAX_EDGE], lambda x, fn=fn: fn(x, dim=-1), params={"axis": -1}))
    return out


def loss_cases():
    out = []
    g = gen_for("losses")
    logits = randn(g, 6, 4, scale=2)
    t = torch.tensor([0, 3, 1, 1, 2, 0], dtype=torch.int32)
    t_ign = torch.tensor([0, -100, 1, 1, -100, 3], dtype=torch.int32)
    probs = torch.softmax(randn(g, 6, 4), dim=1)
    for red in ["mean", "sum", "none"]:
        R = {"reduction": red}
        out.append(op_case(f"crossEntropy/{red}", "crossEntropy", [logits, t], lambda x, y, r=red: F.cross_entropy(x, y.long(), reduction=r), params=R))
        out.append(op_case(f"crossEntropy/probs/{red}", "crossEntropy", [logits, probs], lambda x, y, r=red: F.cross_entropy(x, y, reduction=r), params=R, diff=[0]))
        out.append(op_case(f"crossEntropy/ignore-default/{red}", "crossEntropy", [logits, t_ign],
                           lambda x, y, r=red: F.cross_entropy(x, y.long(), reduction=r), params=R))
        out.append(op_case(f"crossEntropy/smoothing/{red}", "crossEntropy", [logits, t],
                           lambda x, y, r=red: F.cross_entropy(x, y.long(), reduction=r, label_smoothing=0.1), params={**R, "labelSmoothing": 0.1}))
        out.append(op_case(f"crossEntropy/smoothing-ignore/{red}", "crossEntropy", [logits, t_ign],
                           lambda x, y, r=red: F.cross_entropy(x, y.long(), reduction=r, label_smoothing=0.2), params={**R, "labelSmoothing": 0.2}))
        out.append(op_case(f"nllLoss/{red}", "nllLoss", [torch.log_softmax(logits, 1), t], lambda x, y, r=red: F.nll_loss(x, y.long(), reduction=r), params=R))
        out.append(op_case(f"nllLoss/ignore-default/{red}", "nllLoss", [torch.log_softmax(logits, 1), t_ign],
                           lambda x, y, r=red: F.nll_loss(x, y.long(), reduction=r), params=R))
        a, b = randn(g, 3, 5), randn(g, 3, 5)
        b[0, :2] = a[0, :2]  # equal entries: the kink of l1
        out.append(op_case(f"mseLoss/{red}", "mseLoss", [a, b], lambda x, y, r=red: F.mse_loss(x, y, reduction=r), params=R))
        out.append(op_case(f"l1Loss/{red}", "l1Loss", [a, b], lambda x, y, r=red: F.l1_loss(x, y, reduction=r), params=R))
        z = randn(g, 4, 3, scale=3)
        tz = rand(g, 4, 3)
        out.append(op_case(f"bceWithLogits/{red}", "bceWithLogits", [z, tz], lambda x, y, r=red: F.binary_cross_entropy_with_logits(x, y, reduction=r), params=R))
        pw = rand(g, 3, lo=0.5, hi=3)
        out.append(op_case(f"bceWithLogits/posWeight-tensor/{red}", "bceWithLogits", [z, tz, pw],
                           lambda x, y, w, r=red: F.binary_cross_entropy_with_logits(x, y, reduction=r, pos_weight=w), params=R, diff=[0, 1]))
    out.append(op_case("crossEntropy/ignoreIndex=2", "crossEntropy", [logits, t],
                       lambda x, y: F.cross_entropy(x, y.long(), ignore_index=2), params={"ignoreIndex": 2}))
    out.append(op_case("crossEntropy/all-ignored", "crossEntropy", [logits[:2], torch.tensor([-100, -100], dtype=torch.int32)],
                       lambda x, y: F.cross_entropy(x, y.long())))
    out.append(op_case("crossEntropy/smoothing-probs", "crossEntropy", [logits, probs],
                       lambda x, y: F.cross_entropy(x, y, label_smoothing=0.3), params={"labelSmoothing": 0.3}, diff=[0]))
    lk = randn(g, 2, 4, 3)
    tk = torch.tensor([[0, 3, 1], [2, -100, 1]], dtype=torch.int32)
    out.append(op_case("crossEntropy/k-dim", "crossEntropy", [lk, tk], lambda x, y: F.cross_entropy(x, y.long())))
    out.append(op_case("crossEntropy/unbatched", "crossEntropy", [randn(g, 5), torch.tensor(3, dtype=torch.int32)], lambda x, y: F.cross_entropy(x, y.long())))
    out.append(op_case("crossEntropy/target-out-of-range", "crossEntropy", [logits, torch.tensor([0, 4, 1, 1, 2, 0], dtype=torch.int32)],
                       lambda x, y: F.cross_entropy(x, y.long()), error_kind="value"))
    out.append(op_case("nllLoss/target-negative", "nllLoss", [torch.log_softmax(logits, 1), torch.tensor([0, -1, 1, 1, 2, 0], dtype=torch.int32)],
                       lambda x, y: F.nll_loss(x, y.long()), error_kind="value"))
    out.append(op_case("crossEntropy/edge-logits", "crossEntropy", [f32([[1e30, 0, 0], [-inf, 0, 1], [100, -100, 0]]), torch.tensor([0, 1, 1], dtype=torch.int32)],
                       lambda x, y: F.cross_entropy(x, y.long(), reduction="none"), params={"reduction": "none"},
                       scale=lambda x, y: torch.amax(torch.where(x.isfinite(), x.abs(), 0), 1) + math.log(x.shape[1])))
    out.append(op_case("nllLoss/k-dim", "nllLoss", [torch.log_softmax(lk, 1), tk], lambda x, y: F.nll_loss(x, y.long())))
    ze = f32([0.0, -0.0, 100.0, -100.0, 1e30, -1e30, 20.0, -20.0])
    te = f32([0.0, 1.0, 0.0, 1.0, 0.5, 0.5, 1.0, 0.0])
    out.append(op_case("bceWithLogits/edge", "bceWithLogits", [ze, te],
                       lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction="none"), params={"reduction": "none"},
                       scale=lambda x, y: x.abs() * (1 + y.abs()) + 1))
    out.append(op_case("bceWithLogits/posWeight-number", "bceWithLogits", [ze, te],
                       lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction="none", pos_weight=torch.tensor(2.5)),
                       params={"reduction": "none", "posWeight": 2.5}, scale=lambda x, y: 2.5 * x.abs() * (1 + y.abs()) + 2.5))
    return out


def norm_cases():
    out = []
    g = gen_for("norms")
    x = randn(g, 2, 3, 8, scale=2)
    w, b = randn(g, 8), randn(g, 8)
    out.append(op_case("layerNorm/affine", "layerNorm", [x, w, b], lambda x, w, b: F.layer_norm(x, [8], w, b), params={"normalizedShape": 8}))
    out.append(op_case("layerNorm/plain-eps", "layerNorm", [x], lambda x: F.layer_norm(x, [8], eps=1e-3), params={"normalizedShape": 8, "eps": 1e-3}))
    out.append(op_case("layerNorm/two-axes", "layerNorm", [x, randn(g, 3, 8)], lambda x, w: F.layer_norm(x, [3, 8], w), params={"normalizedShape": [3, 8]}))
    const = torch.cat([torch.full((1, 8), 3.0), randn(g, 1, 8)], 0)
    out.append(op_case("layerNorm/constant-row", "layerNorm", [const], lambda x: F.layer_norm(x, [8]), params={"normalizedShape": 8}))
    out.append(op_case("layerNorm/shape-mismatch", "layerNorm", [x], lambda x: F.layer_norm(x, [4]), params={"normalizedShape": 4}, error_kind="shape"))

    # batchNorm returns [y, runningMean, runningVar] (the statistics after the call). In
    # training mode it updates the running statistics: through tb.fn they are variables.
    def bn(training, momentum=0.1, eps=1e-5):
        def f(x, rm, rv, w=None, b=None):
            rm, rv = rm.clone(), rv.clone()
            y = F.batch_norm(x, rm, rv, w, b, training=training, momentum=momentum, eps=eps)
            return [y, rm, rv]
        return f
    for name, shape in [("2d", (6, 3)), ("3d", (4, 3, 5)), ("4d", (2, 3, 4, 4))]:
        xb = randn(g, *shape, scale=2) + 1
        rm, rv = randn(g, 3), rand(g, 3, lo=0.5, hi=2)
        wb, bb = randn(g, 3), randn(g, 3)
        out.append(op_case(f"batchNorm/train/{name}", "batchNorm", [xb, rm, rv, wb, bb], bn(True), params={"training": True}, diff=[0, 3, 4],
                           variables=[1, 2]))
        out.append(op_case(f"batchNorm/eval/{name}", "batchNorm", [xb, rm, rv, wb, bb], bn(False), params={"training": False}, diff=[0, 3, 4]))
    xb = randn(g, 5, 2)
    out.append(op_case("batchNorm/train/momentum-eps", "batchNorm", [xb, torch.zeros(2), torch.ones(2)], bn(True, 0.3, 1e-2),
                       params={"training": True, "momentum": 0.3, "eps": 1e-2}, diff=[0], variables=[1, 2]))
    return out


def misc_cases():
    out = []
    g = gen_for("misc")
    x = randn(g, 3, 4)
    out.append(op_case("dropout/p=0", "dropout", [x], lambda x: F.dropout(x, 0.0), params={"p": 0}))
    out.append(op_case("dropout/eval", "dropout", [x], lambda x: F.dropout(x, 0.5, training=False), params={"p": 0.5, "training": False}))
    out.append(op_case("dropout/p=1", "dropout", [x], lambda x: F.dropout(x, 1.0), params={"p": 1}))
    ids = torch.tensor([[0, 5, 2], [2, 2, 1]], dtype=torch.int32)
    out.append(op_case("embedding", "embedding", [ids, randn(g, 6, 4)], lambda i, w: F.embedding(i.long(), w)))
    return out


def cases():
    return linalg_cases() + softmax_cases() + loss_cases() + norm_cases() + misc_cases()
