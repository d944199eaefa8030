// tb.optim.LBFGS: limited-memory BFGS with PyTorch's algorithm (torch.optim.LBFGS without a
// line search): step(closure) re-evaluates the loss through the closure up to maxIter times,
// building the inverse-Hessian estimate from the last historySize (s, y) pairs by the
// two-loop recursion, and moves the parameters by a fixed step lr along it.
//
// Unlike the other optimizers this is no graph of tensor ops: each iteration branches on
// values (curvature ys > 1e-10, convergence tests), so it runs eagerly on flat float32
// copies of the parameters and gradients (dot products summed in double, rounded to float32
// as PyTorch's float32 dot returns them), and writes the parameters back. It takes one
// parameter group and does not run inside tb.fn.
//
// Letters: g flat gradient, d search direction, t step length, s = t d and y = g - g_prev
// the pairs of the history, ro = 1 / (y . s), hDiag the initial inverse-Hessian scale.

import { Tensor } from "../tensor/tensor.js";
import { Variable } from "../graph/variable.js";
import { withGrad } from "../core/trace.js";
import { withOptions } from "./optimizer.js";

export interface LBFGSOptions {
  lr: number;
  maxIter: number;
  /** Closure evaluations per step; default floor(maxIter * 5 / 4). */
  maxEval: number;
  toleranceGrad: number;
  toleranceChange: number;
  historySize: number;
}

const f32 = Math.fround;

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return f32(s);
}

function absMax(a: Float32Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

/** L-BFGS (Nocedal), PyTorch's form. Each step(closure): with g the gradient and the
 *  history pairs (s_i, y_i), d = -H g by the two-loop recursion (H starts as
 *  (y.s / y.y) I); the first iteration ever takes t = min(1, 1 / sum|g|) lr, later ones
 *  t = lr; p += t d; stops after maxIter iterations or maxEval closure calls, or when
 *  max|g| <= toleranceGrad, g.d > -toleranceChange, max|t d| <= toleranceChange or the loss
 *  changes by less than toleranceChange. Defaults: lr 1, maxIter 20, maxEval maxIter * 5/4,
 *  toleranceGrad 1e-7, toleranceChange 1e-9, historySize 100. The closure clears the
 *  gradients, computes the loss, calls backward and returns the loss; step returns the
 *  closure's first loss.
 *
 *      const opt = new tb.optim.LBFGS(model.parameters(), { lr: 1, maxIter: 20 });
 *      opt.step(() => { opt.zeroGrad(); const loss = tb.mseLoss(model(x), y); loss.backward(); return loss; });
 */
export class LBFGS {
  readonly params: Tensor[];
  readonly defaults: LBFGSOptions;
  private readonly h: {
    funcEvals: number;
    nIter: number;
    d?: Float32Array;
    t?: number;
    oldDirs: Float32Array[];
    oldStps: Float32Array[];
    ro: number[];
    hDiag: number;
    prevFlatGrad?: Float32Array;
    prevLoss?: number;
  } = { funcEvals: 0, nIter: 0, oldDirs: [], oldStps: [], ro: [], hDiag: 1 };

  constructor(params: Iterable<Tensor>, options: Partial<LBFGSOptions> = {}) {
    this.params = [...params];
    if (this.params.length === 0) throw new Error("LBFGS: got an empty parameter list (pass model.parameters())");
    const maxIter = options.maxIter ?? 20;
    this.defaults = withOptions("LBFGS", { lr: 1, maxIter, maxEval: Math.floor((maxIter * 5) / 4), toleranceGrad: 1e-7, toleranceChange: 1e-9, historySize: 100 }, options);
    this.params.forEach((p, i) => {
      if (!p.isLeaf || p.dtype !== "float32") throw new Error(`LBFGS: parameter ${i} must be a float32 leaf tensor (a parameter)`);
    });
  }

  /** Sets every parameter's gradient to null. */
  zeroGrad(): void {
    for (const p of this.params) p.grad = null;
  }

  private flatGrad(): Float32Array {
    const n = this.params.reduce((k, p) => k + p.size, 0);
    const out = new Float32Array(n);
    let o = 0;
    for (const p of this.params) {
      if (p.grad) out.set(p.grad.dataSync() as Float32Array, o);
      o += p.size;
    }
    return out;
  }

  /** p += t d, parameter by parameter. */
  private addDirection(t: number, d: Float32Array): void {
    let o = 0;
    withGrad(false, () => {
      for (const p of this.params) {
        const cur = p.dataSync() as Float32Array;
        const next = new Float32Array(p.size);
        for (let i = 0; i < p.size; i++) next[i] = cur[i]! + t * d[o + i]!;
        const v = Tensor._fromArray(next, [...p.shape], "float32");
        if (p instanceof Variable) p.assign(v);
        else p._assign(v);
        o += p.size;
      }
    });
  }

  /** Runs up to maxIter iterations, calling closure for the loss and gradients; returns the
   *  closure's first loss. */
  step(closure: () => Tensor): Tensor {
    const { lr, maxIter, maxEval, toleranceGrad, toleranceChange, historySize } = this.defaults;
    const st = this.h;
    const evaluate = (): Tensor => withGrad(true, closure);
    const origLoss = evaluate();
    let loss = origLoss.item();
    let currentEvals = 1;
    st.funcEvals++;
    let g = this.flatGrad();
    if (absMax(g) <= toleranceGrad) return origLoss;
    let { d, t } = st;
    let nIter = 0;
    while (nIter < maxIter) {
      nIter++;
      st.nIter++;
      if (st.nIter === 1) {
        d = g.map((v) => -v);
        st.oldDirs = [];
        st.oldStps = [];
        st.ro = [];
        st.hDiag = 1;
      } else {
        const y = g.map((v, i) => v - st.prevFlatGrad![i]!);
        const s = d!.map((v) => v * t!);
        const ys = dot(y, s);
        if (ys > 1e-10) {
          if (st.oldDirs.length === historySize) {
            st.oldDirs.shift();
            st.oldStps.shift();
            st.ro.shift();
          }
          st.oldDirs.push(y);
          st.oldStps.push(s);
          st.ro.push(f32(1 / ys));
          st.hDiag = f32(ys / dot(y, y));
        }
        const k = st.oldDirs.length;
        const al: number[] = new Array<number>(k);
        const q = g.map((v) => -v);
        for (let i = k - 1; i >= 0; i--) {
          al[i] = f32(dot(st.oldStps[i]!, q) * st.ro[i]!);
          const yi = st.oldDirs[i]!;
          for (let j = 0; j < q.length; j++) q[j] = q[j]! - al[i]! * yi[j]!;
        }
        const r = q.map((v) => v * st.hDiag);
        for (let i = 0; i < k; i++) {
          const be = f32(dot(st.oldDirs[i]!, r) * st.ro[i]!);
          const si = st.oldStps[i]!;
          for (let j = 0; j < r.length; j++) r[j] = r[j]! + (al[i]! - be) * si[j]!;
        }
        d = r;
      }
      st.prevFlatGrad = g.slice();
      st.prevLoss = loss;
      if (st.nIter === 1) {
        let sum = 0;
        for (const v of g) sum += Math.abs(v);
        t = f32(Math.min(1, f32(1 / f32(sum))) * lr);
      } else t = lr;
      const gtd = dot(g, d!);
      if (gtd > -toleranceChange) break;
      let lsEvals = 0;
      this.addDirection(t, d!);
      let optCond = false;
      if (nIter !== maxIter) {
        loss = evaluate().item();
        g = this.flatGrad();
        optCond = absMax(g) <= toleranceGrad;
        lsEvals = 1;
      }
      currentEvals += lsEvals;
      st.funcEvals += lsEvals;
      if (nIter === maxIter || currentEvals >= maxEval || optCond) break;
      if (absMax(d!.map((v) => v * t!)) <= toleranceChange) break;
      if (Math.abs(loss - st.prevLoss) < toleranceChange) break;
    }
    st.d = d;
    st.t = t;
    return origLoss;
  }
}
