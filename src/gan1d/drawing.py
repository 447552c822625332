"""The drawing process: figures drawn beside training, so the training loop never waits for matplotlib.

``Painter`` is the client, in the training process; ``serve`` is the server, a fresh interpreter that imports numpy
and matplotlib only. They talk through the server's stdin and stdout: pickled ``(fn, args)`` jobs one way, pickled
``(ok, result or exception)`` answers the other.
"""

import logging
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 30  # a drawing process that has not exited this long after its input ended is killed


class Painter:
    """Draws figures in the drawing process. ``draw(fn, *args)`` returns at once with a Future of ``fn(*args)``;
    ``fn`` must be a module-level function of plain arrays (it is pickled). ``background=False`` draws in the
    calling thread instead.

    The process is started on a thread of its own, so figures asked for before it is up wait in a queue, not in the
    training loop. It is not a multiprocessing pool on purpose: those children re-import the main script (torch,
    Lightning, and whatever the script does at import). It runs in a session of its own, so a Ctrl-C at the terminal
    reaches the training process alone (GracefulStop). If it cannot start or dies, the thread draws instead: figures
    are never lost.
    """

    def __init__(self, background: bool = True):
        self.jobs = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._serve, daemon=True) if background else None
        if self.thread is not None:
            self.thread.start()

    def draw(self, fn: Callable, *args) -> Future:
        future = Future()
        if self.thread is None:
            _settle(future, fn, args)
        else:
            self.jobs.put((future, fn, args))
        return future

    def close(self) -> None:
        """Returns once the figures already asked for are drawn (cancel their futures to skip them) and the drawing
        process has exited: nothing of a run's drawing outlives it, so no thread is left running at interpreter
        exit (a daemon thread in native code then aborts the process)."""
        if self.thread is not None:
            self.jobs.put(None)
            self.thread.join()
        self.thread = None

    def _serve(self) -> None:
        process = _drawing_process()
        while (job := self.jobs.get()) is not None:
            future, fn, args = job
            if not future.set_running_or_notify_cancel():
                continue
            if process is not None:
                try:
                    pickle.dump((fn, args), process.stdin)
                    process.stdin.flush()
                    ok, value = pickle.load(process.stdout)
                except (OSError, EOFError, pickle.PickleError) as err:
                    log.warning("figures are drawn in the training process: the drawing process failed (%r)", err)
                    process = None
                else:
                    (future.set_result if ok else future.set_exception)(value)
                    continue
            _settle(future, fn, args)
        if process is not None:
            process.stdin.close()  # the process ends at the end of its input
            try:
                process.wait(timeout=CLOSE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _drawing_process() -> subprocess.Popen | None:
    # PYTHONPATH: the process imports this very gan1d, installed or not.
    path = os.pathsep.join(filter(None, (str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH"))))
    try:
        return subprocess.Popen([sys.executable, "-c", "from gan1d.drawing import serve; serve()"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": path},
                                start_new_session=True)
    except OSError as err:
        log.warning("figures are drawn in the training process: no drawing process could start (%s)", err)
        return None


def _settle(future: Future, fn: Callable, args: tuple) -> None:
    try:
        future.set_result(fn(*args))
    except Exception as err:  # raised where the result is read, as a pool would
        future.set_exception(err)


def serve() -> None:
    """The drawing process's loop: reads pickled ``(fn, args)`` jobs from stdin and answers each with a pickled
    ``(True, fn(*args))`` or ``(False, exception)`` on stdout, until its input ends."""
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything else printed goes to stderr, not into the answers
    jobs = sys.stdin.buffer
    while True:
        try:
            fn, args = pickle.load(jobs)
        except EOFError:
            return
        try:
            answer = (True, fn(*args))
        except Exception as err:
            answer = (False, err)
        pickle.dump(answer, answers)
        answers.flush()
