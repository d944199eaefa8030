"""Jupyter's own kernel test suite (jupyter_kernel_test.KernelTests) against the tensorbook
kernel, with TypeScript samples. Run by test/python/python.test.ts with a kernelspec named
"tensorbook" installed in a temporary JUPYTER_DATA_DIR; every test must pass, none skipped.
"""

import unittest

import jupyter_kernel_test


class TensorbookKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "tensorbook"
    language_name = "typescript"
    file_extension = ".ts"

    code_hello_world = 'console.log("hello, world")'
    code_stderr = 'console.error("something to stderr")'

    completion_samples = [
        {"text": "Math.ma", "matches": {"max"}},
        {"text": "JSON.stri", "matches": {"stringify"}},
        {"text": "const someLongName = 1;\nsomeLong", "matches": {"someLongName"}},
    ]

    complete_code_samples = ["1", "const a = 1;", "function f(x: number) { return x + 1; }", "console.log('x')", "for (let i = 0; i < 3; i++) {}"]
    incomplete_code_samples = ["function f() {", "const xs = [1, 2,", "if (true) {", "const s = `multi"]
    invalid_code_samples = ["1 +* 2", "const = 5;", "}"]

    code_page_something = "?Math.max"

    code_generate_error = 'throw new Error("boom")'

    code_execute_result = [
        {"code": "6*7", "result": "42"},
        {"code": "'a' + 'b'", "result": "'ab'"},
        {"code": "[1, 2, 3].length", "result": "3"},
    ]

    code_display_data = [
        {"code": 'display.html("<b>bold</b>")', "mime": "text/html"},
        {"code": 'display.markdown("*emphasis*")', "mime": "text/markdown"},
        {"code": "display.svg('<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"4\" height=\"4\"></svg>')", "mime": "image/svg+xml"},
        {"code": "display({ [Symbol.for('Jupyter.display')]: () => ({ 'application/json': { a: 1 } }) })", "mime": "application/json"},
    ]

    code_history_pattern = "6*"
    supported_history_operations = ("tail", "range", "search")

    code_inspect_sample = "Math.max"

    code_clear_output = "clearOutput()"


if __name__ == "__main__":
    unittest.main(verbosity=2)
