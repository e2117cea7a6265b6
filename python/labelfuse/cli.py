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
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Sequence

if TYPE_CHECKING:
    import numpy as np

    from .datasets import Dataset

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


def _data_arguments(p: argparse.ArgumentParser) -> None:
    """DATA and the options that say how to read it and where its votes come from (shared by run and analyze)."""
    from .user_data import ACCEPTED_FORMATS

    p.add_argument("data", nargs="?", default=None, metavar="DATA",
                   help=f"{ACCEPTED_FORMATS}, or a bundled data set name (default: the bundled wrench_youtube)")
    p.add_argument("--lfs", type=Path, default=None, metavar="FILE.py",
                   help="your labeling functions: every LabelingFunction defined in the file (or its list `lfs`); "
                        "required for a table, optional for a WRENCH folder (replaces its weak labels)")
    p.add_argument("--text-column", default="text", metavar="NAME", help="the table's text column (default: text)")
    p.add_argument("--label-column", default="label", metavar="NAME",
                   help="the table's gold-label column, if it has one (default: label; empty or -1 = unknown)")
    p.add_argument("--split-column", default="split", metavar="NAME",
                   help="the table's train/valid/test column, if it has one (default: split; without it the rows "
                        "are split with --seed)")
    p.add_argument("--classes", default=None, metavar="A,B,...",
                   help="class names in class-id order (sets the number of classes; maps named gold labels)")
    p.add_argument("--seed", type=int, default=0, help="seed for the split of a table without a split column "
                                                       "(and, in run, for k-means and end-model training)")
    p.add_argument("--drop-labeled", action="store_true",
                   help="WRENCH folders: drop the gold-labelled exemplars listed in labeled_ids.json from train")


def _minilm(texts: Sequence[str]) -> "np.ndarray":
    """MiniLM sentence embeddings (labelfuse.embeddings.encode: cached on disk by content)."""
    from .embeddings import encode

    return encode(texts, progress=sys.stderr.isatty())


def _load_data(args: argparse.Namespace, encode: bool = False) -> "Dataset":
    """The Dataset DATA names, with the user's LFs applied; notes (how a table was split) go to stderr."""
    import warnings

    from .datasets import DEFAULT_DATASET
    from .labeling import LFApplyError, lfs_from_file
    from .labeling.preprocess import PreprocessorError
    from .user_data import UserDataWarning, load_user_data

    lfs = None
    if args.lfs is not None:
        try:
            lfs = lfs_from_file(args.lfs)
        except (FileNotFoundError, ValueError, RuntimeError) as exc:
            raise CommandError(f"--lfs: {exc}") from None
    encoder = _minilm if encode else None
    classes = [c.strip() for c in args.classes.split(",")] if args.classes else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserDataWarning)
        try:
            ds = load_user_data(args.data or DEFAULT_DATASET, lfs=lfs, text_column=args.text_column,
                                label_column=args.label_column, split_column=args.split_column, classes=classes,
                                random_state=args.seed, encoder=encoder, drop_labeled=args.drop_labeled,
                                progress=sys.stderr.isatty())
        except (FileNotFoundError, ValueError, KeyError, TypeError, LFApplyError, PreprocessorError) as exc:
            raise CommandError(exc.args[0] if isinstance(exc, KeyError) else str(exc)) from None
        except ImportError as exc:
            raise CommandError(f"--encode: {exc}") from None
    for w in caught:
        print(f"note: {w.message}", file=sys.stderr)
    return ds


# -- analyze ---------------------------------------------------------------------------------------------------------
def _analyze_arguments(p: argparse.ArgumentParser) -> None:
    _data_arguments(p)
    p.add_argument("--split", choices=("train", "valid", "test"), default=None,
                   help="split to analyse (default: train, or the first split present; every row of a table)")
    p.add_argument("--gold", action="store_true",
                   help="add Correct / Incorrect / Emp. Acc. columns from the gold labels (a table: on the rows "
                        "that have one)")
    p.add_argument("--json", nargs="?", const="-", default=None, metavar="PATH",
                   help="write the summary as JSON to PATH (no PATH: to stdout, instead of the table)")


@subcommand("analyze", "print the labeling-function summary of a data set", _analyze_arguments)
def analyze(args: argparse.Namespace) -> int:
    import numpy as np

    from .labeling.analysis import LFAnalysis

    ds = _load_data(args)
    table = args.data is not None and Path(args.data).is_file()
    try:
        if table and args.split is None:  # a table: every row, whatever split it was given
            name = "all rows"
            L = np.concatenate([sp.L for sp in ds.splits.values()])
            Y_all = np.concatenate([sp.Y for sp in ds.splits.values()])
        else:
            split = ds.split(args.split or ("train" if "train" in ds else next(iter(ds.splits))))
            name, L, Y_all = split.name, split.L, split.Y
    except KeyError as exc:
        raise CommandError(exc.args[0]) from None
    Y = None
    if args.gold:
        missing = int((Y_all < 0).sum())
        if table and missing < len(Y_all):
            L, Y = L[Y_all >= 0], Y_all[Y_all >= 0]
            name += f" with a gold label ({len(Y)} of {len(Y_all)})"
        elif missing:
            raise CommandError(f"--gold: {missing} of {len(Y_all)} examples in {name!r} have no gold label")
        else:
            Y = Y_all
    analysis = LFAnalysis(L, lfs=ds.lf_names, cardinality=ds.cardinality)
    summary = analysis.lf_summary(Y=Y)
    totals = {"label_coverage": analysis.label_coverage(), "label_overlap": analysis.label_overlap(),
              "label_conflict": analysis.label_conflict()}
    if args.json is not None:
        doc = {"dataset": ds.name, "split": name, "n": int(L.shape[0]), "n_lfs": int(L.shape[1]),
               "cardinality": ds.cardinality, "classes": ds.class_names,
               "lfs": json.loads(summary.to_json(orient="index")), **totals}
        text = json.dumps(doc, indent=1, default=float)
        if args.json == "-":
            print(text)
            return 0
        Path(args.json).write_text(text)
    print(f"{ds.name} / {name}: {L.shape[0]} examples, {L.shape[1]} LFs, "
          f"{ds.cardinality} classes ({', '.join(ds.class_names)})")
    print(summary.to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"label coverage {totals['label_coverage']:.3f}, overlap {totals['label_overlap']:.3f}, "
          f"conflict {totals['label_conflict']:.3f}")
    if args.json is not None:
        print(f"\nsummary written to {args.json}")
    return 0


def _run_arguments(p: argparse.ArgumentParser) -> None:
    _data_arguments(p)
    p.add_argument("--encode", action="store_true",
                   help="compute MiniLM sentence embeddings for data without them (cached), so that embedding "
                        "fusion and the end model can run")
    p.add_argument("--no-fusion", action="store_true", help="skip embedding fusion (Epoxy, Liger)")
    p.add_argument("--no-end-model", action="store_true", help="skip the end model (Adapter)")
    p.add_argument("--n-threads", type=int, default=None, help="native threads (default: all cores)")
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the report as JSON")
    p.add_argument("--plots", type=Path, default=None, metavar="DIR",
                   help="save LF bars, the label histogram and the valid confusion matrix as PNG files in DIR")
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
    from .pipeline import run

    ds = _load_data(args, encode=args.encode)
    missing = [s for s in ("train", "valid", "test") if s not in ds]
    if missing:
        gold = sum(int((sp.Y >= 0).sum()) for sp in ds.splits.values())
        raise CommandError(
            f"{ds.name} has no {' / '.join(missing)} split: run fits on train and chooses and scores models on gold "
            f"labels in valid and test ({gold} rows have a gold label"
            + (f" in column {args.label_column!r}" if args.data is not None and Path(args.data).is_file() else "")
            + "); `labelfuse analyze` works without gold labels")
    # The command is the application, so it may collect: every warning the run emits is listed after the report
    # (once each), where a library call would leave them to the caller's filters.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            report = run(ds, fusion=not args.no_fusion, end_model=not args.no_end_model,
                         random_state=args.seed, n_threads=args.n_threads, progress=sys.stderr.isatty(),
                         plots=args.plots, tie_policy=args.tie_policy)
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
    _data_arguments(p)
    p.add_argument("--dev-split", default=None, metavar="NAME",
                   help="the split value of dev rows (default: the first of dev, valid, validation, val present)")
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
        from .studio.runner import check_host
    except ImportError as exc:
        raise CommandError(f"the studio needs starlette and uvicorn: pip install 'labelfuse[studio]' ({exc})"
                           ) from None
    from .datasets import DEFAULT_DATASET
    from .labeling.lf_file import lfs_from_file

    classes = [c.strip() for c in args.classes.split(",")] if args.classes else None
    try:
        check_host(args.host, args.allow_remote)
        ws, names = load_studio_data(args.data or DEFAULT_DATASET, text=args.text_column, label=args.label_column,
                                     split=args.split_column, dev_split=args.dev_split, embeddings=args.embeddings,
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
