"""KernelManager.interrupt_kernel in both interrupt modes ("message": interrupt_request on
the control channel; "signal": SIGINT to the process) stops a synchronous `while (true) {}`
and a pending `await`, and keeps every variable. Prints how long each interrupted cell took
to answer after the interrupt (measured, not asserted). Run by test/python/python.test.ts
with kernelspecs "tensorbook" (message) and "tensorbook-signal" (signal).
"""

import time
import unittest

from jupyter_client.manager import start_new_kernel

from kernel_wait import reply_to, wait_running

CELLS = ["while (true) {}", "await new Promise<void>(() => {})"]


class InterruptTests(unittest.TestCase):
    def check_mode(self, kernel_name, mode):
        km, kc = start_new_kernel(kernel_name=kernel_name)
        try:
            self.assertEqual(km.kernel_spec.interrupt_mode, mode)
            reply = kc.execute_interactive("let kept = 41;", timeout=60, output_hook=lambda m: None)
            self.assertEqual(reply["content"]["status"], "ok")
            for cell in CELLS:
                with self.subTest(cell=cell):
                    msg_id = kc.execute(cell, stop_on_error=False)
                    wait_running(kc, msg_id)
                    time.sleep(0.3)
                    t0 = time.perf_counter()
                    km.interrupt_kernel()
                    reply = reply_to(kc, msg_id, timeout=10)
                    ms = (time.perf_counter() - t0) * 1000
                    print(f"interrupt {mode:7s} {cell!r}: execute_reply {ms:.1f} ms after interrupt_kernel()")
                    self.assertEqual(reply["content"]["status"], "error")
                    self.assertEqual(reply["content"]["ename"], "KeyboardInterrupt")
                    results = []
                    hook = lambda m: results.append(m["content"]) if m["msg_type"] == "execute_result" else None
                    kept = kc.execute_interactive("kept + 1", timeout=30, user_expressions={"k": "kept"}, output_hook=hook)
                    self.assertEqual(kept["content"]["status"], "ok")
                    self.assertEqual(results[0]["data"]["text/plain"], "42")
                    self.assertEqual(kept["content"]["user_expressions"]["k"]["data"]["text/plain"], "41")
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)

    def test_message_mode(self):
        self.check_mode("tensorbook", "message")

    def test_signal_mode(self):
        self.check_mode("tensorbook-signal", "signal")


if __name__ == "__main__":
    unittest.main(verbosity=2)
