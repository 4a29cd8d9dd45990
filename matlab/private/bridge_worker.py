"""Entry point of the Python worker for the MATLAB wrappers (bridge_conv.m and the others).

The wrappers run ``python bridge_worker.py IN OUT --error-file ERR`` instead of
``python -m bridge IN OUT`` so that the wrappers and the worker always come from the same place:
when this file sits in a checkout (``<root>/matlab/private/`` next to ``<root>/bridge/``), that
``bridge`` is imported ahead of any installed one; otherwise the installed package is used. No
environment variable has to be set for the child, which keeps the command line identical on
Linux, macOS and Windows.

``--executable`` prints ``sys.executable`` and the PYTHON* environment variables (for
bridge_resolve_python.m); ``--package`` the folder of the bridge it runs (for bridge_package.m).
``--diagnose`` prints the interpreter and the versions of the packages the worker needs (for
bridge_diagnose.m) and needs none of them to run. These and ``--serve`` end as a job does, without
the interpreter's teardown. ``--cold`` before a job's arguments runs it here without asking the
warm server (the compiled client asked it already).

When a ``bridge serve`` of the same checkout runs (see bridge/_serve.py), a job goes to it before
anything heavy is imported; on any failure to reach it, or a refusal, the job runs here as before.
BRIDGE_NO_SERVER=1 skips the server. The wrappers run this file with ``python -S``: site-packages
(and the .pth files, which can cost tens of milliseconds) are set up only when the job runs here.

``--serve start|stop|status [SECONDS]`` (for bridge_serve.m) starts a server in the background with
an idle timeout of SECONDS (0: none), stops it or reports on it, in one line. ``--autostart
SECONDS`` before a job's arguments (the wrappers pass it when the preference is set) starts such a
server, detached, when none answers, and runs this job cold meanwhile.
"""

import os
import sys

PACKAGES = ("numpy", "scipy", "h5py", "typer", "bridge")
EXIT_ENVIRONMENT = 5  # bridge.errors.EXIT_ENVIRONMENT, which may be what cannot be imported
SITE_DONE = False


def use_checkout() -> bool:
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    # sys.path[0] is this folder, which holds only .m files: put the checkout there, if any.
    if sys.path and os.path.abspath(sys.path[0] or ".") == here:
        del sys.path[0]
    if os.path.isfile(os.path.join(root, "bridge", "__init__.py")):
        sys.path.insert(0, root)
        return True
    return False


def use_site() -> None:
    """Do what Python's start-up skipped under ``-S`` (the wrappers pass it): site-packages, .pth
    files, sitecustomize. Deferred so that a job the warm server takes does not pay for it; the
    cold path then starts exactly as without ``-S``."""
    global SITE_DONE
    if sys.flags.no_site and not SITE_DONE:
        SITE_DONE = True
        import site

        site.main()


def diagnose() -> int:
    """``--diagnose``: the interpreter and the packages, between the marker ``--diagnose--`` and
    the verdict line ``--diagnose-- ok`` (or ``--diagnose-- missing NAME...``), which
    bridge_diagnose.m reads together with the exit status."""
    print("--diagnose--")
    print(f"python: {sys.executable}")
    print(f"version: {sys.version.split()[0]}")
    missing = []
    for name in PACKAGES:
        try:
            module = __import__(name)
        except Exception as err:  # a broken package fails in many ways, not only ImportError
            print(f"{name}: cannot import ({type(err).__name__}: {' '.join(str(err).split())})")
            missing.append(name)
        else:
            where = os.path.dirname(getattr(module, "__file__", "") or "")
            print(f"{name}: {getattr(module, '__version__', '?')} ({where})")
    print("--diagnose-- " + (f"missing {' '.join(missing)}" if missing else "ok"))
    return EXIT_ENVIRONMENT if missing else 0


def leave(status: int) -> None:
    """End a question (--executable, --package, --diagnose, --serve) as a job ends
    (bridge._fastpath's leave_now): the answer flushed, then out without the interpreter's
    teardown. A teardown that fails (an atexit hook or a C extension crashing at exit) does not
    touch a job, so it must not turn the answer into a failure either."""
    import contextlib

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed or broken stream: nothing more to say
            stream.flush()
    os._exit(status)


def warm(argv: list[str]) -> int | None:
    """The job's exit status from a running ``bridge serve``, or None: run it here (cold)."""
    try:
        from bridge._client import run_warm
    except Exception:  # no bridge, or one without the client: the cold path reports it
        return None
    return run_warm(argv)


def serve_command(action: str, idle_timeout: float) -> int:
    """``--serve ACTION``: start (detached), stop or status of the server; one line printed."""
    use_site()
    from bridge import _serve as serve

    if action == "start":
        return serve.start_detached(None, idle_timeout)
    code, line = serve.query(action)
    print(line)
    return code


def autostart(idle_timeout: str) -> None:
    """Start a detached server for the next calls when none runs (this job runs cold)."""
    try:
        from bridge import _client as client

        path = client.socket_path()
        if client.disabled():
            return
        if os.path.exists(path):
            try:
                client.connect(path, 0.5).close()
                return  # a server answers (busy, frozen, or of another checkout): leave it
            except ConnectionRefusedError as err:
                if "another user" in str(err):
                    return
            except OSError:
                return
            # nobody listens: a dead server's socket, which a new server replaces
        pid = os.fork()
        if pid == 0:
            try:
                use_site()
                from bridge import _serve as serve

                null = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
                serve.start_detached(None, float(idle_timeout), wait=0)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
    except Exception:  # an optional start: the job runs cold whatever happens
        pass


def fail(err: ImportError) -> int:
    line = (
        f"bridge: error: cannot import {err.name or err} in the Python at {sys.executable}; "
        "install bridge and its dependencies there or choose another Python (bridge:pythonEnv)\n"
    )
    argv = sys.argv[1:]
    if "--error-file" in argv[:-1]:
        with open(argv[argv.index("--error-file") + 1], "w", encoding="utf-8") as f:
            f.write(line)
    else:
        sys.stderr.write(line)
    return EXIT_ENVIRONMENT


if __name__ == "__main__":
    if not use_checkout():
        use_site()  # an installed bridge is in site-packages
    if sys.argv[1:] == ["--executable"]:
        # For bridge_resolve_python.m: this interpreter's path and the PYTHON* variables it sees.
        print("--executable--")
        print(sys.executable)
        for name in sorted(os.environ):
            if name.startswith("PYTHON"):
                print(f"{name}={os.environ[name]}")
        leave(0)
    if sys.argv[1:] == ["--package"]:
        # For bridge_package.m: the folder of the bridge this worker runs (the compiled clients
        # send its identity to the warm server).
        use_site()
        import importlib.util

        spec = importlib.util.find_spec("bridge")
        print("--package--")
        print(os.path.dirname(os.path.realpath(spec.origin)) if spec and spec.origin else "")
        leave(0 if spec else EXIT_ENVIRONMENT)
    if sys.argv[1:] == ["--diagnose"]:
        use_site()
        leave(diagnose())
    if sys.argv[1:2] == ["--serve"] and len(sys.argv) in (3, 4):
        leave(serve_command(sys.argv[2], float((sys.argv[3:4] and sys.argv[3]) or 0)))
    # --cold: the compiled client (bridge_client.c) asked the server already and was refused or
    # gave up on it; run here without asking again (a frozen server would cost its time-outs twice).
    cold = sys.argv[1:2] == ["--cold"]
    if cold:
        del sys.argv[1]
    start_after = None
    if sys.argv[1:2] == ["--autostart"] and len(sys.argv) > 3:
        start_after = sys.argv[2]
        del sys.argv[1:3]
    status = None if cold else warm(sys.argv[1:])
    if status is None and start_after is not None:
        autostart(start_after)
    if status is not None:
        raise SystemExit(status)
    use_site()
    try:
        # A plain job runs without Typer (bridge._fastpath); anything else goes to the Typer CLI.
        from bridge import _fastpath as fastpath
        from bridge._job import process

        process.tune_process()
        status = fastpath.main(sys.argv[1:], leave=True)
        if status is not None:
            raise SystemExit(status)
        from bridge._cli import main
    except ImportError as err:
        raise SystemExit(fail(err)) from None
    raise SystemExit(main())
