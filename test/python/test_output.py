"""Output and control under load, through Jupyter's own client (jupyter_client), with
ipykernel's behaviour as the standard:

- stream output is batched (ipykernel flushes at most every 0.2 s, or when a buffer is
  large): 100000 console.log lines arrive complete, in order, in few messages, followed by
  idle, and the kernel's memory stays bounded; stream text keeps its place among other
  outputs (display_data);
- control is never stuck behind shell: kernel_info_request on control during a
  synchronous `while (true) {}` is answered within a second, and a shutdown_request ends
  the kernel even then;
- output and errors of a finished cell's timers are published at once, with that cell's
  msg_id as parent (ipykernel does so for a cell's background threads).

Run by test/python/output.test.ts with the kernelspec "tensorbook" installed.
"""

import time
import unittest

from kernel_wait import Kernel, reply_to, wait_running

TIMEOUT = 60


def iopub_until_idle(kc, msg_id, timeout=TIMEOUT):
    """The iopub messages whose parent is msg_id, up to and including its idle status."""
    got = []
    deadline = time.time() + timeout
    while True:
        msg = kc.get_iopub_msg(timeout=max(0.1, deadline - time.time()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        got.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return got


def iopub_wait(kc, pred, timeout):
    """The first iopub message pred accepts within timeout seconds, and when it came."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=max(0.05, deadline - time.time()))
        except Exception:
            break
        if pred(msg):
            return msg, time.time()
    raise AssertionError(f"nothing expected on iopub within {timeout} s")


def streams(msgs, name="stdout"):
    return [m for m in msgs if m["msg_type"] == "stream" and m["content"]["name"] == name]


class StreamOutput(unittest.TestCase):
    def test_a_flood_of_lines_arrives_whole_in_few_messages(self):
        with Kernel() as k:
            n = 100000
            msg_id = k.kc.execute(f"for (let i = 0; i < {n}; i++) console.log(i)")
            msgs = iopub_until_idle(k.kc, msg_id)
            self.assertEqual(reply_to(k.kc, msg_id, TIMEOUT)["content"]["status"], "ok")
            out = streams(msgs)
            self.assertEqual("".join(m["content"]["text"] for m in out), "".join(f"{i}\n" for i in range(n)))
            self.assertLess(len(out), 200, "stream text is batched")
            self.assertEqual(msgs[-1]["msg_type"], "status")
            # Three more floods: memory stays bounded (no per-line message queued anywhere).
            for _ in range(3):
                iopub_until_idle(k.kc, k.kc.execute(f"for (let i = 0; i < {n}; i++) console.log(i)"))
            msg_id = k.kc.execute("Math.round(process.memoryUsage().rss / 2 ** 20)")
            msgs = iopub_until_idle(k.kc, msg_id)
            rss = int([m for m in msgs if m["msg_type"] == "execute_result"][0]["content"]["data"]["text/plain"])
            print(f"rss after 400000 lines: {rss} MiB")
            self.assertLess(rss, 1024)

    def test_streams_keep_their_place_among_other_outputs(self):
        with Kernel() as k:
            msg_id = k.kc.execute('console.log("a"); display.text("b"); console.log("c"); console.error("d"); console.log("e")')
            msgs = iopub_until_idle(k.kc, msg_id)
            seen = [(m["content"]["name"], m["content"]["text"]) if m["msg_type"] == "stream" else (m["msg_type"], "")
                    for m in msgs if m["msg_type"] in ("stream", "display_data")]
            self.assertEqual(seen, [("stdout", "a\n"), ("display_data", ""), ("stdout", "c\n"), ("stderr", "d\n"), ("stdout", "e\n")])


class ControlDuringABusyCell(unittest.TestCase):
    def test_kernel_info_on_control_is_answered_during_a_loop(self):
        with Kernel() as k:
            msg_id = k.kc.execute("while (true) {}")
            wait_running(k.kc, msg_id)
            time.sleep(0.5)
            request = k.kc.session.msg("kernel_info_request")
            start = time.time()
            k.kc.control_channel.send(request)
            while True:
                reply = k.kc.get_control_msg(timeout=5)
                if reply["parent_header"].get("msg_id") == request["header"]["msg_id"]:
                    break
            elapsed = time.time() - start
            self.assertEqual(reply["content"]["status"], "ok")
            self.assertEqual(reply["content"]["implementation"], "tensorbook")
            self.assertLess(elapsed, 1.0)
            k.km.interrupt_kernel()
            self.assertEqual(reply_to(k.kc, msg_id, 30)["content"]["status"], "error")

    def test_shutdown_during_a_loop_ends_the_kernel(self):
        with Kernel() as k:
            msg_id = k.kc.execute("while (true) {}")
            wait_running(k.kc, msg_id)
            time.sleep(0.5)
            request = k.kc.session.msg("shutdown_request", {"restart": False})
            k.kc.control_channel.send(request)
            reply = k.kc.get_control_msg(timeout=10)
            self.assertEqual(reply["msg_type"], "shutdown_reply")
            self.assertEqual(reply["content"]["status"], "ok")
            k.km.provisioner.process.wait(timeout=10)
            self.assertFalse(k.km.is_alive())


class LateOutput(unittest.TestCase):
    def test_a_timer_prints_under_its_cell_at_once(self):
        with Kernel() as k:
            msg_id = k.kc.execute('setTimeout(() => console.log("late"), 300); setTimeout(() => { throw new Error("boom") }, 400); 1')
            iopub_until_idle(k.kc, msg_id)
            done = time.time()
            late, at = iopub_wait(k.kc, lambda m: m["msg_type"] == "stream" and "late" in m["content"]["text"], 2)
            self.assertEqual(late["parent_header"]["msg_id"], msg_id)
            self.assertLess(at - done, 1.0)
            boom, _ = iopub_wait(k.kc, lambda m: m["msg_type"] == "stream" and "boom" in m["content"]["text"], 2)
            self.assertEqual(boom["parent_header"]["msg_id"], msg_id)
            self.assertEqual(boom["content"]["name"], "stderr")


if __name__ == "__main__":
    unittest.main(verbosity=2)
