"""``python -m bridge``: the command line of :mod:`bridge._cli`."""

import importlib.util
import os
import sys


def _this_package() -> None:
    """``python -m bridge`` run from the folder that holds a checkout named ``bridge`` (what
    ``git clone`` makes) with bridge installed editable: Python takes the checkout's folder for a
    namespace package ``bridge`` (a folder without ``__init__.py`` on the path before the
    install's finder), so the package has no names. Put the package this file belongs to in its
    place before anything else is imported from it."""
    package = sys.modules.get("bridge")
    if package is None or getattr(package, "__file__", None) is not None:
        return
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location(
        "bridge", os.path.join(here, "__init__.py"), submodule_search_locations=[here]
    )
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules["bridge"] = module
    spec.loader.exec_module(module)


if __name__ == "__main__":
    _this_package()
    from bridge import _client as client
    from bridge import _fastpath as fastpath
    from bridge._job import process

    process.tune_process()

    # A job goes to a running ``bridge serve`` first (nothing heavy imported yet); None: run here.
    status = client.run_warm(sys.argv[1:])
    if status is not None:
        raise SystemExit(status)

    # A plain job runs without importing Typer (bridge._fastpath); anything else goes to Typer.
    status = fastpath.main(sys.argv[1:], leave=True)
    if status is not None:
        raise SystemExit(status)
    try:
        from bridge._cli import main
    except ImportError as err:
        # Typer missing from this interpreter: say so in one line, with the environment status.
        sys.stderr.write(
            f"bridge: error: cannot import {err.name or err} in the Python at {sys.executable}; "
            "install bridge's dependencies there (bridge:pythonEnv)\n"
        )
        raise SystemExit(5) from None
    raise SystemExit(main())
