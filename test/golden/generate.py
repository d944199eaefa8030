#!/usr/bin/env python3
# Regenerates the golden fixtures in test/golden/fixtures/ from PyTorch 2.13 (CPU): forward
# values and gradients of every tensorbook op, loss, nn module, optimizer and scheduler on
# seeded random and edge inputs. The vitest suite (test/golden/*.test.ts) replays them on
# both backends and through tb.fn; `npm test` reads only the committed files, never PyTorch.
#
# Setting up the interpreter (PyTorch is not a Debian package; a CPU wheel of 2.13 is):
#   python3.11 -m venv --system-site-packages V      # NumPy comes from Debian's python3-numpy
#   V/bin/pip install --no-index --no-deps torch-2.13*.whl
# then, from the repository root:
#   V/bin/python test/golden/generate.py
#
# Output is deterministic: every case draws from a generator seeded by its own name, PyTorch
# runs on one thread (so reductions keep one summation order), and the JSON is written one
# case per line. Rerunning leaves the files byte-identical; adding a case changes only its
# line. Keep shapes small: the fixtures together stay under ~4 MB.
#
# test/golden/ieee.py and fixtures/ieee.json (elementwise IEEE edge cases) are generated on
# their own; this script does not touch them.

import json
import os
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402

import golden_elementwise  # noqa: E402
import golden_modules  # noqa: E402
import golden_nn_ops  # noqa: E402
import golden_optim  # noqa: E402
import golden_shape_ops  # noqa: E402

FIXTURES = os.path.join(HERE, "fixtures")


def write(name, cases):
    header = {"generator": "test/golden/generate.py", "torch": torch.__version__.split("+")[0]}
    path = os.path.join(FIXTURES, name)
    with open(path, "w") as f:
        f.write("{\"meta\": " + json.dumps(header) + ",\n")
        if isinstance(cases, dict):
            parts = []
            for key, items in cases.items():
                parts.append(json.dumps(key) + ": [\n" + ",\n".join(json.dumps(c, allow_nan=False) for c in items) + "\n]")
            f.write(",\n".join(parts) + "\n}\n")
        else:
            f.write("\"cases\": [\n" + ",\n".join(json.dumps(c, allow_nan=False) for c in cases) + "\n]}\n")
    count = sum(len(v) for v in cases.values()) if isinstance(cases, dict) else len(cases)
    print(f"{path}: {count} cases, {os.path.getsize(path)} bytes")


def main():
    if not torch.__version__.startswith("2.13"):
        print(f"warning: fixtures are defined against PyTorch 2.13, running {torch.__version__}", file=sys.stderr)
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    os.makedirs(FIXTURES, exist_ok=True)
    write("elementwise.json", golden_elementwise.cases())
    write("shape-ops.json", golden_shape_ops.cases())
    write("nn-ops.json", golden_nn_ops.cases())
    write("modules.json", golden_modules.cases())
    write("optim.json", golden_optim.cases())


if __name__ == "__main__":
    main()
