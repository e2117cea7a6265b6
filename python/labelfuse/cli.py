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
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence

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
    p.add_argument("--plots", type=Path, default=None, metavar="DIR",
                   help="save LF bars, the label histogram and the valid confusion matrix as PNG files in DIR")


@subcommand("run", "the main job: LF analysis, label models, embedding fusion, end model, and a report",
            _run_arguments)
def run_command(args: argparse.Namespace) -> int:
    from .datasets import DEFAULT_DATASET
    from .pipeline import run

    try:
        report = run(args.dataset or DEFAULT_DATASET, fusion=not args.no_fusion, end_model=not args.no_end_model,
                     random_state=args.seed, n_threads=args.n_threads, progress=sys.stderr.isatty(),
                     plots=args.plots)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        raise CommandError(exc.args[0] if isinstance(exc, KeyError) else str(exc)) from None
    print(report.to_text())
    if args.json:
        args.json.write_text(json.dumps(report.to_dict(), indent=1, default=float))
        print(f"\nreport written to {args.json}")
    if args.plots:
        print(f"plots written to {args.plots}")
    return 0


def _bench_arguments(p: argparse.ArgumentParser) -> None:
    from .bench.suite import add_arguments

    add_arguments(p)


@subcommand("bench", "the benchmark suite: every method (and installed peers) on every data set; scaling curves",
            _bench_arguments)
def bench(args: argparse.Namespace) -> int:
    from .bench.suite import main_from_args  # imported lazily: the suite pulls in fusion, torch, the peers

    return main_from_args(args)


# -- studio ----------------------------------------------------------------------------------------------------------
def _studio_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", nargs="?", default=None, metavar="DATA",
                   help="a CSV, parquet or JSONL file, a WRENCH folder or a data set name (default: wrench_youtube)")
    p.add_argument("--lfs", type=Path, default=None, metavar="FILE", help="a Python file of LFs to start from")
    p.add_argument("--text", default="text", help="the text column (default: text)")
    p.add_argument("--label", default=None, help="the gold-label column (default: 'label' when present)")
    p.add_argument("--split", default=None, help="the split column (default: 'split' when present)")
    p.add_argument("--dev-split", default=None, help="the split value of dev rows (default: dev; valid for WRENCH)")
    p.add_argument("--classes", default=None, help="class names, comma-separated (default: WRENCH's, else 0..k-1)")
    p.add_argument("--embeddings", default=None, metavar="NPY|minilm",
                   help="embeddings: a .npy file (one row per data row) or 'minilm' (default: a WRENCH folder's own)")
    p.add_argument("--label-model", default="triplet", help="triplet, covariance, dawid_skene or majority")
    p.add_argument("--fusion", default=None, choices=("liger", "epoxy"), help="serve fused labels (needs embeddings)")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 = any free port)")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow a non-loopback --host: the studio runs the Python typed into it (the token is still "
                        "required)")
    p.add_argument("--open", action="store_true", help="open the page in a browser")


@subcommand("studio", "the live LF studio in the browser: edit LFs, see their effect on the labels at once",
            _studio_arguments)
def studio_command(args: argparse.Namespace) -> int:
    try:
        from .studio import serve
        from .studio.data import load_studio_data
        from .studio.serve import check_host
    except ImportError as exc:
        raise CommandError(f"the studio needs starlette and uvicorn: pip install 'labelfuse[studio]' ({exc})"
                           ) from None
    from .datasets import DEFAULT_DATASET
    from .labeling.lf_file import lfs_from_file

    classes = [c.strip() for c in args.classes.split(",")] if args.classes else None
    try:
        check_host(args.host, args.allow_remote)
        ws, names = load_studio_data(args.data or DEFAULT_DATASET, text=args.text, label=args.label,
                                     split=args.split, dev_split=args.dev_split, embeddings=args.embeddings,
                                     label_model=args.label_model, fusion=args.fusion, class_names=classes)
        for lf in lfs_from_file(args.lfs) if args.lfs else []:
            ws.add(lf)
        serve(ws, host=args.host, port=args.port, allow_remote=args.allow_remote, class_names=names,
              title=Path(args.data or DEFAULT_DATASET).name, open_browser=args.open)
    except (FileNotFoundError, ValueError, KeyError, ImportError, OSError, RuntimeError) as exc:
        raise CommandError(exc.args[0] if isinstance(exc, KeyError) else str(exc)) from None
    except KeyboardInterrupt:
        return 0
    return 0


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
