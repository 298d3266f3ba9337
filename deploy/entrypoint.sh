#!/bin/sh
# The image's commands: web (UI + API on $PORT), worker (RQ), migrate (Alembic), or any command.
set -eu
cd /app
case "${1:-web}" in
  web)
    # Serves the frontend built into the image (or builds it first when APP_BASE_URL differs).
    exec python -m saas_app.web ;;
  worker)
    exec python -m saas_app.jobs.worker ;;
  migrate)
    exec python -m alembic upgrade head ;;
  *)
    exec "$@" ;;
esac
