"""`sage llm models|generate|chat|embed` (discovery from SAGE_LLM_ADDR or SAGE_ETCD_ENDPOINTS),
and `sage llm serve|stop|status|logs|restart`: one LLM instance alone, with etcd."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from sage_cli.service_verbs import ServiceVerbs


def _serve_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        "-m",
        default=None,
        help="a local HF model folder or .gguf file (default: the bundled SmolLM2-135M-Instruct)",
    )
    p.add_argument("--model-name", default=None, help="the name clients ask for")
    p.add_argument(
        "--backend",
        default=None,
        choices=("auto", "mock", "transformers", "cpu", "cuda", "vllm", "ascend", "llamacpp"),
        help="engine (default llm.backend of ~/.sage/config.yaml, else auto)",
    )
    p.add_argument("--no-embeddings", action="store_true", help="do not load the embedding model")


def _serve_settings(args: argparse.Namespace) -> dict[str, str]:
    from sage_cli import settings

    defaults = settings.load_or_defaults()["llm"]
    values = {"backend": args.backend or str(defaults.get("backend") or "auto")}
    model = args.model if args.model is not None else str(defaults.get("model_path") or "")
    if model:
        values["model_path"] = model
    if args.model_name:
        values["model_name"] = args.model_name
    if args.no_embeddings:
        values["embeddings"] = "false"
    return values


SERVE = ServiceVerbs(
    service="llm",
    title="LLM instance",
    command="sage llm",
    start_settings=_serve_settings,
    extra_start_flags=_serve_flags,
    verbs={
        "start": "serve",
        "stop": "stop",
        "status": "status",
        "logs": "logs",
        "restart": "restart",
    },
)


def register(groups: argparse._SubParsersAction) -> None:
    llm = groups.add_parser("llm", help="generate text and embeddings with the LLM service")
    llm.add_argument(
        "--address", help="host:port of an LLM instance or of Envoy (default: discovery)"
    )
    sub = llm.add_subparsers(dest="action", required=True)
    p = sub.add_parser("models", help="list the served models")
    p.set_defaults(func=_models)
    for name, help_text in (("generate", "complete a prompt"), ("chat", "answer one user message")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("prompt")
        p.add_argument("--model", default="", help="model name (default: the instance's default)")
        p.add_argument("--stream", action="store_true", help="print tokens as they are decoded")
        p.add_argument("--max-tokens", type=int, default=256)
        p.add_argument("--temperature", type=float, default=0.7)
        p.add_argument("--seed", type=int)
        p.add_argument("--stop", action="append", help="stop sequence (repeatable)")
        p.set_defaults(func=_generate, chat=name == "chat")
    p = sub.add_parser("embed", help="print the embedding of each text as a JSON list")
    p.add_argument("texts", nargs="+")
    p.set_defaults(func=_embed)
    SERVE.register(sub)


def _client(args: argparse.Namespace) -> Any:
    from sage_client.llm import LLMClient

    return LLMClient(address=args.address)


def _run(fn: Any) -> int:
    from sage_client import SageError

    try:
        return int(fn())
    except SageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _models(args: argparse.Namespace) -> int:
    def go() -> int:
        for m in _client(args).models():
            extra = (
                f"dim={m['dimension']}"
                if m["kind"] == "embedding"
                else f"context={m['context_length']}"
            )
            print(f"{m['name']}\t{m['kind']}\t{m['engine']}\t{m['device']}\t{extra}")
        return 0

    return _run(go)


def _generate(args: argparse.Namespace) -> int:
    sampling = {
        "max_tokens": args.max_tokens,
        "temperature": args.temperature,
        "seed": args.seed,
        "stop": args.stop,
    }
    prompt: Any = [{"role": "user", "content": args.prompt}] if args.chat else args.prompt

    def go() -> int:
        client = _client(args)
        if args.stream:
            for piece in client.stream(prompt, model=args.model, **sampling):
                sys.stdout.write(piece)
                sys.stdout.flush()
            sys.stdout.write("\n")
            return 0
        result = (
            client.chat(prompt, model=args.model, **sampling)
            if args.chat
            else client.generate(prompt, model=args.model, **sampling)
        )
        print(result["text"])
        return 0

    return _run(go)


def _embed(args: argparse.Namespace) -> int:
    def go() -> int:
        for row in _client(args).embed(args.texts):
            print(json.dumps([round(float(x), 6) for x in row]))
        return 0

    return _run(go)
