"""The ``vip-sidecar`` command line: the one place logging is configured."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import timedelta

from rules.config import PolicyError
from sidecar.errors import SidecarError

log = logging.getLogger("sidecar")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2

    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: not an error of ours.
        sys.stderr.close()
        return 0
    except PolicyError as exc:
        for problem in exc.problems:
            print(problem.render(exc.path), file=sys.stderr)
        return 1
    except SidecarError as exc:
        print(f"vip-sidecar: {exc.message}", file=sys.stderr)
        return 1


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s",
    )
    # Request lines and job chatter; the vendor HTTP clients are capped where
    # the connectors are defined (connector/__init__.py).
    for noisy in ("werkzeug", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vip-sidecar",
        description="A Zendesk sidecar that gives VIP and enterprise customers "
        "a faster lane.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command")

    _add_config_args(
        sub.add_parser("check-config", help="validate config and environment")
    )
    sub.choices["check-config"].set_defaults(func=_check_config)

    serve = sub.add_parser("serve", help="run the webhook server, worker and scheduler")
    _add_config_args(serve)
    serve.add_argument("--workers", type=int, help="web worker processes")
    serve.set_defaults(func=_serve)

    inbox = sub.add_parser("inbox", help="inspect or re-queue inbox events")
    _add_config_args(inbox)
    group = inbox.add_mutually_exclusive_group()
    group.add_argument("--failed", action="store_true", help="list failed events")
    group.add_argument("--retry", action="store_true", help="re-queue failed events")
    inbox.set_defaults(func=_inbox)

    sla = sub.add_parser("sla", help="SLA clocks")
    sla_sub = sla.add_subparsers(dest="sla_command")
    explain = sla_sub.add_parser("explain", help="print every clock of a ticket")
    _add_config_args(explain)
    explain.add_argument("ticket_id", type=_ticket_id)
    explain.set_defaults(func=_sla_explain)

    report = sub.add_parser(
        "report",
        help="first response, resolution, SLA compliance and CSAT per tier and account",
    )
    _add_config_args(report)
    report.add_argument("--json", action="store_true", dest="as_json")
    report.add_argument(
        "--since",
        type=float,
        metavar="DAYS",
        help="also read Zendesk's satisfaction ratings of the last DAYS days (CSAT)",
    )
    report.set_defaults(func=_report)

    _add_sandbox_parser(sub)
    _add_demo_parser(sub)
    _add_eval_parser(sub)
    return parser


def _add_verbose(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: a -v given before the subcommand is not reset by this one.
    parser.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
        help="debug logging",
    )  # fmt: skip


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(
            f"must be a whole number of at least 1: {text!r}"
        )

    return int(text)


def _ticket_id(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < 2**63:
        raise argparse.ArgumentTypeError(f"not a Zendesk ticket id: {text!r}")

    return int(text)


def _add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", help="policy file (default: $VIP_SIDECAR_CONFIG or config.yaml)"
    )
    _add_verbose(parser)
    parser.add_argument(
        "--insecure-allow-unsigned",
        action="store_true",
        help="accept webhooks without a signing secret "
        "(logs a warning; never in production)",
    )


def _load(args: argparse.Namespace):
    from sidecar.settings import load_settings

    return load_settings(args.config, allow_unsigned=args.insecure_allow_unsigned)


def _check_config(args: argparse.Namespace) -> int:
    try:
        settings = _load(args)
    except PolicyError as exc:
        print(f"{len(exc.problems)} problem(s) in the configuration:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem.render(exc.path)}", file=sys.stderr)
        return 1

    problem = _store_problem(settings.policy.store_url)
    if problem:
        print(f"{settings.config_path}: store.url: {problem}", file=sys.stderr)
        return 1

    print(f"{settings.config_path}: OK")
    return 0


def _store_problem(url: str) -> str | None:
    """Can the store be opened? (check-config only: serve would fail later.)"""
    from sidecar.store import Store

    store = Store(url)
    try:
        return None if store.ping() else "the database cannot be opened or reached"
    finally:
        store.dispose()


def _serve(args: argparse.Namespace) -> int:
    from sidecar.serve import serve

    try:
        settings = _load(args)
    except PolicyError as exc:
        for problem in exc.problems:
            print(problem.render(exc.path), file=sys.stderr)
        print(
            "refusing to start: fix the configuration (vip-sidecar check-config)",
            file=sys.stderr,
        )
        return 1

    serve(settings, workers=args.workers)
    return 0


def _store(args: argparse.Namespace):
    """The store alone: needs the policy file, not the secrets."""
    from rules.config import load_policy
    from sidecar.settings import config_path
    from sidecar.store import Store

    policy = load_policy(config_path(args.config))
    store = Store(policy.store_url)
    store.create_all()
    return policy, store


def _inbox(args: argparse.Namespace) -> int:
    from sidecar.clock import SystemClock

    _, store = _store(args)
    if args.retry:
        count = store.requeue_failed(SystemClock().now())
        print(f"re-queued {count} failed event(s)")
        return 0
    if args.failed:
        events = store.list_events("failed")
        for event in events:
            fields = (
                event.id,
                f"ticket {event.ticket_id}",
                event.kind,
                f"attempts {event.attempts}",
                event.last_error,
            )
            print("\t".join(str(field) for field in fields))
        print(f"{len(events)} failed event(s)")
        return 0

    print(json.dumps(store.inbox_counts(), indent=2))
    return 0


def _sla_explain(args: argparse.Namespace) -> int:
    from sidecar.explain import explain_ticket
    from sidecar.runtime import Runtime

    runtime = Runtime(_load(args))
    print(
        explain_ticket(
            runtime.store,
            runtime.zendesk,
            runtime.sla,
            args.ticket_id,
            runtime.clock.now(),
            calendars=runtime.calendars,
        )
    )
    return 0


def _report(args: argparse.Namespace) -> int:
    from sidecar.report import build_report, render_report

    _, store = _store(args)
    ratings = None
    if args.since is not None:
        from connector.zendesk import ZendeskConnector
        from sidecar.clock import SystemClock
        from sidecar.report import fetch_ratings
        from sidecar.runtime import zendesk_settings

        zendesk = ZendeskConnector(zendesk_settings(_load(args)))
        ratings = fetch_ratings(
            zendesk, timedelta(days=args.since), SystemClock().now()
        )

    report = build_report(store, ratings)
    print(json.dumps(report, indent=2) if args.as_json else render_report(report))
    return 0


def _add_sandbox_parser(sub) -> None:
    sandbox = sub.add_parser(
        "sandbox", help="run the local Zendesk + Salesforce stand-in"
    )
    sandbox.add_argument("--port", type=int, default=8443)
    sandbox.add_argument("--webhook-url", help="where to send signed webhooks")
    sandbox.add_argument("--mode", choices=("trigger", "events"), default="trigger")
    sandbox.add_argument(
        "--cert-dir", help="where to write the self-signed certificate"
    )
    sandbox.set_defaults(func=_sandbox)


def _sandbox(args: argparse.Namespace) -> int:
    from sidecar.sandbox import SandboxConfig, run_forever

    config = SandboxConfig(
        port=args.port,
        webhook_url=args.webhook_url,
        webhook_mode=args.mode,
        cert_dir=args.cert_dir,
    )
    run_forever(config)
    return 0


def _add_demo_parser(sub) -> None:
    demo = sub.add_parser(
        "demo", help="run the sidecar against the sandbox on real tickets"
    )
    demo.add_argument(
        "--tickets", help="CSV with subject and body columns (default: shipped sample)"
    )
    demo.add_argument(
        "--limit", type=_positive, default=None, help="replay at most N tickets"
    )
    demo.add_argument("--mode", choices=("trigger", "events"), default="trigger")
    demo.add_argument(
        "--keep-running", action="store_true", help="leave sandbox and sidecar running"
    )
    demo.add_argument(
        "--workdir", default="var/demo", help="where the demo keeps its files"
    )
    demo.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from sidecar.demo import run_demo

    return run_demo(
        tickets=args.tickets,
        limit=args.limit,
        mode=args.mode,
        keep_running=args.keep_running,
        workdir=args.workdir,
    )


def _add_eval_parser(sub) -> None:
    from sidecar.evaluate import add_eval_parser

    add_eval_parser(sub)


if __name__ == "__main__":
    raise SystemExit(main())
