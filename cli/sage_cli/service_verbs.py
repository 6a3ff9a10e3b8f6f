"""start|stop|status|logs|restart of one service run alone (``sage_deploy.standalone``), shared
by ``sage jobmanager``, ``sage llm serve|stop|status|logs`` and ``sage gateway``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sage_cli import settings as cli_settings


@dataclass(frozen=True)
class ServiceVerbs:
    service: str  # topology name: kernel, llm, gateway
    title: str  # what users call it: "job manager"
    command: str  # how users stop it: "sage jobmanager"
    default_port: Callable[[dict[str, Any]], int | None] = lambda s: None
    default_host: Callable[[dict[str, Any]], str | None] = lambda s: None
    # start flags of this service -> its settings (SAGE_<KEY> of the instance)
    start_settings: Callable[[argparse.Namespace], dict[str, str]] = lambda a: {}
    extra_start_flags: Callable[[argparse.ArgumentParser], None] = lambda p: None
    companions: tuple[str, ...] = ()  # services `--with` may start first (stopped with it)
    verbs: dict[str, str] = field(
        default_factory=lambda: {
            "start": "start",
            "stop": "stop",
            "status": "status",
            "logs": "logs",
            "restart": "restart",
        }
    )  # our verb -> the name users type (`sage llm serve` starts)

    def register(self, sub: argparse._SubParsersAction) -> None:
        defaults = cli_settings.load_or_defaults()
        run_help = f"where pids, logs and data live (default {defaults['run_dir']}/)"
        for verb, name in self.verbs.items():
            if verb == "start":
                text = f"start the {self.title} alone (with etcd) and register it in etcd"
            elif verb == "restart":
                text = f"stop, then start the {self.title}"
            else:
                text = {
                    "stop": f"stop the {self.title} (it deregisters from etcd)",
                    "status": f"is the {self.title} running, serving and registered",
                    "logs": f"print the {self.title}'s log",
                }[verb]
            p = sub.add_parser(name, help=text)
            p.add_argument("--run-dir", default=defaults["run_dir"], help=run_help)
            if verb in ("start", "restart"):
                port = self.default_port(defaults)
                p.add_argument(
                    "--port",
                    type=int,
                    default=port,
                    help=f"port to listen on (default {port if port is not None else 'the topology'}"
                    "; 0 picks a free one)",
                )
                p.add_argument(
                    "--host", default=self.default_host(defaults), help="address to bind"
                )
                p.add_argument(
                    "--ephemeral-ports",
                    action="store_true",
                    help="free ports for etcd and the rest (a first start in a run directory)",
                )
                p.add_argument("--timeout", type=float, default=90.0)
                p.add_argument(
                    "--set",
                    action="append",
                    dest="settings",
                    metavar="KEY=VALUE",
                    help=f"a setting of the {self.title}, e.g. --set log_level=DEBUG",
                )
                if self.companions:
                    p.add_argument(
                        "--with",
                        dest="companions",
                        action="append",
                        choices=self.companions,
                        help=f"also start this service first, stopped with the {self.title} "
                        "(repeatable)",
                    )
                self.extra_start_flags(p)
            if verb in ("stop", "restart"):
                p.add_argument(
                    "--grace", type=float, default=10.0, help="seconds between SIGTERM and SIGKILL"
                )
            if verb == "status":
                p.add_argument("--json", action="store_true")
            if verb == "logs":
                p.add_argument("--lines", "-n", type=int, default=50)
                p.add_argument("--follow", "-f", action="store_true", help="keep printing")
            p.set_defaults(func=getattr(self, f"_{verb}"))

    # -- verbs --------------------------------------------------------------------------------
    def _standalone(self, args: argparse.Namespace, **kwargs: Any) -> Any:
        from sage_deploy.standalone import Standalone

        return Standalone(self.service, args.run_dir, **kwargs)

    def _settings(self, args: argparse.Namespace) -> dict[str, str]:
        values = dict(self.start_settings(args))
        if args.host:
            values["host"] = args.host
        for item in args.settings or ():
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise ValueError(f"--set {item!r}: expected KEY=VALUE, e.g. log_level=DEBUG")
            values[key] = value
        return values

    def _start(self, args: argparse.Namespace) -> int:
        from sage_deploy.processes import StartError

        try:
            alone = self._standalone(
                args, ephemeral=args.ephemeral_ports, settings=self._settings(args)
            )
            print(f"starting the {self.title} ({alone.name}) in {args.run_dir}/ ...")
            info, started = alone.start(
                args.port, args.timeout, tuple(getattr(args, "companions", None) or ())
            )
        except (StartError, FileNotFoundError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        etcd = alone.etcd_address()
        state = "is up" if started else "was already running"
        print(f"{self.title} {state}: {info['address']} (pid {info.get('pid', '?')})")
        print(f"  registered in etcd {etcd} as service {self.service!r}")
        print(f"  log: {alone.log_path}")
        print(
            f"clients: export SAGE_ETCD_ENDPOINTS={etcd}  "
            f"(or SAGE_{self.service.upper()}_ADDR={info['address']})"
        )
        print(f"stop it with: {self.command} {self.verbs['stop']} --run-dir {args.run_dir}")
        self.after_start(args, info)
        return 0

    def after_start(self, args: argparse.Namespace, info: dict[str, Any]) -> None:
        """What a service adds to a successful start's report."""

    def _stop(self, args: argparse.Namespace) -> int:
        stopped = self._standalone(args).stop(args.grace)
        print(
            "stopped: " + (", ".join(stopped) if stopped else f"the {self.title} was not running")
        )
        return 0

    def _restart(self, args: argparse.Namespace) -> int:
        self._stop(args)
        return self._start(args)

    def _status(self, args: argparse.Namespace) -> int:
        state = self._standalone(args).status()
        if args.json:
            print(json.dumps(state.to_dict(), indent=2))
        elif state.pid is None:
            print(f"{state.name}: not running (start it with {self.command} {self.verbs['start']})")
        else:
            registered = {True: "registered in etcd", False: "NOT registered in etcd"}.get(
                state.registered, "etcd not reachable"
            )
            print(
                f"{state.name}: running, pid {state.pid}, {state.address or '(starting)'}, "
                f"{state.health}, {registered}"
            )
        return 0 if state.pid is not None and state.health == "SERVING" else 1

    def _logs(self, args: argparse.Namespace) -> int:
        alone = self._standalone(args)
        lines = alone.log_lines(args.lines)
        if not lines and not alone.log_path.exists():
            print(f"error: no log yet at {alone.log_path}", file=sys.stderr)
            return 1
        for line in lines:
            print(line)
        if args.follow:
            for line in alone.follow_log():
                print(line, flush=True)
        return 0
