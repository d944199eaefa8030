"""Waiting on a running tensorbook kernel through jupyter_client, for the interrupt tests:
the execute_reply of one request, and the moment a cell has started."""

import time


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
