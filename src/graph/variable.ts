// Variables: learned state. `tb.variable(init, { name })` returns a Variable, a tensor
// usable wherever a tensor is, whose value `assign` replaces.
//
// In the picture this project draws, a variable is a vertex of the graph like an input:
// a traced function reads it through a variable vertex and an optimizer's update is an
// edge into it. Eagerly, assign copies the new value into the variable's own storage (so
// views and optimizers holding it see the change); under a graph trace it records the
// update, which the compiled graph performs after each run. Float variables require grad
// by default, as PyTorch's nn.Parameter does.

import type { View } from "../backend/backend.js";
import { currentTrace } from "../core/trace.js";
import { withGrad } from "../core/trace.js";
import { allocate } from "../core/runtime.js";
import { itemSize } from "../backend/backend.js";
import { contiguousStrides, fmtShape, sizeOf } from "../tensor/shape.js";
import { Tensor, type TensorLike } from "../tensor/tensor.js";
import { tensor, type NestedArray } from "../ops/creation.js";
import { broadcastTo, cast } from "../ops/api.js";

export interface VariableOptions {
  name?: string;
  /** Default: true for float32 values. */
  requiresGrad?: boolean;
}

/** A trace that knows how to record a variable update (graph traces do). */
interface AssigningTrace {
  assignVariable?(variable: Variable, value: Tensor): void;
}

let counter = 0;

export class Variable extends Tensor {
  /** Mutable so nn modules can name their parameters by path ("layer1.weight"). */
  name: string;

  constructor(init: Tensor | NestedArray, options: VariableOptions = {}) {
    const source = init instanceof Tensor ? init : tensor(init);
    const src = withGrad(false, () => source.detach());
    const shape = [...src.shape];
    const storage = allocate(src._storage().backend, sizeOf(shape) * itemSize[src.dtype], `variable ${src.dtype}${fmtShape(shape)}`);
    const view: View = { buffer: storage.buffer, dtype: src.dtype, shape, strides: contiguousStrides(shape), offset: 0 };
    if (sizeOf(shape) > 0) storage.backend.dispatch({ kind: "copy", input: src._view(), out: view });
    super(shape, src.dtype, view, storage, null);
    this.name = options.name ?? `var${counter++}`;
    if (options.requiresGrad ?? this.dtype === "float32") this.requiresGrad_(true);
  }

  /**
   * Replaces the value (same shape, or broadcastable to it; cast to this dtype). Eagerly the
   * copy happens now; in a traced function it becomes an update of the compiled graph.
   */
  assign(value: TensorLike): this {
    const v = withGrad(false, () => {
      const t = value instanceof Tensor ? value : tensor(value as number, { dtype: this.dtype });
      const c = t.dtype === this.dtype ? t : cast(t, this.dtype);
      return fmtShape(c.shape) === fmtShape(this.shape) ? c : broadcastTo(c, this.shape);
    });
    const trace = currentTrace() as AssigningTrace;
    if (trace.assignVariable) trace.assignVariable(this, v);
    else withGrad(false, () => this._assign(v));
    return this;
  }

  override toString(): string {
    return `Variable(${JSON.stringify(this.name)}, ${this.dtype}${fmtShape(this.shape)})`;
  }
}

export function variable(init: Tensor | NestedArray, options?: VariableOptions): Variable {
  return new Variable(init, options);
}
