# Golden cases for tb.nn modules: each case builds a PyTorch module with seeded, perturbed
# weights (so biases and norm affines are not the trivial zeros and ones), stores its state
# dict, and runs a sequence of calls (train or eval mode), recording outputs, the vjp of a
# seeded cotangent with respect to the inputs and every parameter, and the buffers after
# the call (batch norm's running statistics).
#
# A case names the tensorbook module and its constructor arguments and options in
# tensorbook's spelling; test/golden/modules.test.ts builds it, loads the state dict through
# fromPytorchNames + loadStateDict and replays the calls.

import torch
import torch.nn as nn

from golden_common import F32, enc, enc_any, gen_for, rand, randn


def perturb(m, g):
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn(p.shape, generator=g, dtype=F32) * 0.3)
        for name, b in m.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=g) * 0.2)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=g) + 0.5)


def call(train, inputs, diff=None, tb_options=None, torch_kwargs=None):
    """One call of the module: inputs (tensors; int32 indices are given to PyTorch as
    int64), the indices of the inputs to differentiate (default: the float32 ones), the
    tensorbook call's options and PyTorch's keyword args."""
    return {"train": train, "inputs": inputs, "diff": diff, "tb": tb_options or {}, "torch": torch_kwargs or {}}


def module_case(name, module, args, options, make, calls, loss_module=False):
    torch.manual_seed(0)
    g = gen_for(name)
    m = make()
    perturb(m, g)
    case = {"name": name, "module": module, "args": enc_any(args), "options": enc_any(options),
            "state": {k: enc(v) for k, v in m.state_dict().items()}, "calls": []}
    for i, c in enumerate(calls):
        m.train(c["train"])
        diff = c["diff"] if c["diff"] is not None else [j for j, x in enumerate(c["inputs"]) if x.dtype == F32]
        xs = [x.detach().clone().requires_grad_(j in diff) if x.dtype == F32 else x.long() if x.dtype == torch.int32 else x
              for j, x in enumerate(c["inputs"])]
        res = m(*xs, **c["torch"])
        outs = list(res) if isinstance(res, (list, tuple)) else [res]
        cg = gen_for(f"{name}/call{i}/cotangent")
        cts = [torch.randn(o.shape, generator=cg, dtype=F32) if o is not None and o.dtype == F32 else None for o in outs]
        live = [(o, ct) for o, ct in zip(outs, cts) if ct is not None and o.requires_grad]
        params = list(m.named_parameters())
        leaves = [xs[j] for j in diff] + [p for _, p in params]
        grads = torch.autograd.grad([o for o, _ in live], leaves, [ct for _, ct in live], allow_unused=True) if live and leaves else [None] * len(leaves)
        grads = [gr if gr is not None else torch.zeros_like(l) for gr, l in zip(grads, leaves)]
        rec = {
            "train": c["train"], "inputs": [enc(x) for x in c["inputs"]], "diff": diff, "options": enc_any(c["tb"]),
            "out": [enc(o) if o is not None else None for o in outs], "cotangents": [enc(ct) if ct is not None else None for ct in cts],
            "inputGrads": [enc(gr) for gr in grads[: len(diff)]],
            "paramGrads": {n: enc(gr) for (n, _), gr in zip(params, grads[len(diff):])},
            "buffersAfter": {n: enc(b) for n, b in m.named_buffers()},
        }
        case["calls"].append(rec)
    return case


def cases():
    out = []
    g = gen_for("module inputs")

    def x(*shape, scale=1.0):
        return randn(g, *shape, scale=scale)

    def simple(name, module, args, options, make, *inputs, train=True):
        out.append(module_case(name, module, args, options, make, [call(train, list(inputs))]))

    simple("Linear", "Linear", [4, 3], {}, lambda: nn.Linear(4, 3), x(2, 5, 4))
    simple("Linear/no-bias", "Linear", [4, 3], {"bias": False}, lambda: nn.Linear(4, 3, bias=False), x(6, 4))
    simple("Conv1d/stride-pad", "Conv1d", [3, 4, 3], {"stride": 2, "padding": 1}, lambda: nn.Conv1d(3, 4, 3, stride=2, padding=1), x(2, 3, 9))
    simple("Conv1d/same-dilation-groups", "Conv1d", [4, 2, 3], {"padding": "same", "dilation": 2, "groups": 2},
           lambda: nn.Conv1d(4, 2, 3, padding="same", dilation=2, groups=2), x(2, 4, 8))
    simple("Conv2d/stride-pad", "Conv2d", [3, 4, 3], {"stride": 2, "padding": 1}, lambda: nn.Conv2d(3, 4, 3, stride=2, padding=1), x(2, 3, 7, 7))
    simple("Conv2d/groups-dilation-no-bias", "Conv2d", [4, 6, [3, 2]], {"groups": 2, "dilation": [2, 1], "bias": False},
           lambda: nn.Conv2d(4, 6, (3, 2), groups=2, dilation=(2, 1), bias=False), x(1, 4, 8, 6))
    simple("Conv2d/same", "Conv2d", [2, 3, 4], {"padding": "same"}, lambda: nn.Conv2d(2, 3, 4, padding="same"), x(2, 2, 5, 6))
    simple("ConvTranspose2d/stride-pad-outpad", "ConvTranspose2d", [4, 3, 3], {"stride": 2, "padding": 1, "outputPadding": 1},
           lambda: nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1), x(2, 4, 4, 4))
    simple("ConvTranspose2d/groups-no-bias", "ConvTranspose2d", [4, 6, 2], {"groups": 2, "bias": False},
           lambda: nn.ConvTranspose2d(4, 6, 2, groups=2, bias=False), x(1, 4, 3, 3))
    simple("MaxPool2d/2", "MaxPool2d", [2], {}, lambda: nn.MaxPool2d(2), x(2, 3, 6, 6))
    simple("MaxPool2d/3-2-1", "MaxPool2d", [3], {"stride": 2, "padding": 1}, lambda: nn.MaxPool2d(3, 2, 1), x(1, 2, 7, 7))
    simple("AvgPool2d/3-2-1-exclude-pad", "AvgPool2d", [3], {"stride": 2, "padding": 1, "countIncludePad": False},
           lambda: nn.AvgPool2d(3, 2, 1, count_include_pad=False), x(1, 2, 7, 7))
    simple("AdaptiveAvgPool2d", "AdaptiveAvgPool2d", [[2, 3]], {}, lambda: nn.AdaptiveAvgPool2d((2, 3)), x(2, 2, 5, 7))
    simple("Flatten", "Flatten", [], {}, lambda: nn.Flatten(), x(2, 3, 2, 2))
    simple("Dropout/eval", "Dropout", [0.3], {}, lambda: nn.Dropout(0.3), x(3, 4), train=False)
    for nm, mod, arg in [("ReLU", nn.ReLU, []), ("Tanh", nn.Tanh, []), ("Sigmoid", nn.Sigmoid, []), ("SiLU", nn.SiLU, []),
                         ("Identity", nn.Identity, [])]:
        simple(nm, nm, arg, {}, mod, x(3, 5, scale=2))
    simple("GELU/tanh", "GELU", ["tanh"], {}, lambda: nn.GELU("tanh"), x(3, 5, scale=2))
    simple("LeakyReLU", "LeakyReLU", [0.2], {}, lambda: nn.LeakyReLU(0.2), x(3, 5, scale=2))
    simple("ELU", "ELU", [0.5], {}, lambda: nn.ELU(0.5), x(3, 5, scale=2))
    simple("Softmax", "Softmax", [1], {}, lambda: nn.Softmax(1), x(3, 5, 2))
    simple("LogSoftmax", "LogSoftmax", [-1], {}, lambda: nn.LogSoftmax(-1), x(3, 5))
    simple("LayerNorm", "LayerNorm", [8], {}, lambda: nn.LayerNorm(8), x(2, 3, 8, scale=2))
    simple("LayerNorm/two-axes-no-affine", "LayerNorm", [[3, 8]], {"elementwiseAffine": False, "eps": 1e-3},
           lambda: nn.LayerNorm([3, 8], elementwise_affine=False, eps=1e-3), x(2, 3, 8))
    simple("LayerNorm/no-bias", "LayerNorm", [8], {"bias": False}, lambda: nn.LayerNorm(8, bias=False), x(4, 8))
    ids = torch.tensor([[0, 9, 3], [3, 3, 1]], dtype=torch.int32)
    out.append(module_case("Embedding", "Embedding", [10, 4], {}, lambda: nn.Embedding(10, 4),
                           [call(True, [ids], torch_kwargs={})]))
    simple("Sequential/MLP", "MLP", [], {}, lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)), x(5, 4))

    # Batch norm: two training calls (the running statistics move, numBatchesTracked counts),
    # then evaluation with the statistics reached.
    for nm, mod, args, opts, topts, shape in [
        ("BatchNorm1d/2d", "BatchNorm1d", [3], {}, {}, (6, 3)),
        ("BatchNorm1d/3d-momentum-eps", "BatchNorm1d", [3], {"momentum": 0.3, "eps": 1e-3}, {"momentum": 0.3, "eps": 1e-3}, (4, 3, 5)),
        ("BatchNorm2d", "BatchNorm2d", [3], {}, {}, (2, 3, 4, 4)),
        ("BatchNorm2d/no-affine", "BatchNorm2d", [3], {"affine": False}, {"affine": False}, (2, 3, 3, 3)),
        ("BatchNorm1d/no-running-stats", "BatchNorm1d", [3], {"trackRunningStats": False}, {"track_running_stats": False}, (5, 3)),
    ]:
        ctor = nn.BatchNorm2d if mod == "BatchNorm2d" else nn.BatchNorm1d
        make = (lambda ctor=ctor, topts=topts: ctor(3, **topts))
        out.append(module_case(nm, mod, args, opts, make, [
            call(True, [x(*shape, scale=2) + 1]), call(True, [x(*shape)]), call(False, [x(*shape)]),
        ]))

    # Attention: query [L=3, N=2, E=8], key and value [S=4, N, E] (batchFirst: [N, L, E]).
    q, k, v = x(3, 2, 8), x(4, 2, 8), x(4, 2, 8)
    mk = lambda **kw: (lambda: nn.MultiheadAttention(8, 2, **kw))  # noqa: E731
    out.append(module_case("MultiheadAttention", "MultiheadAttention", [8, 2], {}, mk(), [call(True, [q, k, v])]))
    fmask = x(3, 4)
    out.append(module_case("MultiheadAttention/float-mask-per-head-weights", "MultiheadAttention", [8, 2], {}, mk(), [
        call(True, [q, k, v], tb_options={"attnMask": fmask, "averageAttnWeights": False}, torch_kwargs={"attn_mask": fmask, "average_attn_weights": False})]))
    bmask = rand(g, 4, 3, 4) > 0.7
    bmask[:, :, 0] = False  # every query keeps a key
    out.append(module_case("MultiheadAttention/bool-mask-3d-no-bias", "MultiheadAttention", [8, 2], {"bias": False}, mk(bias=False), [
        call(True, [q, k, v], tb_options={"attnMask": bmask}, torch_kwargs={"attn_mask": bmask})]))
    qb, kb = x(2, 3, 8), x(2, 4, 8)
    kpm = torch.tensor([[False, False, True, True], [False, False, False, True]])
    out.append(module_case("MultiheadAttention/batch-first-key-padding", "MultiheadAttention", [8, 2], {"batchFirst": True}, mk(batch_first=True), [
        call(True, [qb, kb, kb], tb_options={"keyPaddingMask": kpm}, torch_kwargs={"key_padding_mask": kpm})]))
    causal = nn.Transformer.generate_square_subsequent_mask(3) != 0
    out.append(module_case("MultiheadAttention/causal-no-weights", "MultiheadAttention", [8, 2], {}, mk(), [
        call(True, [q, q, q], tb_options={"isCausal": True, "needWeights": False},
             torch_kwargs={"attn_mask": causal, "is_causal": True, "need_weights": False})]))
    enc_kw = {"dim_feedforward": 16, "dropout": 0.0}
    src = x(3, 2, 8)
    out.append(module_case("TransformerEncoderLayer/post-norm-relu", "TransformerEncoderLayer", [8, 2], {"dimFeedforward": 16, "dropout": 0},
                           lambda: nn.TransformerEncoderLayer(8, 2, **enc_kw), [call(True, [src])]))
    out.append(module_case("TransformerEncoderLayer/pre-norm-gelu-batch-first-causal", "TransformerEncoderLayer", [8, 2],
                           {"dimFeedforward": 16, "dropout": 0, "activation": "gelu", "normFirst": True, "batchFirst": True, "layerNormEps": 1e-4},
                           lambda: nn.TransformerEncoderLayer(8, 2, **enc_kw, activation="gelu", norm_first=True, batch_first=True, layer_norm_eps=1e-4),
                           [call(True, [x(2, 3, 8)], tb_options={"isCausal": True}, torch_kwargs={"src_mask": causal, "is_causal": True})]))
    out.append(module_case("TransformerEncoderLayer/key-padding-eval", "TransformerEncoderLayer", [8, 2], {"dimFeedforward": 16, "dropout": 0},
                           lambda: nn.TransformerEncoderLayer(8, 2, **enc_kw),
                           [call(False, [src], tb_options={"keyPaddingMask": kpm[:, :3]}, torch_kwargs={"src_key_padding_mask": kpm[:, :3]})]))

    # Loss modules: (prediction, target) calls; the target is not differentiated.
    logits, t = x(5, 4), torch.tensor([0, 3, -100, 1, 2], dtype=torch.int32)
    for nm, mod, opts, make, target in [
        ("CrossEntropyLoss/smoothing", "CrossEntropyLoss", {"labelSmoothing": 0.1}, lambda: nn.CrossEntropyLoss(label_smoothing=0.1), t),
        ("NLLLoss/sum", "NLLLoss", {"reduction": "sum"}, lambda: nn.NLLLoss(reduction="sum"), t),
        ("MSELoss", "MSELoss", {}, nn.MSELoss, x(5, 4)),
        ("L1Loss/none", "L1Loss", {"reduction": "none"}, lambda: nn.L1Loss(reduction="none"), x(5, 4)),
    ]:
        case = module_case(nm, mod, [opts], {}, make, [call(True, [logits, target], diff=[0])])
        out.append(case)
    pw = rand(g, 4, lo=0.5, hi=2)
    out.append(module_case("BCEWithLogitsLoss/posWeight", "BCEWithLogitsLoss", [{"posWeight": pw}], {},
                           lambda: nn.BCEWithLogitsLoss(pos_weight=pw), [call(True, [logits, rand(g, 5, 4)], diff=[0])]))
    return out
