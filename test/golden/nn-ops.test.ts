// Golden fixture nn-ops.json (PyTorch 2.13, written by test/golden/generate.py): every case on
// both backends, eagerly and through tb.fn, forward and gradient (see run-ops.ts).

import { defineOpSuite } from "./run-ops.js";

defineOpSuite("nn-ops.json");
