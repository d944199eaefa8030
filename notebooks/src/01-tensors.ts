// %% [markdown]
// # 01 · Tensors
//
// A tensor is an n-dimensional array of numbers with a **shape** and a **dtype**. This notebook
// covers creating tensors, dtypes, broadcasting, indexing and slicing, views, printing, and how
// tensor memory is released. Every cell is TypeScript; the value of a cell's last expression is
// shown below it.
// %%
import * as tb from "tensorbook";
tb.seed(0); // every random op below is reproducible

const a = tb.tensor([[1, 2, 3], [4, 5, 6]]);
a
// %% [markdown]
// The rich view shows shape, dtype and summary statistics; `toString()` (or `console.log`) gives
// the plain text form that also appears in terminals and diffs.
// %%
console.log(a.toString());
console.log("shape", a.shape, "dtype", a.dtype, "size", a.size, "ndim", a.ndim);
// %% [markdown]
// ## Creating tensors
//
// The usual constructors, with PyTorch's names in camelCase. Random tensors come from a seeded
// counter-based generator (Philox), so `tb.seed(0)` reproduces them exactly on every machine.
// %%
console.log(tb.zeros([2, 3]).toString());
console.log(tb.ones([2, 2], { dtype: "int32" }).toString());
console.log(tb.full([2, 2], 7).toString());
console.log(tb.arange(0, 10, 2).toString());
console.log(tb.linspace(0, 1, 5).toString());
console.log(tb.eye(3).toString());
tb.seed(42);
console.log(tb.randn([2, 4]).toString());
console.log(tb.randint(0, 10, [8]).toString());
// %% [markdown]
// ## Dtypes
//
// `float32` (the default for floating data), `int32` and `bool`. Mixed operations promote the
// way PyTorch does: int32 with float32 gives float32; comparisons give bool.
// %%
const ints = tb.tensor([1, 2, 3], { dtype: "int32" });
const halves = ints.div(2);
const mask = ints.gt(1);
console.log(ints.dtype, halves.dtype, mask.dtype);
console.log(halves.toString(), mask.toString());
console.log("cast back:", halves.cast("int32").toString());
// %% [markdown]
// ## Broadcasting
//
// Shapes are aligned from the right; a dimension of size 1 (or a missing one) stretches to match.
// A `[3, 1]` column plus a `[4]` row gives a `[3, 4]` table, without copying either input.
// %%
const col = tb.arange(0, 3).reshape([3, 1]);
const row = tb.arange(0, 40, 10);
col.add(row)
// %% [markdown]
// Shapes that cannot broadcast fail with an error that names the op and both shapes:
// %%
try {
  tb.ones([2, 3]).add(tb.ones([4]));
} catch (e) {
  console.log((e as Error).message);
}
// %% [markdown]
// ## Indexing and slicing
//
// `x.index(...)` takes one spec per axis: a number picks one position (and drops the axis),
// `null` keeps the whole axis, and `[start, stop, step]` slices (negative numbers count from the
// end). `gather` and `indexSelect` pick by index tensors; `where` picks by a mask.
// %%
const grid = tb.arange(0, 20).reshape([4, 5]);
console.log(grid.toString());
console.log("row 1:       ", grid.index(1).toString());
console.log("column -1:   ", grid.index(null, -1).toString());
console.log("every other: ", grid.index([0, null, 2], [1, 4]).toString());
console.log("reversed:    ", grid.index(0, [null, null, -1]).toString());
console.log("rows 3 and 0:", grid.indexSelect(0, [3, 0]).toString());
console.log("where > 12:  ", tb.where(grid.gt(12), grid, 0).toString());
// %% [markdown]
// ## Views
//
// Reshape, transpose, slicing and `expand` return **views**: new shapes and strides over the
// same memory, so they are free. `contiguous()` copies a view into a fresh dense layout when
// needed. `tb.memory()` counts live tensors and bytes, which shows that views do not copy.
// %%
const base = tb.arange(0, 6).reshape([2, 3]);
const before = tb.memory();
const t = base.T;               // [3, 2] view
const wide = base.index(0).expand([4, 3]); // broadcast view: stride 0 along the new axis
const after = tb.memory();
console.log("transpose", t.shape, "expanded", wide.shape);
console.log(`bytes allocated by the views: ${after.bytes - before.bytes}`);
const dense = t.contiguous();
console.log(`contiguous copy adds ${tb.memory().bytes - after.bytes} bytes`);
// %% [markdown]
// ## Reductions and printing
//
// Reductions take an axis (or a list of axes) and `{ keepdims }`. Large tensors print with
// ellipses, like NumPy and PyTorch.
// %%
const m = tb.arange(0, 12).reshape([3, 4]).float();
console.log("sum:", m.sum().item(), " mean per row:", m.mean(1).toString());
console.log("max per column:", m.max(0).toString(), " argmax per row:", m.argmax(1).toString());
console.log("keepdims:", m.sum(1, { keepdims: true }).shape);
console.log(tb.softmax(tb.tensor([1, 2, 3]), -1).toString());
tb.arange(0, 2000).reshape([40, 50])
// %% [markdown]
// ## Memory
//
// Tensors live in backend memory (a WebAssembly heap or typed arrays). They are released
// deterministically by `dispose()`, in bulk by `tb.scope(fn)` (everything created inside and not
// returned is freed when it ends; it works across `await`), and otherwise by the garbage
// collector. A training loop therefore runs in flat memory without bookkeeping.
// %%
const start = tb.memory();
const big = tb.randn([256, 256]);
console.log("after randn:", tb.memory().bytes - start.bytes, "bytes");
big.dispose();
console.log("after dispose:", tb.memory().bytes - start.bytes, "bytes; disposed =", big.disposed);

const kept = tb.scope(() => {
  const x = tb.randn([128, 128]);
  const y = x.matmul(x).relu();   // temporaries created in the scope...
  return y.sum();                 // ...are freed, except what is returned
});
console.log("after scope:", tb.memory().tensors - start.tensors, "tensor(s) kept, value", kept.item().toFixed(2));
// %% [markdown]
// Using a tensor after `dispose()` is an error that says so, rather than reading freed memory:
// %%
try {
  big.sum();
} catch (e) {
  console.log((e as Error).message);
}
