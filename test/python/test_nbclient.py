"""nbclient (Jupyter's notebook executor) runs a 30-cell TypeScript notebook through the
tensorbook kernel: top-level await, display updates, comms, stdout/stderr, rich displays,
clear_output, and two error cells (a thrown Error and a type error) with allow_errors.
The first run is checked against the expected outputs; 19 more runs must give identical
outputs and execution counts. Run by test/python/python.test.ts (kernelspec "tensorbook").
"""

import copy
import json
import os
import unittest

import nbformat
from nbclient import NotebookClient

HERE = os.path.dirname(os.path.abspath(__file__))
RUNS = int(os.environ.get("TENSORBOOK_NB_RUNS", "20"))
DISPLAY = 'Symbol.for("Jupyter.display")'

# (source, expected outputs, one (output_type, key, value) per output; value None = key
# present). Consecutive console.log lines are batched into one stream message, as ipykernel does.
CELLS = [
    ('const greeting = "hello";\ngreeting', [("execute_result", "text/plain", "'hello'")]),
    ('console.log("line 1");\nconsole.log("line 2")', [("stream", "stdout", "line 1\nline 2\n")]),
    ("let total = 0;\nfor (let i = 1; i <= 10; i++) total += i;\ntotal", [("execute_result", "text/plain", "55")]),
    ("const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));", []),
    ("await sleep(5);\ntotal * 2", [("execute_result", "text/plain", "110")]),
    ("const values = await Promise.all([1, 2, 3].map(async (v) => { await sleep(v); return v * v; }));\nvalues", [("execute_result", "text/plain", "[ 1, 4, 9 ]")]),
    ('display.markdown("progress: 0%", { id: "bar" })', [("display_data", "text/markdown", "progress: 100%")]),
    ("for (const p of [25, 50, 75, 100]) {\n  await sleep(1);\n  updateDisplay(\"bar\", { [%s]: () => ({ \"text/markdown\": `progress: ${p}%%` }) });\n}" % DISPLAY, []),
    ("interface Point { x: number; y: number }\nconst origin: Point = { x: 0, y: 0 };\norigin", [("execute_result", "text/plain", "{ x: 0, y: 0 }")]),
    ("function norm(p: Point): number {\n  return Math.hypot(p.x, p.y);\n}\nnorm({ x: 3, y: 4 })", [("execute_result", "text/plain", "5")]),
    ('throw new Error("expected failure")', [("error", "ename", "Error")]),
    ('console.log("after the error");\nnorm(origin)', [("stream", "stdout", "after the error\n"), ("execute_result", "text/plain", "0")]),
    ('const received: string[] = [];\ncomms.registerTarget("tb.echo", (comm, open) => {\n  received.push(String(open.data.greeting));\n  comm.onMsg((m) => comm.send({ echo: m.data }));\n});\nObject.keys(comms.info("tb.echo")).length', [("execute_result", "text/plain", "0")]),
    ('const channel = comms.open("tb.front", { kind: "plot" });\nchannel.send({ step: 1 });\nchannel.send({ step: 2 });\nObject.values(comms.info()).map((c) => c.target_name)', [("execute_result", "text/plain", "[ 'tb.front' ]")]),
    ("channel.close();\n[channel.closed, Object.keys(comms.info()).length]", [("execute_result", "text/plain", "[ true, 0 ]")]),
    ('const text = "The quick brown fox";\ntext.split(" ").map((w) => w.length)', [("execute_result", "text/plain", "[ 3, 5, 5, 3 ]")]),
    ('display.html("<table><tr><td>1</td></tr></table>")', [("display_data", "text/html", "<table><tr><td>1</td></tr></table>")]),
    ("display.json({ a: [1, 2], b: { c: true } })", [("display_data", "application/json", {"a": [1, 2], "b": {"c": True}})]),
    ('console.error("a warning")', [("stream", "stderr", "a warning\n")]),
    ('console.log("first");\nclearOutput({ wait: true });\nconsole.log("second")', [("stream", "stdout", "second\n")]),
    ("class Counter {\n  private n = 0;\n  inc(): number { return ++this.n; }\n}\nconst counter = new Counter();\ncounter.inc();\ncounter.inc()", [("execute_result", "text/plain", "2")]),
    ('const later = new Promise<string>((resolve) => setTimeout(() => resolve("resolved"), 5));\nawait later', [("execute_result", "text/plain", "'resolved'")]),
    ("const squares = Array.from({ length: 5 }, (_, i) => i ** 2);\nsquares.reduce((a, b) => a + b, 0)", [("execute_result", "text/plain", "30")]),
    ('const m = new Map<string, number>([["a", 1], ["b", 2]]);\n[...m.keys()].join(",")', [("execute_result", "text/plain", "'a,b'")]),
    ('const wrong: number = "not a number";', [("error", "ename", "TSError")]),
    ("JSON.stringify({ total, greeting })", [("execute_result", "text/plain", "'{\"total\":55,\"greeting\":\"hello\"}'")]),
    ('display.svg(\'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>\')', [("display_data", "image/svg+xml", None)]),
    ("for (let i = 0; i < 3; i++) console.log(`tick ${i}`);", [("stream", "stdout", "tick 0\ntick 1\ntick 2\n")]),
    ("counter.inc()", [("execute_result", "text/plain", "3")]),
    ('"done"', [("execute_result", "text/plain", "'done'")]),
]
assert len(CELLS) == 30


def notebook():
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "tensorbook", "display_name": "TypeScript (tensorbook)", "language": "typescript"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src, _ in CELLS]
    return nb


def execute():
    nb = notebook()
    NotebookClient(nb, kernel_name="tensorbook", allow_errors=True, timeout=60, resources={"metadata": {"path": HERE}}).execute()
    return nb


def essence(nb):
    """What must be identical across runs: execution counts and outputs."""
    return json.dumps([(c.execution_count, c.outputs) for c in nb.cells], sort_keys=True)


class NbclientTests(unittest.TestCase):
    def test_thirty_cells_twenty_times(self):
        first = execute()
        for i, (cell, (src, expected)) in enumerate(zip(first.cells, CELLS)):
            with self.subTest(cell=i, source=src):
                self.assertEqual(cell.execution_count, i + 1)
                self.assertEqual(len(cell.outputs), len(expected), json.dumps(cell.outputs))
                for out, (otype, key, value) in zip(cell.outputs, expected):
                    self.assertEqual(out.output_type, otype)
                    if otype == "stream":
                        self.assertEqual(out.name, key)
                        self.assertEqual(out.text, value)
                    elif otype == "error":
                        self.assertEqual(out[key], value)
                    else:
                        self.assertIn(key, out.data)
                        if value is not None:
                            self.assertEqual(out.data[key], value)
        self.assertEqual(first.cells[10].outputs[0].evalue, "expected failure")
        # The error cells point at their own line:column.
        self.assertIn("cell[11]:1:7", "\n".join(first.cells[10].outputs[0].traceback))
        self.assertIn("cell[25]:1:7", "\n".join(first.cells[24].outputs[0].traceback))
        reference = essence(first)
        for run in range(1, RUNS):
            with self.subTest(run=run):
                self.assertEqual(essence(execute()), reference)


if __name__ == "__main__":
    unittest.main(verbosity=2)
