# Golden cases for tb.optim: every optimizer with its options over 5 steps on a small MLP
# (Linear(3, 5) - Tanh - Linear(5, 2), mean squared error), the loss before each step and
# every parameter after it, with optional gradient clipping; and every learning-rate
# scheduler's rates (and OneCycleLR's momenta) over 10-odd steps for two parameter groups,
# ReduceLROnPlateau's for a given metric sequence.
#
# Options are stored in tensorbook's spelling (weightDecay, lrDecay, ...); OPTION_NAMES
# gives PyTorch's.

import torch
import torch.nn as nn
import torch.nn.functional as F

from golden_common import enc, gen_for, randn

OPTION_NAMES = {"maxIter": "max_iter", "historySize": "history_size", "toleranceGrad": "tolerance_grad", "toleranceChange": "tolerance_change",
                "maxEval": "max_eval",
                "weightDecay": "weight_decay", "lrDecay": "lr_decay", "initialAccumulatorValue": "initial_accumulator_value",
                "momentumDecay": "momentum_decay", "decoupledWeightDecay": "decoupled_weight_decay"}

STEPS = 5


def torch_options(options):
    return {OPTION_NAMES.get(k, k): (tuple(v) if k == "betas" else v) for k, v in options.items()}


def mlp(g):
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.7)
    return m


def optimizer_case(name, kind, options, groups=None, clip=None, steps=STEPS):
    """groups: None (one group) or a list of per-group overrides for the first and second
    Linear's parameters. clip: None, {"norm": maxNorm} or {"value": clipValue}."""
    g = gen_for(name)
    m = mlp(g)
    x, y = randn(g, 6, 3), randn(g, 6, 2)
    case = {"name": name, "optimizer": kind, "options": options, "groups": groups, "clip": clip,
            "state": {k: enc(v) for k, v in m.state_dict().items()}, "x": enc(x), "y": enc(y),
            "losses": [], "totalNorms": [], "params": []}
    ctor = getattr(torch.optim, kind)
    if groups is None:
        params = m.parameters()
    else:
        params = [{"params": list(m[0].parameters()), **torch_options(groups[0])}, {"params": list(m[2].parameters()), **torch_options(groups[1])}]
    if kind == "LBFGS":  # step(closure): the closure's first loss, many evaluations per step
        opt = ctor(params, **torch_options(options))

        def closure():
            opt.zero_grad()
            loss = F.mse_loss(m(x), y)
            loss.backward()
            return loss
        for _ in range(steps):
            case["losses"].append(float(opt.step(closure)))
            case["params"].append({k: enc(v) for k, v in m.state_dict().items()})
        return case
    opt = ctor(params, **torch_options(options), foreach=False)
    for _ in range(steps):
        opt.zero_grad()
        loss = F.mse_loss(m(x), y)
        loss.backward()
        if clip and "norm" in clip:
            case["totalNorms"].append(float(nn.utils.clip_grad_norm_(m.parameters(), clip["norm"], foreach=False)))
        if clip and "value" in clip:
            nn.utils.clip_grad_value_(m.parameters(), clip["value"], foreach=False)
        opt.step()
        case["losses"].append(float(loss))
        case["params"].append({k: enc(v) for k, v in m.state_dict().items()})
    return case


def optimizer_cases():
    O = [
        ("SGD/plain", "SGD", {"lr": 0.1}),
        ("SGD/momentum", "SGD", {"lr": 0.1, "momentum": 0.9}),
        ("SGD/momentum-dampening-wd", "SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weightDecay": 0.1}),
        ("SGD/nesterov-wd", "SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weightDecay": 0.01}),
        ("Adam/default", "Adam", {}),
        ("Adam/options", "Adam", {"lr": 0.05, "betas": [0.8, 0.95], "eps": 1e-6, "weightDecay": 0.1}),
        ("Adam/amsgrad", "Adam", {"lr": 0.05, "amsgrad": True}),
        ("AdamW/default", "AdamW", {"lr": 0.05}),
        ("AdamW/wd-amsgrad", "AdamW", {"lr": 0.05, "weightDecay": 0.3, "amsgrad": True, "betas": [0.85, 0.99]}),
        ("RMSprop/default", "RMSprop", {}),
        ("RMSprop/momentum-centered-wd", "RMSprop", {"lr": 0.02, "alpha": 0.9, "momentum": 0.5, "centered": True, "weightDecay": 0.05, "eps": 1e-6}),
        ("RMSprop/centered", "RMSprop", {"lr": 0.01, "centered": True}),
        ("Adagrad/default", "Adagrad", {"lr": 0.1}),
        ("Adagrad/options", "Adagrad", {"lr": 0.1, "lrDecay": 0.05, "weightDecay": 0.1, "initialAccumulatorValue": 0.2, "eps": 1e-6}),
    ]
    out = [optimizer_case(n, k, o) for n, k, o in O]
    # RAdam's adaptive term starts once rho_t > 5 (step 6 with beta2 = 0.999): 8 steps.
    A = [
        ("NAdam/default", "NAdam", {}, 5),
        ("NAdam/options", "NAdam", {"lr": 0.05, "betas": [0.8, 0.95], "eps": 1e-6, "weightDecay": 0.1, "momentumDecay": 0.01}, 6),
        ("NAdam/decoupled-wd", "NAdam", {"lr": 0.02, "weightDecay": 0.2, "decoupledWeightDecay": True}, 5),
        ("RAdam/default", "RAdam", {"lr": 0.05}, 8),
        ("RAdam/options", "RAdam", {"lr": 0.02, "betas": [0.8, 0.99], "eps": 1e-6, "weightDecay": 0.1}, 8),
        ("RAdam/decoupled-wd", "RAdam", {"lr": 0.05, "weightDecay": 0.3, "decoupledWeightDecay": True}, 8),
        ("Adamax/default", "Adamax", {}, 5),
        ("Adamax/options", "Adamax", {"lr": 0.05, "betas": [0.7, 0.9], "eps": 1e-4, "weightDecay": 0.1}, 6),
        ("Adadelta/default", "Adadelta", {}, 5),
        ("Adadelta/options", "Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-4, "weightDecay": 0.05}, 6),
    ]
    out += [optimizer_case(n, k, o, steps=st) for n, k, o, st in A]
    # LBFGS amplifies rounding: with lr 1 and maxIter 4 two float32 runs (PyTorch's, ours on
    # either backend) part by 1e-4 after 5 steps. These options keep PyTorch's float32 run
    # within 1e-6 of its float64 run, so the usual tolerance holds.
    out += [optimizer_case(n, "LBFGS", o) for n, o in [
        ("LBFGS/maxIter3", {"lr": 0.2, "maxIter": 3}),
        ("LBFGS/history2", {"lr": 0.5, "maxIter": 3, "historySize": 2}),
    ]]
    out.append(optimizer_case("NAdam/groups", "NAdam", {"lr": 0.01}, groups=[{"momentumDecay": 0.02}, {"lr": 0.05, "betas": [0.5, 0.9]}]))
    out.append(optimizer_case("Adadelta/groups", "Adadelta", {"rho": 0.95}, groups=[{"lr": 0.3}, {"weightDecay": 0.1}]))
    out.append(optimizer_case("SGD/groups", "SGD", {"lr": 0.1, "momentum": 0.5}, groups=[{"lr": 0.3}, {"momentum": 0.9, "weightDecay": 0.1}]))
    out.append(optimizer_case("Adam/groups", "Adam", {"lr": 0.01}, groups=[{}, {"lr": 0.1, "betas": [0.5, 0.9]}]))
    out.append(optimizer_case("SGD/clip-norm", "SGD", {"lr": 0.1, "momentum": 0.9}, clip={"norm": 0.5}))
    out.append(optimizer_case("Adam/clip-value", "Adam", {"lr": 0.05}, clip={"value": 0.05}))
    return out


# Lambdas of LambdaLR by name (test/golden/optim.test.ts has the same table).
LAMBDAS = {"0.9^e": lambda e: 0.9 ** e, "1/(e+1)": lambda e: 1 / (e + 1), "warmup3": lambda e: min(1.0, (e + 1) / 3)}


SCHEDULER_OPTION_NAMES = {
    "stepSize": "step_size", "tMax": "T_max", "etaMin": "eta_min", "startFactor": "start_factor", "endFactor": "end_factor",
    "totalIters": "total_iters", "maxLr": "max_lr", "totalSteps": "total_steps", "pctStart": "pct_start",
    "annealStrategy": "anneal_strategy", "divFactor": "div_factor", "finalDivFactor": "final_div_factor",
    "threePhase": "three_phase", "cycleMomentum": "cycle_momentum", "baseMomentum": "base_momentum",
    "maxMomentum": "max_momentum", "power": "power", "mode": "mode", "factor": "factor", "patience": "patience",
    "threshold": "threshold", "thresholdMode": "threshold_mode", "cooldown": "cooldown", "minLr": "min_lr", "eps": "eps"}


def make_scheduler(opt, kind, args, options):
    """SequentialLR's args: [[kind, args, options] of each scheduler, milestones]."""
    if kind == "SequentialLR":
        subs = [make_scheduler(opt, *spec) for spec in args[0]]
        return torch.optim.lr_scheduler.SequentialLR(opt, subs, args[1])
    targs = [LAMBDAS[args[0]]] if kind == "LambdaLR" else list(args)
    topts = {SCHEDULER_OPTION_NAMES[k]: v for k, v in options.items()}
    return getattr(torch.optim.lr_scheduler, kind)(opt, *targs, **topts)


def scheduler_case(name, kind, args, options, steps, opt_kind="SGD", opt_options=None, metrics=None):
    """Two parameter groups (lr 0.1 and 0.02); the rates after construction and after each
    of `steps` steps, each group's; for OneCycleLR also the momenta (or Adam's beta1).
    ReduceLROnPlateau steps with metrics[k] at step k."""
    opt_options = opt_options or {"lr": 0.1, "momentum": 0.9}
    a, b = torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)
    opt = getattr(torch.optim, opt_kind)([{"params": [a]}, {"params": [b], "lr": 0.02}], **torch_options(opt_options))
    sched = make_scheduler(opt, kind, args, options)

    def momenta():
        return [grp["betas"][0] if "betas" in grp else grp["momentum"] for grp in opt.param_groups]

    lrs, moms = [sched.get_last_lr()], [momenta()]
    for k in range(steps):
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[k])
        lrs.append(sched.get_last_lr())
        moms.append(momenta())
    case = {"name": name, "scheduler": kind, "args": args, "options": options, "optimizer": opt_kind, "optimizerOptions": opt_options,
            "lrs": lrs}
    if metrics is not None:
        case["metrics"] = metrics
    if kind == "OneCycleLR" and options.get("cycleMomentum", True):
        case["momenta"] = moms
    if kind == "OneCycleLR":
        try:
            opt.step()
            sched.step()
            case["stepsBeforeError"] = None
        except ValueError as e:
            case["stepsBeforeError"] = steps
            case["error"] = str(e)
    return case


def scheduler_cases():
    S = [
        ("StepLR", "StepLR", [3], {}, 12),
        ("StepLR/gamma", "StepLR", [3, 0.5], {}, 12),
        ("CosineAnnealingLR/past-tMax", "CosineAnnealingLR", [5, 0.001], {}, 14),
        ("CosineAnnealingLR", "CosineAnnealingLR", [10], {}, 10),
        ("LinearLR/default", "LinearLR", [], {}, 8),
        ("LinearLR/decay", "LinearLR", [], {"startFactor": 1.0, "endFactor": 0.1, "totalIters": 4}, 8),
        ("LambdaLR/0.9^e", "LambdaLR", ["0.9^e"], {}, 10),
        ("LambdaLR/1/(e+1)", "LambdaLR", ["1/(e+1)"], {}, 10),
        ("LambdaLR/warmup3", "LambdaLR", ["warmup3"], {}, 6),
        ("OneCycleLR/cos", "OneCycleLR", [], {"maxLr": 0.5, "totalSteps": 10}, 10),
        ("OneCycleLR/linear-three-phase", "OneCycleLR", [], {"maxLr": [0.5, 0.1], "totalSteps": 12, "annealStrategy": "linear", "threePhase": True}, 12),
        ("OneCycleLR/options", "OneCycleLR", [], {"maxLr": 1.0, "totalSteps": 11, "pctStart": 0.25, "divFactor": 10, "finalDivFactor": 100,
                                                   "baseMomentum": 0.8, "maxMomentum": 0.9}, 11),
        ("OneCycleLR/no-momentum", "OneCycleLR", [], {"maxLr": 0.3, "totalSteps": 8, "cycleMomentum": False}, 8),
    ]
    S += [
        ("MultiStepLR", "MultiStepLR", [[3, 7, 8]], {}, 15),
        ("MultiStepLR/gamma-unsorted", "MultiStepLR", [[10, 4], 0.5], {}, 15),
        ("ExponentialLR", "ExponentialLR", [0.8], {}, 15),
        ("PolynomialLR/default", "PolynomialLR", [], {}, 15),
        ("PolynomialLR/power", "PolynomialLR", [], {"totalIters": 10, "power": 2.0}, 15),
        ("CosineAnnealingWarmRestarts", "CosineAnnealingWarmRestarts", [4], {}, 15),
        ("CosineAnnealingWarmRestarts/tMult-etaMin", "CosineAnnealingWarmRestarts", [3, 2, 0.001], {}, 20),
        ("SequentialLR/warmup-exp", "SequentialLR", [[["LinearLR", [], {"startFactor": 0.1, "totalIters": 4}], ["ExponentialLR", [0.9], {}]], [4]], {}, 15),
        ("SequentialLR/three", "SequentialLR", [[["StepLR", [2, 0.5], {}], ["CosineAnnealingWarmRestarts", [3], {}],
                                                 ["PolynomialLR", [], {"totalIters": 4, "power": 0.5}]], [5, 11]], {}, 18),
    ]
    out = [scheduler_case(*s) for s in S]
    metrics = [1.0, 0.9, 0.9, 0.95, 0.91, 0.9, 0.8, 0.85, 0.86, 0.87, 0.88, 0.79, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8]
    P = [
        ("ReduceLROnPlateau/default-patience2", {"patience": 2}),
        ("ReduceLROnPlateau/options", {"factor": 0.5, "patience": 1, "threshold": 0.05, "cooldown": 2, "minLr": [0.03, 0.001]}),
        ("ReduceLROnPlateau/abs", {"factor": 0.3, "patience": 0, "threshold": 0.01, "thresholdMode": "abs", "minLr": 0.005}),
        ("ReduceLROnPlateau/max", {"mode": "max", "factor": 0.5, "patience": 1, "eps": 0.01}),
    ]
    out += [scheduler_case(n, "ReduceLROnPlateau", [], o, len(metrics), metrics=metrics) for n, o in P]
    out.append(scheduler_case("OneCycleLR/adam-beta1", "OneCycleLR", [], {"maxLr": 0.01, "totalSteps": 9}, 9, "Adam", {"lr": 0.001}))
    return out


def cases():
    return {"optimizers": optimizer_cases(), "schedulers": scheduler_cases()}

