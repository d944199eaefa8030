"""Driving a tensorbook kernel through jupyter_client in the Python probe suites: a started
kernel with its client, the execute_reply of one request, and the moment a cell has started."""

import time

from jupyter_client.manager import KernelManager


class Kernel:
    """A started kernel with a client (kernelspec `name`, optionally another signature
    scheme); stopped on exit."""

    def __init__(self, name="tensorbook", scheme=None, timeout=60):
        self.km = KernelManager(kernel_name=name)
        if scheme:
            self.km.session.signature_scheme = scheme
        self.km.start_kernel()
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kc.stop_channels()
        if self.km.is_alive():
            self.km.shutdown_kernel(now=True)

    def exit_code(self, timeout=15):
        """The kernel process's exit status, once it has exited."""
        return self.km.provisioner.process.wait(timeout=timeout)


def reply_to(kc, msg_id, timeout):
    """The shell reply whose parent is msg_id (replies to other requests are skipped)."""
    while True:
        reply = kc.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply


def wait_running(kc, msg_id, timeout=30):
    """Until the cell's execute_input is on iopub (the kernel is inside the cell)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "execute_input":
            return
    raise AssertionError("the cell never started")
