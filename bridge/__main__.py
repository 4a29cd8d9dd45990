"""``python -m bridge``: the command line of :mod:`bridge.cli`."""

import sys

if __name__ == "__main__":
    from bridge import client, fastpath
    from bridge.job import process

    process.tune_process()

    # A job goes to a running ``bridge serve`` first (nothing heavy imported yet); None: run here.
    status = client.run_warm(sys.argv[1:])
    if status is not None:
        raise SystemExit(status)

    # A plain job runs without importing Typer (bridge.fastpath); anything else goes to Typer.
    status = fastpath.main(sys.argv[1:])
    if status is not None:
        raise SystemExit(status)
    try:
        from bridge.cli import main
    except ImportError as err:
        # Typer missing from this interpreter: say so in one line, with the environment status.
        sys.stderr.write(
            f"bridge: error: cannot import {err.name or err} in the Python at {sys.executable}; "
            "install bridge's dependencies there (bridge:pythonEnv)\n"
        )
        raise SystemExit(5) from None
    raise SystemExit(main())
