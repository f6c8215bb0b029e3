"""``accelsim <command>``: a thin shell over the library.

Every error a user can cause (a bad config, trace or argument) ends as one line on standard
error and exit status 2; nothing else catches ``AccelsimError``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from accelsim import __version__
from accelsim.atomic import check_writable
from accelsim.errors import AccelsimError, UsageError, clip, shown

EXIT_USAGE = 2


def _terminal_columns() -> int:
    """``shutil.get_terminal_size().columns`` (``COLUMNS``, else the terminal, else 80),
    without importing ``shutil``, which argparse's help formatter does on every parser."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _Help(argparse.HelpFormatter):
    def __init__(self, prog: str, **kwargs: Any) -> None:
        kwargs.setdefault("width", _terminal_columns() - 2)  # argparse's own margin
        super().__init__(prog, **kwargs)


class _RawHelp(_Help, argparse.RawDescriptionHelpFormatter):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage block) and exit status 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Help)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def cmd_validate(args: argparse.Namespace) -> int:
    from accelsim.hardware import load_hardware

    failed = 0
    for name in args.configs:
        try:
            hw = load_hardware(name, args.set)
        except AccelsimError as exc:
            print(f"accelsim: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        a = hw.array
        print(f"{name}: ok ({hw.name}: {a.rows}x{a.cols} {a.dataflow}, {a.precision_scaling}, "
              f"{hw.clock_mhz:g} MHz, dram {hw.dram.model})")
    return EXIT_USAGE if failed else 0


def cmd_schema(args: argparse.Namespace) -> int:
    from accelsim.hardware.schema import json_schema, markdown_reference

    if args.markdown:
        sys.stdout.write(markdown_reference())
    else:
        sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")
    return 0


def op_kinds(text: str) -> set[str]:
    """``--only``'s comma-separated op kinds, each one the trace format knows."""
    from accelsim.trace.records import KINDS

    kinds = {k.strip() for k in text.split(",") if k.strip()}
    unknown = sorted(kinds - set(KINDS))
    if not kinds or unknown:
        raise UsageError(f"--only: {shown(', '.join(unknown) or text)} is not an op kind; "
                         f"expected some of {', '.join(KINDS)}")
    return kinds


def cmd_simulate(args: argparse.Namespace) -> int:
    from accelsim.hardware import load_hardware
    from accelsim.progress import Progress
    from accelsim.replay import CostCache, placed_ops, replay
    from accelsim.report import write_report
    from accelsim.trace.io import TraceReader

    hw = load_hardware(args.hw, args.set)
    only = op_kinds(args.only) if args.only is not None else None
    if args.timeline_ops < 1:
        raise UsageError(f"--timeline-ops must be at least 1, got {args.timeline_ops}")
    check_writable(args.out, "--out")
    if args.timeline:
        check_writable(args.timeline, "--timeline", directory=False)

    def ops(reader: TraceReader):
        """The trace's ops as they stream from the file (bounded memory at any length)."""
        return (op for op in reader if op.op in only) if only is not None else iter(reader)

    cache = CostCache(hw)
    with TraceReader(args.trace) as reader, Progress(None, "replay", unit="op") as bar:
        report = replay(hw, ops(reader), reader.header, progress=bar.update, cache=cache)
    doc = write_report(report, args.out)
    e = doc["energy_pj"]
    share = (f" (mac {e['mac'] / e['total']:.0%}, dram {e['dram'] / e['total']:.0%})"
             if e["total"] else "")
    causes = doc["stall_cycles_by_cause"]
    stalled = sum(cycles for cause, cycles in causes.items() if cause != "overlap")
    overlapped = -causes.get("overlap", 0)  # the time ops running side by side saved
    saved = f", {overlapped:,.0f} overlapped" if overlapped else ""
    print(f"{hw.name}: {doc['ops']:,} ops ({doc['distinct_ops']} distinct), "
          f"{doc['total_cycles']:,.0f} cycles ({stalled:,.0f} stalled{saved}), "
          f"{doc['latency_s'] * 1e3:.3f} ms, utilization {doc['utilization']:.1%}, "
          f"energy {e['total'] / 1e6:.3f} uJ{share}")
    print(f"wrote {Path(args.out) / 'report.json'}, layers.csv, occupancy.csv")
    if args.timeline:
        from accelsim.report.timeline import chrome_trace, write_timeline

        with TraceReader(args.trace) as reader:
            write_timeline(args.timeline, chrome_trace(hw, placed_ops(hw, ops(reader), cache),
                                                       args.timeline_ops))
        print(f"wrote {args.timeline} (open it in ui.perfetto.dev)")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from accelsim.train.trainer import train
    from accelsim.train.workload import load_workload

    _check_training_options(args)
    check_writable(args.out, "--out")
    workload = load_workload(args.workload, args.set)
    metrics = train(workload, args.method, args.out, epochs=args.epochs, seed=args.seed)
    final = metrics["final"]
    mem = metrics["memory"]
    print(f"{workload.name} / {args.method}: test accuracy {final['test_accuracy']:.2%}, "
          f"test loss {final['test_loss']:.3f} (uniform {metrics['uniform_baseline_loss']:.3f}), "
          f"parameter memory {mem['param_memory_bytes']:,} B, "
          f"{metrics['iterations']} iterations in {metrics['wall_time_s']:.1f} s")
    print(f"wrote {Path(args.out) / 'trace.jsonl.gz'}, metrics.json")
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    from accelsim.train.recorded_widths import read_widths
    from accelsim.train.shape_trace import check_iterations, shape_trace
    from accelsim.train.workload import load_workload

    check_iterations(args.iterations)
    if args.widths_from is not None and args.method != "rct":
        raise UsageError(f"--widths-from sets rct's widths; {args.method} takes its widths "
                         "from the workload (methods section, --set)")
    check_writable(args.out, "--out")
    workload = load_workload(args.workload, args.set)
    widths = read_widths(args.widths_from) if args.widths_from is not None else None
    metrics = shape_trace(workload, args.method, args.out, iterations=args.iterations,
                          widths=widths)
    counts, memory = metrics["trace"], metrics["training_memory"]
    print(f"{workload.name} / {args.method}: shape-only trace (no data, nothing trained, no "
          f"accuracy) of {metrics['iterations']:,} iterations at batch {metrics['batch_size']}: "
          f"{counts['records']:,} records ({counts['gemms']:,} GEMMs, "
          f"{counts['transfers']:,} transfers, {counts['vectors']:,} vector ops), parameter "
          f"memory {memory['param_memory_bytes']:,} B, training memory "
          f"{memory['peak_bytes']:,} B, in {metrics['wall_time_s']:.1f} s")
    print(f"wrote {Path(args.out) / 'trace.jsonl.gz'}, metrics.json")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from accelsim.study.compare import table
    from accelsim.study.run import parse_methods, run_study

    methods = parse_methods(args.methods)
    _check_training_options(args)
    widths = None
    if args.shape_only:
        from accelsim.train.recorded_widths import read_widths
        from accelsim.train.shape_trace import check_iterations

        if args.iterations is not None:
            check_iterations(args.iterations)
        if args.widths_from is not None:
            if "rct" not in methods:
                raise UsageError("--widths-from sets rct's widths, but rct is not in --methods")
            widths = read_widths(args.widths_from)
    elif args.iterations is not None or args.widths_from is not None:
        raise UsageError(f"{'--iterations' if args.iterations is not None else '--widths-from'}"
                         " needs --shape-only (training runs for --epochs and chooses its "
                         "own widths)")
    check_writable(args.out, "--out")
    doc = run_study(args.workload, args.hw, methods, args.out, epochs=args.epochs,
                    seed=args.seed, workload_overrides=args.set,
                    hardware_overrides=args.hw_set, figures=not args.no_figures,
                    shape_only=args.shape_only, iterations=args.iterations, widths=widths,
                    target_accuracy=args.target_accuracy)
    print(table(doc))
    print(f"wrote {Path(args.out) / 'comparison.json'}, comparison.csv"
          f"{', figures/' if not args.no_figures else ''}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from accelsim.study.compare import table
    from accelsim.study.run import compare_runs

    out = args.out or Path(args.dirs[0]).resolve().parent
    check_writable(out, "--out")
    doc = compare_runs(args.dirs, out, figures=not args.no_figures,
                       target_accuracy=args.target_accuracy)
    print(table(doc))
    print(f"wrote {Path(out) / 'comparison.json'}, comparison.csv"
          f"{', figures/' if not args.no_figures else ''}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from accelsim.atomic import write_atomic
    from accelsim.progress import Progress
    from accelsim.sweep.runner import pareto, pareto_plot, results_csv, run_sweep
    from accelsim.sweep.spec import iter_points, load_spec

    if args.workers is not None and not 1 <= args.workers <= 1024:
        raise UsageError(f"--workers must be from 1 to 1,024, got {shown(args.workers)}")
    check_writable(args.out, "--out")
    spec = load_spec(args.spec)
    with Progress(spec["size"], f"sweep {spec['name']}", unit="point") as bar:
        run = run_sweep(iter_points(spec), args.out, scheduler=args.scheduler,
                        workers=args.workers, progress=bar.update)
    out = Path(args.out)
    write_atomic(out / "results.csv", results_csv(run.rows))
    if not args.no_plot:
        pareto_plot(run.rows, out, f"{spec['name']}: {len(run.rows)} points")
    front = pareto(run.rows)
    failed = [row for row in run.rows if "error" in row]
    print(f"{spec['name']}: {run.total} points ({run.computed} computed, {run.skipped} already "
          f"done), {len(front)} on the energy-latency Pareto front")
    for row in failed[:5]:
        print(f"  point {row['overrides']} failed: {row['error']}")
    if failed:
        print(f"  {len(failed)} point(s) failed; see the error column of results.csv")
    print(f"wrote {out / 'results.csv'}{', pareto.png/.svg' if not args.no_plot else ''}")
    return 0


def cmd_dram(args: argparse.Namespace) -> int:
    from accelsim.hardware import load_hardware
    from accelsim.replay.requests import price_requests, read_requests

    hw = load_hardware(args.hw, args.set)
    requests = read_requests(args.requests)
    doc = price_requests(hw, requests)
    if args.json:
        print(json.dumps(doc))
        return 0
    e = doc["energy_pj"]
    print(f"{hw.name}: {len(requests):,} requests in "
          f"{doc['time_ns']:,.1f} ns, {doc['bandwidth_gb_s']:.2f} GB/s")
    for key in ("bytes_requested", "bytes_moved", "row_hits", "row_misses", "row_conflicts",
                "activates", "refreshes"):
        print(f"  {key:16s} {doc[key]:,}")
    print("  energy_pj        " + f"{e['total']:,.0f} (" + ", ".join(
        f"{k} {v:,.0f}" for k, v in e.items() if k != "total") + ")")
    return 0


def _training_options(p: argparse.ArgumentParser) -> None:
    """The options every command that trains shares."""
    p.add_argument("--epochs", type=int, metavar="N", help="override the workload's epochs")
    p.add_argument("--seed", type=int, metavar="S", help="override the workload's seed")
    p.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override a workload key (repeatable), e.g. methods.rct.t_min=0.1")


def _check_training_options(args: argparse.Namespace) -> None:
    if args.epochs is not None and not 1 <= args.epochs <= 100_000:
        raise UsageError(f"--epochs must be from 1 to 100,000, got {shown(args.epochs)}")
    if args.seed is not None and not 0 <= args.seed < 2**63:
        raise UsageError(f"--seed must be from 0 to 2**63 - 1, got {shown(args.seed)}")


def target_accuracy(text: str) -> float:
    """``--target-accuracy``: a percentage in (0, 100], as a fraction."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 100:
        raise argparse.ArgumentTypeError(f"must be a percentage above 0 and at most 100, got "
                                         f"{shown(text)}")
    return value / 100.0


def _target_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target-accuracy", type=target_accuracy, metavar="PCT",
                   help="energy-to-accuracy: the energy each method spends until its test "
                        "accuracy first reaches PCT %% (default: the lowest final accuracy of "
                        "the methods compared)")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser. Given ``command``, only that command's arguments are
    declared (every command is still listed): a parser costs a few milliseconds of gettext
    look-ups and help formatting, which a short command should not pay nine times over."""
    from accelsim.presets import names

    presets, workloads = ", ".join(names("configs")), ", ".join(names("workloads"))
    parser = _Parser(prog="accelsim", description="Energy, time and memory of training "
                     "networks on edge accelerators.",
                     epilog=f"machine presets: {presets}\nworkload presets: {workloads}\n"
                     "Every command takes files too; see `accelsim COMMAND --help`.",
                     formatter_class=_RawHelp)
    parser.add_argument("--version", action="version", version=f"accelsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    for name, (text, declare) in _COMMANDS.items():
        p = sub.add_parser(name, help=text)
        if command is None or command == name:
            declare(p, presets, workloads)
    return parser


def _validate_arguments(p: argparse.ArgumentParser, presets: str, workloads: str) -> None:
    p.add_argument("configs", nargs="+", metavar="CONFIG",
                   help=f"YAML files or preset names ({presets})")
    p.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override a config key (repeatable)")
    p.set_defaults(func=cmd_validate)


def _simulate_arguments(p: argparse.ArgumentParser, presets: str, workloads: str) -> None:
    p.add_argument("--hw", default="edge-16x16", metavar="CONFIG",
                   help=f"YAML file or preset name (default: edge-16x16; presets: {presets})")
    p.add_argument("--trace", required=True, metavar="TRACE", help="trace .jsonl or .jsonl.gz")
    p.add_argument("--out", required=True, metavar="DIR", help="directory for the report")
    p.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override a config key (repeatable), e.g. array.rows=32")
    p.add_argument("--timeline", metavar="FILE",
                   help="also write a Chrome trace JSON of the replay (Perfetto opens it)")
    p.add_argument("--timeline-ops", type=int, default=500, metavar="N",
                   help="op executions in the timeline (default: 500)")
    p.add_argument("--only", metavar="KINDS",
                   help="replay only these op kinds, comma-separated (gemm, transfer, vector), "
                        "e.g. gemm,transfer to leave the vector work out")
    p.set_defaults(func=cmd_simulate)


def _train_arguments(p: argparse.ArgumentParser, presets: str, workloads: str) -> None:
    from accelsim.method_names import METHODS

    p.add_argument("--workload", required=True, metavar="FILE",
                   help=f"workload YAML or preset name ({workloads})")
    p.add_argument("--method", required=True, type=method_name, metavar="METHOD",
                   help=f"training method: {', '.join(METHODS)}")
    p.add_argument("--out", required=True, metavar="DIR", help="directory for trace and metrics")
    _training_options(p)
    p.set_defaults(func=cmd_train)


def _trace_arguments(p: argparse.ArgumentParser, presets: str, workloads: str) -> None:
    from accelsim.method_names import METHODS

    p.add_argument("--workload", required=True, metavar="FILE",
                   help=f"workload YAML or preset name ({workloads})")
    p.add_argument("--method", required=True, type=method_name, metavar="METHOD",
                   help=f"training method: {', '.join(METHODS)}")
    p.add_argument("--iterations", required=True, type=int, metavar="N",
                   help="training iterations to trace (epochs cut as training cuts them, the "
                        "last batch of each smaller)")
    p.add_argument("--out", required=True, metavar="DIR", help="directory for trace and metrics")
    p.add_argument("--widths-from", metavar="RUN_DIR",
                   help="rct: apply the per-layer widths of RUN_DIR/metrics.json's "
                        "bitwidth_history, each from its iteration on (default: methods.rct)")
    p.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override a workload key (repeatable), e.g. batch_size=256")
    p.set_defaults(func=cmd_trace)


def _run_arguments(p: argparse.ArgumentParser, presets: str, workloads: str) -> None:
    p.add_argument("--workload", default="lenet5-digits", metavar="FILE",
                   help=f"workload YAML or preset (default: lenet5-digits; presets: {workloads})")
    p.add_argument("--hw", default="edge-16x16", metavar="CONFIG",
                   help=f"hardware YAML or preset (default: edge-16x16; presets: {presets})")
    p.add_argument("--methods", default="fp32,qat,rct", metavar="LIST",
                   help="comma-separated methods (default: fp32,qat,rct)")
    p.add_argument("--out", default="runs/latest", metavar="DIR",
                   help="output directory (default: runs/latest)")
    _training_options(p)
    p.add_argument("--hw-set", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override a hardware key (repeatable)")
    p.add_argument("--no-figures", action="store_true", help="skip the figures")
    _target_option(p)
    p.add_argument("--shape-only", action="store_true",
                   help="train nothing: write each method's trace from the network's shapes "
                        "(accelsim trace); prices energy, time and memory, measures no accuracy")
    p.add_argument("--iterations", type=int, metavar="N",
                   help="with --shape-only: iterations to trace (default: the workload's "
                        "epochs of batches)")
    p.add_argument("--widths-from", metavar="RUN_DIR",
                   help="with --shape-only: rct's per-layer widths from a recorded run")
    p.set_defaults(func=cmd_run)


def _compare_arguments(p: argparse.ArgumentParser, presets: str, workloads: str) -> None:
    p.add_argument("dirs", nargs="+", metavar="DIR",
                   help="run directories holding metrics.json and report.json")
    p.add_argument("--out", metavar="DIR", help="where to write (default: the first DIR's parent)")
    p.add_argument("--no-figures", action="store_true", help="skip the figures")
    _target_option(p)
    p.set_defaults(func=cmd_compare)


def _sweep_arguments(p: argparse.ArgumentParser, presets: str, workloads: str) -> None:
    p.add_argument("spec", metavar="SPEC", help="sweep spec YAML (base, grid/points, traces)")
    p.add_argument("--out", required=True, metavar="DIR", help="results directory")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="run on this Dask scheduler (pip install 'accelsim[cluster]')")
    p.add_argument("--workers", type=int, metavar="N",
                   help="local worker processes (default: one per core)")
    p.add_argument("--no-plot", action="store_true", help="skip the Pareto plot")
    p.set_defaults(func=cmd_sweep)


def _dram_arguments(p: argparse.ArgumentParser, presets: str, workloads: str) -> None:
    p.add_argument("--hw", default="edge-16x16", metavar="CONFIG",
                   help=f"YAML file or preset name (default: edge-16x16; presets: {presets})")
    p.add_argument("--requests", required=True, metavar="FILE.csv",
                   help="CSV with the header addr,bytes,op (op: read or write)")
    p.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override a config key (repeatable), e.g. dram.lpddr4.trcd_tck=30")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_dram)


def _schema_arguments(p: argparse.ArgumentParser, presets: str, workloads: str) -> None:
    p.add_argument("--markdown", action="store_true", help="print the key reference instead")
    p.set_defaults(func=cmd_schema)


_COMMANDS = {
    "validate": ("check hardware configs", _validate_arguments),
    "simulate": ("replay a trace through a hardware config", _simulate_arguments),
    "train": ("train a workload with a method and write its trace", _train_arguments),
    "trace": ("write a method's training trace from the network's shapes alone (no data, "
              "no training, no accuracy)", _trace_arguments),
    "run": ("train methods, simulate each, compare (the main study)", _run_arguments),
    "compare": ("compare existing run directories", _compare_arguments),
    "sweep": ("simulate a grid of machines over traces (resumable)", _sweep_arguments),
    "dram": ("price a list of DRAM requests (CSV addr,bytes,op)", _dram_arguments),
    "schema": ("print the JSON Schema of hardware configs", _schema_arguments),
}


# One BLAS thread: training's GEMMs are small (two threads were slower, benchmarks/README.md),
# and a fixed summation order makes a seed reproduce the same training on every machine with the
# same BLAS. Set before numpy is first imported (nothing above imports it); the user's own
# settings win.
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def method_name(text: str) -> str:
    """A method as the CLI spells it (``bnn-lowmem``); ``bnn_lowmem`` is accepted too."""
    from accelsim.method_names import METHODS, canonical_method

    name = canonical_method(text)
    if name not in METHODS:
        raise argparse.ArgumentTypeError(f"unknown method {clip(text)!r}; valid: "
                                         f"{', '.join(METHODS)}")
    return name


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill PID``), raised like Ctrl-C so that every ``finally`` cleans up: temporary
    files are removed and sweep workers stopped."""


def _terminate(signum: int, _frame: object) -> None:
    raise Terminated


def main(argv: Sequence[str] | None = None) -> int:
    import signal
    import threading

    for variable in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(variable, "1")
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main else None
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        command = next((a for a in argv if not a.startswith("-")), None)
        args = build_parser(command if command in _COMMANDS else None).parse_args(argv)
        return args.func(args)
    except AccelsimError as exc:
        print(f"accelsim: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Terminated:
        print("accelsim: terminated; finished work is kept", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("accelsim: interrupted; finished work is kept", file=sys.stderr)
        return 130
    except MemoryError:
        print("accelsim: error: out of memory; reduce the workload, batch or trace size",
              file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # --help and --version print and end here
        return exc.code if isinstance(exc.code, int) else 0
    except BrokenPipeError:
        # The reader went away (e.g. `accelsim ... | head`): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except OSError as exc:
        # An output path that cannot be written (a file where a directory should be, a
        # read-only or pseudo file system, a full disk, ...).
        what = exc.filename if exc.filename is not None else "output"
        print(f"accelsim: error: cannot write {clip(str(what))}: {exc.strerror or exc}",
              file=sys.stderr)
        return EXIT_USAGE
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
