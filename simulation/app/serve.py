"""The app's server process: Solara's Starlette application under uvicorn, on loopback.

``python -m simulation.app.serve --host 127.0.0.1 --port 8765`` is what ``commnet app`` starts
(:func:`simulation.app.launch.server_command`).  It does what ``solara run … --production``
does for this app (``SOLARA_APP`` names the page module; Solara's own log configuration) and
in addition:

* silences Solara's start-up warning about ``samesite=none`` cookies, which concerns pages
  embedded in another site's iframe over https — not a page served on loopback, where Solara
  falls back to ``samesite=lax``, the right setting.
"""

from __future__ import annotations

import argparse
import os
import warnings
from collections.abc import Sequence

__all__ = ["APP_MODULE", "build_app", "main"]

#: The page module Solara serves.
APP_MODULE = "simulation.app.app"


def build_app():
    """Solara's ASGI application for :data:`APP_MODULE` (imported here: it reads the settings
    from the environment when first imported)."""
    os.environ["SOLARA_APP"] = APP_MODULE
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https",
                            category=UserWarning)
    from solara.server.starlette import app

    return app


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the app until interrupted."""
    import uvicorn
    from solara.__main__ import LOGGING_CONFIG

    parser = argparse.ArgumentParser(prog="python -m simulation.app.serve",
                                     description="Serve the commnet teaching app.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--log-level", default="warning",
                        choices=["critical", "error", "warning", "info", "debug"])
    args = parser.parse_args(argv)
    os.environ["SERVER_NAME"] = args.host
    os.environ["SERVER_PORT"] = str(args.port)
    config = dict(LOGGING_CONFIG)
    config["loggers"] = {**LOGGING_CONFIG["loggers"],
                         "solara": {"handlers": ["default"], "level": args.log_level.upper()}}
    app = build_app()
    uvicorn.run(app, host=args.host, port=args.port, log_config=config, log_level="error",
                access_log=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
