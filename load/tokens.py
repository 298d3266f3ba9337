"""Make the load test's pool of signed-in users: ``python -m load.tokens --users N --out FILE``.

Each simulated creator gets a user, a workspace and an API session of its own, made directly
through the services against the stack's `DATABASE_URL` (no email per user). Re-running reuses
the same addresses (``load-<i>@load.test``) and opens new sessions.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from saas_app.db import session_scope
from saas_app.services.account.audit import RequestContext
from saas_app.services.auth.sessions import open_api_session

CTX = RequestContext(ip="127.0.0.1", user_agent="narrated-studio-load/1.0", request_id="load")


def make_pool(users: int) -> list[str]:
    """Access tokens for `users` simulated creators, committed in batches of 50."""
    tokens: list[str] = []
    for start in range(0, users, 50):
        with session_scope() as session:
            tokens += [open_api_session(session=session, email=f"load-{i}@load.test", ctx=CTX).access_token
                       for i in range(start, min(users, start + 50))]
    return tokens


def main() -> None:
    """Write the pool as a JSON list of access tokens."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(make_pool(args.users)))
    print(f"[load] {args.users} signed-in users in {args.out}")


if __name__ == "__main__":
    main()
