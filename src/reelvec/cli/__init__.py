"""`reelvec` command line: a thin shell over `reelvec.app` and the search API. It parses
arguments, calls one app function, prints the result. Each command module registers its own
sub-parsers next to their handlers; files and environment variables are read in the app layer.
Every stage's errors surface as one clear line (exit 2), not a trace."""
from __future__ import annotations

import argparse
import logging
import sys

from reelvec.errors import ReelvecError

# command modules, in the order `reelvec --help` lists them
MODULES = ("data", "model", "index", "query")


# which module registers each command: a query only builds its own module's parsers (the whole
# parser costs ~50 ms of a cold `reelvec similar`); tests check this table against `register`
COMMANDS = {"catalog": "data", "fetch-posters": "data", "encode": "data", "train": "model", "eval": "model",
            "eval-history": "model", "build": "index", "reindex": "index", "rollback": "index", "snapshot": "index",
            "restore": "index", "info": "index", "verify": "index", "add": "index", "delete": "index", "export": "index",
            "precompute": "index",
            "similar": "query", "search": "query", "next": "query", "report": "query", "serve": "query"}


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with `argv` naming a command, only that command's module is imported."""
    import importlib

    p = argparse.ArgumentParser(
        prog="reelvec",
        description="reelvec: multimodal movie embeddings and search (text + poster, fused, in Qdrant).",
        epilog="Run `reelvec COMMAND --help` for a command's options and an example.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    first = next((a for a in argv or () if not a.startswith("-")), None)
    only = COMMANDS.get(first) if argv and not argv[0].startswith("-") else None
    for name in (only,) if only else MODULES:
        importlib.import_module(f"reelvec.cli.{name}").register(sub)
    return p


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (tests swap it between calls)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass

    def format(self, record) -> str:
        from reelvec.cli.common import terminal_safe

        return terminal_safe(super().format(record))


def setup_logging(quiet: bool) -> None:
    """Library modules log to `reelvec.*`; the CLI shows INFO on stderr (WARNING with --quiet)."""
    log = logging.getLogger("reelvec")
    if not any(isinstance(h, _StderrHandler) for h in log.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.WARNING if quiet else logging.INFO)


# Query commands do small matrix-vector products: one BLAS thread each, so a second thread does
# not spin beside them (it doubled the CPU per query and starved a writer next to 8 readers).
SINGLE_THREAD_BLAS = {"similar", "search", "next", "report", "serve", "info"}


def main(argv: list[str] | None = None) -> int:
    args = build_parser(sys.argv[1:] if argv is None else argv).parse_args(argv)
    if args.command in SINGLE_THREAD_BLAS and "numpy" not in sys.modules:
        import os

        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    setup_logging(getattr(args, "quiet", False))
    from reelvec.cli.common import SafeOutput, terminal_safe

    stdout = sys.stdout
    sys.stdout = SafeOutput(stdout)  # type: ignore[assignment]
    try:
        return args.func(args)
    except ReelvecError as exc:
        logging.getLogger("reelvec.cli").debug("error", exc_info=True)
        print(f"reelvec {args.command}: error: {terminal_safe(str(exc))}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `reelvec similar ... | head -1`
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # a path the user gave: not writable, not a folder, disk full
        where = f" {exc.filename}" if exc.filename else ""
        print(f"reelvec {args.command}: error:{where}: {exc.strerror or exc}; check the path and its permissions",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"reelvec {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        sys.stdout = stdout


if __name__ == "__main__":
    sys.exit(main())
