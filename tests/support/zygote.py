"""A warm `charter` process that forks servers for the tests: each one runs the CLI's own `main()` as
`python -m charter ARGS` does, without paying Python's start-up and Charter's imports again (about 2 s of CPU per
server, more on a loaded machine; a suite starts hundreds).

The zygote is one process per test process, started on first use with the test process's environment. It imports
`charter.server` and `charter.cli.main`, then reads one request per line on stdin (JSON: argv, env, cwd, log) and
forks a child for it. The child takes the request's environment, working directory and log file as a fresh process
would, runs `main(argv)` and exits with its code; the zygote answers `{"pid": …}` at once and `{"exit": pid,
"code": …}` when the child ends (negative: killed by that signal, as `Popen.returncode`). `Forked` is the test-side
handle with the `Popen` methods the tests use. A test that is about how the process starts (imports, start-up
errors, signals at start) asks `Server(..., fresh=True)` for a real `python -m charter` subprocess.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

# --- the zygote process --------------------------------------------------------------------------------------


def exit_status(exc: SystemExit, stderr: IO[str]) -> int:
    """The exit code a Python process gets from `exc`, as the interpreter does it: None is 0, an int is itself, and
    anything else is printed to stderr and exits 1."""
    if exc.code is None or isinstance(exc.code, int):
        return exc.code or 0
    stderr.write(f"{exc.code}\n")
    return 1


def _child(request: dict[str, Any], inherited: list[int]) -> None:
    """In the forked child: become the process `python -m charter ARGV` would be, run it, exit."""
    code = 1
    try:
        for fd in inherited:
            os.close(fd)
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as a fresh Python process has it
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        stdin = os.open(request.get("stdin") or os.devnull, os.O_RDONLY)
        out = os.open(request["log"] or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        err = (
            os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644) if request.get("stderr") else out
        )
        for fd, target in ((stdin, 0), (out, 1), (err, 2)):
            os.dup2(fd, target)
        for fd in {stdin, out, err} - {0, 1, 2}:
            os.close(fd)
        sys.stdin = open(0, closefd=False)  # the process's own streams
        sys.stdout = open(1, "w", buffering=1, closefd=False)
        sys.stderr = open(2, "w", buffering=1, closefd=False)
        sys.argv = [sys.argv[0], *request["argv"]]
        sys.path[0] = request["cwd"]  # `python -m` puts the working directory first
        from charter.cli.main import main

        try:
            main(list(request["argv"]))
            code = 0
        except SystemExit as exc:
            code = exit_status(exc, sys.stderr)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        try:
            import atexit

            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _serve() -> None:
    import charter.cli.main  # what every child runs
    import charter.server  # noqa: F401 - what every server child imports

    if threading.active_count() != 1:  # a fork would copy a lock another thread may hold
        raise SystemExit(f"zygote: {threading.active_count()} threads after the imports; forking is not safe")
    requests = sys.stdin.buffer
    answers = sys.stdout.buffer
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    children: set[int] = set()

    def say(doc: dict[str, Any]) -> None:
        answers.write(json.dumps(doc).encode() + b"\n")
        answers.flush()

    def reap() -> None:
        for pid in list(children):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                children.discard(pid)
                say({"exit": pid, "code": os.waitstatus_to_exitcode(status)})

    sel = selectors.DefaultSelector()
    sel.register(requests, selectors.EVENT_READ)
    sel.register(wake_r, selectors.EVENT_READ)
    try:
        while True:
            for key, _ in sel.select():
                if key.fileobj == wake_r:
                    os.read(wake_r, 4096)
                    reap()
                    continue
                line = requests.readline()
                if not line:
                    return  # the test process is gone
                request = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    _child(request, [wake_r, wake_w, requests.fileno(), answers.fileno()])
                children.add(pid)
                say({"pid": pid})
            reap()
    finally:
        for pid in children:  # never outlive the test process with servers of its own
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# --- the test side -------------------------------------------------------------------------------------------


class Forked:
    """A child of the zygote, with the `subprocess.Popen` methods the tests use."""

    def __init__(self, zygote: Zygote, pid: int) -> None:
        self._zygote = zygote
        self.pid = pid
        self.args = ["charter"]

    @property
    def returncode(self) -> int | None:
        return self._zygote.exit_code(self.pid)

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        code = self._zygote.wait(self.pid, timeout)
        if code is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return code

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class Zygote:
    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=dict(os.environ),
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._in: IO[bytes] = self._proc.stdin
        self._out: IO[bytes] = self._proc.stdout
        self._lock = threading.Lock()  # one request at a time: its answer is the next `pid` line
        self._changed = threading.Condition()
        self._started: list[int] = []
        self._exits: dict[int, int] = {}
        self._reader = threading.Thread(target=self._read, name="zygote-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self._out:
            doc = json.loads(line)
            with self._changed:
                if "pid" in doc:
                    self._started.append(int(doc["pid"]))
                else:
                    self._exits[int(doc["exit"])] = int(doc["code"])
                self._changed.notify_all()
        with self._changed:  # the zygote ended: nothing more will be reported
            self._started.append(-1)
            self._changed.notify_all()

    def alive(self) -> bool:
        return self._proc.poll() is None

    def fork(
        self,
        argv: list[str],
        env: dict[str, str],
        cwd: Path,
        log: Path | None,
        *,
        stdin: Path | None = None,
        stderr: Path | None = None,
    ) -> Forked:
        """Start `charter ARGV`: stdout (and stderr, unless `stderr` names a file) appended to `log`."""
        request = {
            "argv": argv,
            "env": env,
            "cwd": str(cwd),
            "log": str(log) if log else None,
            "stdin": str(stdin) if stdin else None,
            "stderr": str(stderr) if stderr else None,
        }
        with self._lock:
            self._in.write(json.dumps(request).encode() + b"\n")
            self._in.flush()
            with self._changed:
                if not self._changed.wait_for(lambda: self._started, timeout=60):
                    raise RuntimeError("the test zygote did not fork in 60 s")
                pid = self._started.pop(0)
        if pid < 0:
            raise RuntimeError(f"the test zygote exited with {self._proc.poll()}")
        return Forked(self, pid)

    def exit_code(self, pid: int) -> int | None:
        with self._changed:
            return self._exits.get(pid)

    def wait(self, pid: int, timeout: float | None) -> int | None:
        with self._changed:
            self._changed.wait_for(lambda: pid in self._exits or not self.alive(), timeout=timeout)
            return self._exits.get(pid)


_ZYGOTE: Zygote | None = None
_ZYGOTE_LOCK = threading.Lock()


def zygote() -> Zygote:
    """This test process's zygote, started on first use (and again if it died)."""
    global _ZYGOTE
    with _ZYGOTE_LOCK:
        if _ZYGOTE is None or not _ZYGOTE.alive():
            _ZYGOTE = Zygote()
        return _ZYGOTE


if __name__ == "__main__":
    _serve()
