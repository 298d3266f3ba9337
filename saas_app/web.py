"""The web process: ``python -m saas_app.web`` serves the UI, the API and the websocket on `PORT`.

Reflex's ``reflex run --env prod`` compiles and builds the frontend every time it starts. This
serves the production build already in Reflex's web folder instead (``REFLEX_WEB_WORKDIR``,
default ``.web``; made by ``reflex export --frontend-only --no-zip``, which the Docker image runs
at build time), as long as that build was made for this `APP_BASE_URL` (the browser's websocket
address is compiled into it). So app processes start in seconds, and any number of them can serve
copies of one build. Without a matching build it runs ``reflex run --env prod --single-port``,
which builds first. Either way the server is Reflex's own (granian; `WEB_WORKERS` processes),
and SIGTERM stops it gracefully: the listening socket closes and requests in flight complete.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from pathlib import Path

from reflex.utils import exec as reflex_exec
from reflex.utils import prerequisites
from reflex_base import constants
from reflex_base.config import get_config
from reflex_base.environment import environment

from saas_app.settings import export_web_workers, get_settings

log = logging.getLogger("saas_app.web")
BUILD_FILES = (constants.Dirs.BUILD_DIR, constants.Dirs.ENV_JSON)  # what a copy of a build needs


def build_problem(web_dir: Path) -> str | None:
    """Why the build in `web_dir` cannot be served as it is (None: it can)."""
    env_json = web_dir / constants.Dirs.ENV_JSON
    if not (web_dir / constants.Dirs.STATIC / "index.html").is_file() or not env_json.is_file():
        return f"no frontend build in {web_dir}"
    built = json.loads(env_json.read_text())
    wanted = {endpoint.name: endpoint.get_url() for endpoint in constants.Endpoint}
    if any(built.get(name) != url for name, url in wanted.items()):
        return f"the frontend in {web_dir} was built for {built.get('PING')}, not {wanted['PING']}"
    return None


def copy_build(source: Path, target: Path) -> None:
    """Copy a frontend build (what `serve` needs of a web folder) from one web folder to another."""
    target.mkdir(parents=True, exist_ok=True)
    for name in BUILD_FILES:
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name, dirs_exist_ok=True)
        else:
            shutil.copy2(source / name, target / name)


def serve(port: int) -> None:
    """Serve the built frontend and the backend on `port` until SIGTERM or SIGINT (what
    ``reflex run --env prod --single-port`` does once its build is done)."""
    environment.REFLEX_ENV_MODE.set(constants.Env.PROD)
    environment.REFLEX_SKIP_COMPILE.set(True)
    environment.REFLEX_MOUNT_FRONTEND_COMPILED_APP.set(True)
    reflex_exec.run_granian_backend_prod(get_config().backend_host, port, constants.LogLevel.INFO)


def main() -> None:
    """Serve the existing build, or build and serve with `reflex run` when there is none for this URL."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    port = get_settings().PORT
    export_web_workers(get_settings())
    problem = build_problem(prerequisites.get_web_dir())
    if problem is None:
        serve(port)
        return
    log.info("%s: building it first (reflex run --env prod)", problem)
    reflex = str(Path(sys.executable).with_name("reflex"))
    os.execv(reflex, [reflex, "run", "--env", "prod", "--single-port", "--frontend-port", str(port),
                      "--backend-port", str(port), "--loglevel", "info"])


if __name__ == "__main__":
    main()
