"""Runs `python -m MODULE ARGS...` for a job worker, and exits when the worker goes away.

The worker holds this process's stdin open and never writes to it; end of file means the
worker died (killed, crashed), so a build or a training run never outlives it and never races
the process a new worker starts for the same job.

usage: python job_entry.py MODULE [ARGS...]"""
import os
import runpy
import sys
import threading


def _exit_when_parent_goes() -> None:
    try:
        # The raw file, not sys.stdin.buffer: a daemon thread blocked in BufferedReader.read holds its
        # lock, and the interpreter's shutdown then aborts (SIGABRT) trying to close stdin.
        sys.stdin.buffer.raw.readall()
    finally:
        os._exit(3)


if __name__ == "__main__":
    threading.Thread(target=_exit_when_parent_goes, daemon=True).start()
    module = sys.argv[1]
    sys.argv = [module, *sys.argv[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
