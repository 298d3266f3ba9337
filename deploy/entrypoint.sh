#!/bin/sh
# The image's commands: web (UI + API on $PORT), worker (RQ), migrate (Alembic), or any command.
set -eu
cd /app
case "${1:-web}" in
  web)
    exec reflex run --env prod --single-port --frontend-port "${PORT:-3000}" --backend-port "${PORT:-3000}" --loglevel info ;;
  worker)
    exec python -m saas_app.jobs.worker ;;
  migrate)
    exec python -m alembic upgrade head ;;
  *)
    exec "$@" ;;
esac
