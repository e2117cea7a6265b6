"""The ``labelfuse`` command line.

Each subcommand is one function taking the parsed arguments and returning an exit code, registered with
:func:`subcommand` together with a function that declares its arguments. Adding a command is::

    def _bench_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("--n", type=int, default=100_000)

    @subcommand("bench", "time the statistics kernels", _bench_arguments)
    def bench(args: argparse.Namespace) -> int:
        ...
        return 0
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

__all__ = ["main"]


@dataclass(frozen=True)
class _Command:
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


_COMMANDS: Dict[str, _Command] = {}


class CommandError(Exception):
    """A user-facing error: printed as ``labelfuse <command>: error: <message>``, exit code 1."""


def subcommand(name: str, help: str, arguments: Callable[[argparse.ArgumentParser], None]
               ) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    """Register ``run(args) -> exit code`` as ``labelfuse <name>``; ``arguments(parser)`` declares its options."""
    def register(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        if name in _COMMANDS:
            raise ValueError(f"subcommand {name!r} is already registered")
        _COMMANDS[name] = _Command(help, arguments, run)
        return run
    return register


def _dataset_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", nargs="?", default=None, metavar="DATASET",
                   help="a WRENCH-format folder or a data set name (default: the bundled wrench_youtube)")
    p.add_argument("--drop-labeled", action="store_true",
                   help="drop the gold-labelled exemplars listed in labeled_ids.json from the train split")


# -- analyze ---------------------------------------------------------------------------------------------------------
def _analyze_arguments(p: argparse.ArgumentParser) -> None:
    _dataset_argument(p)
    p.add_argument("--split", choices=("train", "valid", "test"), default=None,
                   help="split to analyse (default: train, or the first split present)")
    p.add_argument("--gold", action="store_true",
                   help="add Correct / Incorrect / Emp. Acc. columns from the split's gold labels")


@subcommand("analyze", "print the labeling-function summary of a data set", _analyze_arguments)
def analyze(args: argparse.Namespace) -> int:
    from .labeling.analysis import LFAnalysis
    from .datasets import DEFAULT_DATASET, load_dataset

    try:
        ds = load_dataset(args.dataset or DEFAULT_DATASET, drop_labeled=args.drop_labeled, embeddings=False)
        split = ds.split(args.split or ("train" if "train" in ds else next(iter(ds.splits))))
    except (FileNotFoundError, ValueError, KeyError) as exc:
        raise CommandError(exc.args[0] if isinstance(exc, KeyError) else str(exc)) from None
    Y = None
    if args.gold:
        missing = int((split.Y < 0).sum())
        if missing:
            raise CommandError(f"--gold: {missing} of {split.n} examples in {split.name!r} have no gold label")
        Y = split.Y
    analysis = LFAnalysis(split.L, lfs=ds.lf_names, cardinality=ds.cardinality)
    summary = analysis.lf_summary(Y=Y)
    print(f"{ds.name} / {split.name}: {split.n} examples, {split.n_lfs} LFs, "
          f"{ds.cardinality} classes ({', '.join(ds.class_names)})")
    print(summary.to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"label coverage {analysis.label_coverage():.3f}, overlap {analysis.label_overlap():.3f}, "
          f"conflict {analysis.label_conflict():.3f}")
    return 0


def _run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", nargs="?", default=None, metavar="DATASET",
                   help="a bundled data set name or a WRENCH-format folder (default: the bundled youtube set)")
    p.add_argument("--no-fusion", action="store_true", help="skip embedding fusion (Epoxy, Liger)")
    p.add_argument("--no-end-model", action="store_true", help="skip the end model (Adapter)")
    p.add_argument("--seed", type=int, default=0, help="seed for k-means and end-model training")
    p.add_argument("--n-threads", type=int, default=None, help="native threads (default: all cores)")
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the report as JSON")
    p.add_argument("--tie-policy", choices=("abstain", "prior", "random", "hash"), default="abstain",
                   help="how rows a model abstains on are scored (as in every score() method): abstain = counted "
                        "wrong (default), prior, random, hash = WRENCH's per-row hash")


def _shown_warnings(caught: list) -> List[str]:
    """The warnings a command collected, once each, as lines for its output (labelfuse's categories by name)."""
    lines: List[str] = []
    for w in caught:
        line = f"{w.category.__name__}: {w.message}"
        if line not in lines:
            lines.append(line)
    return lines


@subcommand("run", "the main job: LF analysis, label models, embedding fusion, end model, and a report",
            _run_arguments)
def run_command(args: argparse.Namespace) -> int:
    from .datasets import DEFAULT_DATASET
    from .pipeline import run

    # The command is the application, so it may collect: every warning the run emits is listed after the report
    # (once each), where a library call would leave them to the caller's filters.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            report = run(args.dataset or DEFAULT_DATASET, fusion=not args.no_fusion,
                         end_model=not args.no_end_model, random_state=args.seed, n_threads=args.n_threads,
                         progress=sys.stderr.isatty(), tie_policy=args.tie_policy)
        except (FileNotFoundError, ValueError, KeyError) as exc:
            raise CommandError(exc.args[0] if isinstance(exc, KeyError) else str(exc)) from None
    print(report.to_text())
    shown = _shown_warnings(caught)
    if shown:
        print("\nWarnings:")
        print("\n".join(f"  {line}" for line in shown))
    if args.json:
        args.json.write_text(json.dumps(report.to_dict(), indent=1, default=float))
        print(f"\nreport written to {args.json}")
    return 0


def _bench_arguments(p: argparse.ArgumentParser) -> None:
    from .bench.suite import add_arguments

    add_arguments(p)


@subcommand("bench", "the benchmark suite: every method (and installed peers) on every data set; scaling curves",
            _bench_arguments)
def bench(args: argparse.Namespace) -> int:
    from .bench.suite import main_from_args  # imported lazily: the suite pulls in fusion, torch, the peers

    return main_from_args(args)


# -- entry point -----------------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="labelfuse", description="Weak supervision with a native core.")
    parser.add_argument("--version", action="version", version=f"labelfuse {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, cmd in _COMMANDS.items():
        cmd.arguments(sub.add_parser(name, help=cmd.help, description=cmd.help))
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run ``labelfuse`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return _COMMANDS[args.command].run(args)
    except CommandError as exc:
        print(f"labelfuse {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `labelfuse analyze | head`: the reader left; exit quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":  # python -m labelfuse.cli
    sys.exit(main())
