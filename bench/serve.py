"""The baseline: a bare Bolt app whose listeners only acknowledge, on apns-bot's HTTP server.

    python -m bench.serve --port 3001

Same signing secret, same listeners (``/apns``, the renew and reject-reason modals, the Approve,
Reject and Retry buttons), Bolt's defaults otherwise (its 5-thread listener pool), served exactly as
apns-bot serves: ``bot.runtime.server.make_server`` (waitress behind Bolt's WSGI adapter, 16 threads).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from slack_bolt import Ack, App
from slack_bolt.authorization import AuthorizeResult

from bot.runtime.server import make_server
from bot.slack.ids import COMMAND, Action, View
from tests.fakes.slack_server import BOT_TOKEN
from tests.slack_requests import SIGNING_SECRET


def bare_app() -> App:
    def authorize() -> AuthorizeResult:
        # a fixed answer: a bot token would make Bolt call auth.test, and this app talks to nobody
        return AuthorizeResult(
            enterprise_id=None,
            team_id="T0EXAMPLE",
            bot_token=BOT_TOKEN,
            bot_id="B0APNSBOT",
            bot_user_id="U0APNSBOT",
        )

    app = App(signing_secret=SIGNING_SECRET, authorize=authorize)

    def only_ack(ack: Ack) -> None:
        ack()

    app.command(COMMAND)(only_ack)
    for view in (View.RENEW, View.REJECT_REASON):
        app.view(view)(only_ack)
    for action in (Action.APPROVE, Action.REJECT, Action.RETRY):
        app.action(action)(only_ack)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    server = make_server(bare_app(), args.host, args.port, signing_secret=SIGNING_SECRET)
    print(f"bare Bolt app listening on http://{args.host}:{server.effective_port}", flush=True)
    server.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
