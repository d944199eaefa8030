"""The kernel under abuse, through Jupyter's own client (jupyter_client), with ipykernel
(Debian's python3-ipykernel, kernelspec "python3") as the standard where the protocol says
what to do:

- values a message cannot carry (a BigInt, a cycle) fail the cell that sent them, naming
  the value, and the kernel lives;
- process.exit(n) in a cell or a timer: the cell gets its reply, the kernel exits with
  status n (an abort would be -6);
- a JS heap larger than V8's default 4 GiB works, and a typed array the machine cannot
  hold is a RangeError in the cell;
- protocol details, side by side with ipykernel: a failing silent request aborts nothing,
  a failing request aborts the queue, inspect of an unknown name is ok/found=false; a
  replayed signed message is dropped; every hmac-* signature scheme works;
  history search with unique=True gives each source once across sessions; debug_request
  is answered;
- the kernel exits when the process that started it (JPY_PARENT_PID) is killed.

Run by test/python/abuse.test.ts with the kernelspec "tensorbook" installed.
"""

import os
import signal
import subprocess
import sys
import time
import unittest

import zmq
from jupyter_client.manager import start_new_kernel

from kernel_wait import Kernel

TIMEOUT = 60


def reply_to(kc, msg_id, timeout=TIMEOUT):
    while True:
        reply = kc.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply


def run(kc, code, timeout=TIMEOUT):
    """Executes a cell; returns (reply content, [(msg_type, content)] of its iopub output)."""
    outputs = []
    hook = lambda m: outputs.append((m["msg_type"], m["content"])) if m["msg_type"] not in ("status", "execute_input") else None
    reply = kc.execute_interactive(code, timeout=timeout, output_hook=hook)
    return reply["content"], outputs


def result_text(outputs):
    return [c["data"]["text/plain"] for t, c in outputs if t == "execute_result"]


def stdout_text(outputs):
    return "".join(c["text"] for t, c in outputs if t == "stream" and c["name"] == "stdout")


def gone(pid):
    """No such process, or a zombie nobody reaped yet."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


class CellsCannotKillTheKernel(unittest.TestCase):
    def test_unsendable_values_fail_their_cell(self):
        with Kernel() as k:
            cells = {
                "display.json({ a: 1n })": 'content.data["application/json"].a is a BigInt (1n)',
                "const o: any = { x: [1] }; o.x.push(o); display.json(o)": 'content.data["application/json"].x[1] refers back to content.data["application/json"] (a circular structure)',
                'comms.open("x", {}).send({ a: 1n })': "comm_msg: cannot send this to the front end: content.data.a is a BigInt (1n)",
                '({ [Symbol.for("Jupyter.display")]() { return { "application/json": { b: 2n } }; } })': "execute_result: cannot send this to the front end",
            }
            for code, expected in cells.items():
                with self.subTest(code=code):
                    reply, outputs = run(k.kc, code)
                    self.assertEqual(reply["status"], "error")
                    self.assertEqual(reply["ename"], "TypeError")
                    self.assertIn(expected, reply["evalue"])
                    self.assertTrue(k.km.is_alive())
            reply, outputs = run(k.kc, "1 + 1")
            self.assertEqual(result_text(outputs), ["2"])

    def test_process_exit_in_a_cell_exits_with_its_status(self):
        with Kernel() as k:
            reply, outputs = run(k.kc, 'console.log("bye"); process.exit(3); console.log("never")')
            self.assertEqual(reply["status"], "ok")
            self.assertEqual(reply["payload"], [{"source": "ask_exit", "keepkernel": False}])
            self.assertEqual(stdout_text(outputs), "bye\n")
            self.assertEqual(k.exit_code(), 3)

    def test_process_exit_in_a_timer_exits_with_its_status(self):
        with Kernel() as k:
            reply, _ = run(k.kc, "setTimeout(() => process.exit(4), 200); 1")
            self.assertEqual(reply["status"], "ok")
            self.assertEqual(k.exit_code(), 4)

    def test_large_heaps_work_and_impossible_buffers_are_errors(self):
        with Kernel() as k:
            # Arrays of 8 MB up to 8 GiB (a third of the memory on smaller machines): V8's
            # default limit (about 4 GiB) would abort the process half-way.
            code = """
import * as v8 from "node:v8";
import * as os from "node:os";
const want = Math.min(8 * 2 ** 30, os.totalmem() / 3);
let chunks: number[][] = [];
for (let bytes = 0; bytes < want; bytes += 8e6) chunks.push(new Array(1e6).fill(0.5));
console.log(chunks.length * 8e6 >= want, v8.getHeapStatistics().heap_size_limit >= 0.7 * os.totalmem());
chunks = [];
"""
            t0 = time.perf_counter()
            reply, outputs = run(k.kc, code, timeout=300)
            print(f"heap: {time.perf_counter() - t0:.1f} s to fill the arrays")
            self.assertEqual(reply["status"], "ok", reply)
            self.assertEqual(stdout_text(outputs), "true true\n")
            reply, _ = run(k.kc, 'import * as os from "node:os";\nconst big = new ArrayBuffer(Math.ceil(os.totalmem() * 1.5));')
            self.assertEqual((reply["status"], reply["ename"], reply["evalue"]), ("error", "RangeError", "Array buffer allocation failed"))
            reply, outputs = run(k.kc, "6 * 7")
            self.assertEqual(result_text(outputs), ["42"])


class ProtocolAsIpykernel(unittest.TestCase):
    def story(self, name, fail, ok):
        """Statuses of: a failing silent request with a request queued behind it; a failing
        request with one queued behind it; inspect of an unknown name."""
        with Kernel(name) as k:
            run(k.kc, ok)  # the engine is loaded
            silent = k.kc.execute(fail, silent=True)
            after_silent = k.kc.execute(ok)
            loud = k.kc.execute(fail)
            after_loud = k.kc.execute(ok)
            statuses = [reply_to(k.kc, m)["content"]["status"] for m in (silent, after_silent, loud, after_loud)]
            inspect = k.kc.inspect("notDefinedAnywhere", 18, detail_level=0, reply=True, timeout=TIMEOUT)["content"]
            return statuses, {"status": inspect["status"], "found": inspect["found"]}

    def test_same_answers_as_ipykernel(self):
        ours = self.story("tensorbook", "throw new Error('no')", "1 + 1")
        theirs = self.story("python3", "raise ValueError('no')", "1 + 1")
        self.assertEqual(ours, theirs)
        self.assertEqual(ours, (["error", "ok", "error", "aborted"], {"status": "ok", "found": False}))

    def test_replayed_message_is_dropped(self):
        for name, code in (("tensorbook", "(globalThis as any).runs = ((globalThis as any).runs ?? 0) + 1"), ("python3", "runs = globals().get('runs', 0) + 1")):
            with self.subTest(kernel=name), Kernel(name) as k:
                msg = k.kc.session.msg("execute_request", {"code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False, "stop_on_error": True})
                frames = k.kc.session.serialize(msg)
                ctx = zmq.Context.instance()
                sock = ctx.socket(zmq.DEALER)
                sock.linger = 0
                sock.connect(k.km._make_url("shell"))
                try:
                    time.sleep(0.3)  # connected before sending
                    sock.send_multipart(frames)
                    sock.send_multipart(frames)
                    replies = 0
                    deadline = time.time() + 5
                    while time.time() < deadline:
                        if sock.poll(200):
                            replies += 1
                            sock.recv_multipart()
                    self.assertEqual(replies, 1)
                finally:
                    sock.close()
                reply, outputs = run(k.kc, "runs" if name == "python3" else "(globalThis as any).runs")
                self.assertEqual(result_text(outputs), ["1"])

    def test_every_hmac_scheme(self):
        for scheme in ("hmac-sha512", "hmac-sha1", "hmac-md5", "hmac-sha3_256", "hmac-blake2b"):
            with self.subTest(scheme=scheme), Kernel(scheme=scheme) as k:
                self.assertEqual(k.km.session.signature_scheme, scheme)
                reply, outputs = run(k.kc, "6 * 7")
                self.assertEqual(result_text(outputs), ["42"])

    def test_history_search_unique_across_sessions(self):
        for cells in (["1 + 1", "2 + 2", "1 + 1"], ["1 + 1", "3 + 3", "2 + 2"]):
            with Kernel() as k:
                for code in cells:
                    run(k.kc, code)
                history = k.kc.history(hist_access_type="search", pattern="? + ?", unique=True, reply=True, timeout=TIMEOUT)["content"]
        self.assertEqual(history["status"], "ok")
        sources = [source for _, _, source in history["history"]]
        self.assertEqual(sorted(sources), ["1 + 1", "2 + 2", "3 + 3"])
        # each source at its latest (session, line), as IPython's search(unique=True)
        self.assertEqual(sources, ["1 + 1", "3 + 3", "2 + 2"])

    def test_debug_request_is_answered(self):
        with Kernel() as k:
            msg = k.kc.session.msg("debug_request", {"type": "request", "seq": 1, "command": "debugInfo", "arguments": {}})
            k.kc.control_channel.send(msg)
            reply = k.kc.get_control_msg(timeout=TIMEOUT)
            self.assertEqual(reply["parent_header"]["msg_id"], msg["header"]["msg_id"])
            self.assertEqual(reply["msg_type"], "debug_reply")
            self.assertEqual((reply["content"]["success"], reply["content"]["status"]), (False, "error"))
            self.assertIn("no debugger", reply["content"]["message"])


PARENT = r"""
import sys, time
from jupyter_client.manager import KernelManager
km = KernelManager(kernel_name="tensorbook")
km.start_kernel()
kc = km.client()
kc.start_channels()
kc.wait_for_ready(timeout=60)
kc.execute_interactive("1", timeout=60, output_hook=lambda m: None)
if sys.argv[1]:
    kc.execute(sys.argv[1])
    time.sleep(0.5)
print(km.provisioner.process.pid, flush=True)
time.sleep(600)
"""


class KernelFollowsItsParent(unittest.TestCase):
    def test_exits_when_the_parent_is_killed(self):
        # idle, and with the main thread stuck in a cell (the I/O thread ends the process)
        for cell in ("", "while (true) {}"):
            with self.subTest(cell=cell):
                parent = subprocess.Popen([sys.executable, "-c", PARENT, cell], stdout=subprocess.PIPE, text=True)
                try:
                    kernel_pid = int(parent.stdout.readline())
                    self.assertFalse(gone(kernel_pid))
                    os.kill(parent.pid, signal.SIGKILL)
                    parent.wait()
                    t0 = time.perf_counter()
                    while not gone(kernel_pid) and time.perf_counter() - t0 < 10:
                        time.sleep(0.05)
                    print(f"parent killed: kernel {'in ' + repr(cell) if cell else 'idle'} gone after {time.perf_counter() - t0:.1f} s")
                    self.assertTrue(gone(kernel_pid))
                finally:
                    if parent.poll() is None:
                        parent.kill()


if __name__ == "__main__":
    unittest.main(verbosity=2)
