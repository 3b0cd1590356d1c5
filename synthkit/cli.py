"""The ``synthkit`` command line: demo, fit, sample and evaluate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["app"]

app = typer.Typer(
    help="synthkit: fit generative models on real tables, sample synthetic ones, measure them.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()

_SUMMARY_METRICS = [
    "column_shapes",
    "column_pair_trends",
    "detection_auc",
    "dcr_share",
    "exact_match_rate",
    "identifier_leak",
    "likelihood_mia_auc",
    "tstr_auc",
    "trtr_auc",
]


def _parse_conditions(items: list[str]) -> dict[str, Any]:
    conditions: dict[str, Any] = {}
    for item in items:
        column, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{item!r}: write conditions as column=value")
        try:
            conditions[column] = json.loads(value)
        except json.JSONDecodeError:
            conditions[column] = value
    return conditions


def _print_report(report: Any, title: str) -> None:
    table = Table(title=title)
    for name in ("metric", "score", "better", "what it measures"):
        table.add_column(name)
    frame = report.to_frame()
    for name, row in frame.iterrows():
        if name not in _SUMMARY_METRICS:
            continue
        table.add_row(
            str(name),
            f"{row['value']:.4f}",
            str(row.get("direction", "")),
            str(row.get("explanation", "")),
        )
    console.print(table)


@app.command()
def demo(
    model: Annotated[str, typer.Option(help="Registered model name.")] = "autoregressive",
    epochs: Annotated[
        int | None, typer.Option(help="Training epochs (default: the model's own).")
    ] = None,
    output: Annotated[Path, typer.Option(help="Where to write the synthetic Parquet.")] = Path(
        "out/adult_synthetic.parquet"
    ),
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Fit a model on the bundled Adult census data, write synthetic Parquet, print quality."""
    import synthkit
    from synthkit.datasets import load_adult
    from synthkit.evaluation.data import scores_likelihood

    train, test = load_adult("train"), load_adult("test")
    console.print(f"Adult census data: {len(train):,} training rows, {len(test):,} held out.")
    options = {"epochs": epochs} if epochs is not None else {}
    synthesizer = synthkit.Synthesizer(model, random_state=seed, **options)
    synthesizer.fit(train)
    synthetic = synthesizer.sample(len(train), random_state=seed)
    synthkit.save(synthetic, str(output))
    model_path = output.with_suffix(".synthkit")
    synthesizer.save(model_path)
    rich = synthesizer.sample(1_000, conditions={"income": ">50K"}, random_state=seed)
    console.print(
        f"Wrote {len(synthetic):,} synthetic rows to {output} and the model to {model_path}; "
        f"a conditional draw of {len(rich):,} rows with income '>50K' matched "
        f"{(rich['income'] == '>50K').mean():.0%}."
    )
    # Models that declare log_prob (flow, autoregressive) also face the attack that reads it.
    metrics = [
        m for m in _SUMMARY_METRICS if m != "likelihood_mia_auc" or scores_likelihood(synthesizer)
    ]
    report = synthkit.evaluate(
        train,
        synthetic,
        holdout=test,
        target="income",
        metrics=metrics,
        model=synthesizer,
    )
    _print_report(report, f"{model} on Adult: fidelity, privacy and utility")


@app.command()
def fit(
    data: Annotated[str, typer.Argument(help="Path or URL of the training table.")],
    output: Annotated[Path, typer.Option(help="Where to save the model.")],
    model: Annotated[
        str, typer.Option(help="Registered model name (default: the best measured one).")
    ] = "autoregressive",
    epochs: Annotated[
        int | None, typer.Option(help="Training epochs (default: the model's own).")
    ] = None,
    metadata: Annotated[Path | None, typer.Option(help="Metadata JSON file.")] = None,
    table: Annotated[str | None, typer.Option(help="Table name for SQL sources.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    processes: Annotated[
        int,
        typer.Option(
            help="Train data-parallel in this many processes on this machine "
            "(torch.distributed; the seed defaults to 0)."
        ),
    ] = 1,
    backend: Annotated[
        str, typer.Option(help="torch.distributed backend with --processes: gloo or nccl.")
    ] = "gloo",
    memory_budget: Annotated[
        str | None,
        typer.Option(
            help="Stream Parquet DATA (a file, glob or directory) within this much memory, "
            "e.g. 256MB, instead of loading it."
        ),
    ] = None,
) -> None:
    """Fit a model on a table from a file or database and save it."""
    import synthkit
    from synthkit.errors import ParameterError

    settings = {"epochs": epochs} if epochs is not None else {}
    meta = synthkit.Metadata.from_json(metadata) if metadata else None
    if processes > 1 and seed is None:
        seed = 0  # every process must draw the same batches
    synthesizer = synthkit.Synthesizer(model, random_state=seed, **settings)
    if memory_budget is not None:
        if processes > 1:
            raise ParameterError("--memory-budget streams in one process; drop --processes.")
        synthesizer.fit(data, meta, memory_budget=memory_budget)
        synthesizer.save(output)
        console.print(f"Fitted {model} streaming {data}; saved to {output}.")
        return
    options = {"table": table} if table else {}
    frame = synthkit.load(data, **options)
    if processes > 1:
        synthesizer = synthkit.fit_distributed(
            synthesizer, frame, meta, nprocs=processes, backend=backend
        )
    else:
        synthesizer.fit(frame, meta)
    synthesizer.save(output)
    console.print(f"Fitted {model} on {len(frame):,} rows; saved to {output}.")


@app.command()
def sample(
    model_path: Annotated[Path, typer.Argument(help="A saved model file.")],
    output: Annotated[str, typer.Option(help="Path or URL to write the rows to.")],
    rows: Annotated[int, typer.Option(help="Number of rows.")] = 1000,
    condition: Annotated[
        list[str] | None, typer.Option(help="column=value; repeat for more; JSON values ok.")
    ] = None,
    table: Annotated[str | None, typer.Option(help="Table name for SQL sinks.")] = None,
    seed: Annotated[
        int | None, typer.Option(help="Random seed (sharded output: default 0).")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Sample on a local Dask cluster of this many processes; OUTPUT becomes a "
            "directory of Parquet parts (the same bytes whatever the number of workers)."
        ),
    ] = None,
    shard_rows: Annotated[
        int | None,
        typer.Option(help="Rows per Parquet part of a sharded output (default 1,000,000)."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace a sharded output of a different run in OUTPUT.")
    ] = False,
    entities: Annotated[
        int | None,
        typer.Option(help="Entities to draw from a sequence model (instead of --rows)."),
    ] = None,
    shard_entities: Annotated[
        int | None,
        typer.Option(help="Entities per Parquet part of a sequence model (default 100,000)."),
    ] = None,
) -> None:
    """Sample rows from a saved model and write them to a file or database.

    With --workers or --shard-rows, write a directory of Parquet parts and a
    _manifest.json on a Dask cluster (pip install "synthkit[dask]"); a rerun after a
    crash draws only the missing parts. A sequence model always writes such a
    directory (events/ and context/ parts) of --entities whole entities.
    """
    import synthkit

    synthesizer = synthkit.load_model(model_path)
    conditions = _parse_conditions(condition or []) or None
    if getattr(synthesizer, "data_shape", None) == "sequences":
        if table:
            raise typer.BadParameter("--table is for SQL sinks; sequence output is Parquet parts")
        n_entities = entities if entities is not None else rows
        manifest = synthesizer.sample_to(
            output,
            n_entities=n_entities,
            shard_entities=shard_entities,
            random_state=seed if seed is not None else 0,
            conditions=conditions,
            workers=workers or 1,
            overwrite=overwrite,
        )
        console.print(
            f"Wrote {n_entities:,} entities ({manifest['rows']['events']:,} events) in "
            f"{len(manifest['parts'])} Parquet parts per table and _manifest.json to {output}.",
            markup=False,
        )
        return
    if entities is not None or shard_entities is not None:
        raise typer.BadParameter(
            "--entities and --shard-entities are for sequence models; this is a table model: "
            "use --rows and --shard-rows."
        )
    if workers is not None or shard_rows is not None:
        if table:
            raise typer.BadParameter("--table is for SQL sinks; sharded output is Parquet parts")
        manifest = synthesizer.sample_to(
            output,
            rows,
            shard_rows=shard_rows or 1_000_000,
            random_state=seed if seed is not None else 0,
            conditions=conditions,
            workers=workers or 1,
            overwrite=overwrite,
        )
        console.print(
            f"Wrote {rows:,} rows in {len(manifest['parts'])} Parquet parts and "
            f"_manifest.json to {output}.",
            markup=False,
        )
        return
    frame = synthesizer.sample(rows, conditions=conditions, random_state=seed)
    options = {"table": table} if table else {}
    synthkit.save(frame, output, **options)
    console.print(f"Wrote {len(frame):,} rows to {output}.")


@app.command()
def evaluate(
    real: Annotated[str, typer.Argument(help="The real training table.")],
    synthetic: Annotated[str, typer.Argument(help="The synthetic table.")],
    holdout: Annotated[str | None, typer.Option(help="Real rows not used in training.")] = None,
    target: Annotated[str | None, typer.Option(help="Target column for utility.")] = None,
    html: Annotated[Path | None, typer.Option(help="Write an HTML report here.")] = None,
    model: Annotated[
        Path | None,
        typer.Option(
            help="The model file that made the synthetic table; a flow or autoregressive "
            "model adds the likelihood membership attack (needs --holdout)."
        ),
    ] = None,
    memory_budget: Annotated[
        str | None,
        typer.Option(
            help="Stream the tables (Parquet files, globs or directories; other files "
            "through batch sources) within this much memory, e.g. 256MB, instead of "
            "loading them."
        ),
    ] = None,
) -> None:
    """Score a synthetic table against the real one: fidelity, privacy, utility."""
    import synthkit

    if memory_budget is None:
        read = synthkit.load
    else:
        from synthkit.generators.streamed_source import is_streamed

        def read(path: str) -> Any:
            # Parquet streams as it is; other files stream through their connector.
            return path if is_streamed(path) else synthkit.batch_source(path)

    report = synthkit.evaluate(
        read(real),
        read(synthetic),
        holdout=read(holdout) if holdout else None,
        target=target,
        model=synthkit.load_model(model) if model else None,
        **({} if memory_budget is None else {"memory_budget": memory_budget}),
    )
    _print_report(report, "Evaluation")
    if html is not None:
        report.to_html(html)
        console.print(f"HTML report written to {html}.")


@app.command()
def release(
    data: Annotated[str, typer.Argument(help="Path or URL of the real table.")],
    holdout: Annotated[str, typer.Option(help="Real rows the model never sees.")],
    output: Annotated[Path, typer.Option(help="New directory for the release.")],
    model: Annotated[str, typer.Option(help="Registered model name.")] = "autoregressive",
    epsilon: Annotated[
        float | None, typer.Option(help="Train with differential privacy at this epsilon.")
    ] = None,
    gate: Annotated[
        list[str] | None,
        typer.Option(help="Override a gate: metric=largest accepted value (repeatable)."),
    ] = None,
    target: Annotated[str | None, typer.Option(help="Target column for utility.")] = None,
    epochs: Annotated[
        int | None, typer.Option(help="Training epochs (default: the model's own).")
    ] = None,
    save_model: Annotated[
        bool, typer.Option(help="Also write the model file (gated by the likelihood attack).")
    ] = False,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    sequence_key: Annotated[
        str | None,
        typer.Option(help="Release sequences: the entity column of DATA and the holdout."),
    ] = None,
    sequence_index: Annotated[
        str | None, typer.Option(help="Sequences: the column ordering each entity's events.")
    ] = None,
    context: Annotated[
        str | None,
        typer.Option(help="Sequences: one row per entity (training and holdout), by key."),
    ] = None,
) -> None:
    """Fit, sample and evaluate; write the release only if every privacy gate passes.

    With --sequence-key, DATA and the holdout are events of entities (a patient's
    visits), released and gated by entity.
    """
    import synthkit
    from synthkit.errors import ReleaseGateError

    gates: dict[str, Any] = {}
    for item in gate or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{item!r}: write gates as metric=value")
        gates[name] = value if value in ("holdout", "none") else float(value)
        if value == "none":
            gates[name] = None
    real, held = synthkit.load(data), synthkit.load(holdout)
    if sequence_key is not None:
        real = synthkit.SequenceDataset(real, sequence_key, sequence_index)
        held = synthkit.SequenceDataset(held, sequence_key, sequence_index)
    elif sequence_index is not None or context is not None:
        raise typer.BadParameter("--sequence-index and --context need --sequence-key")
    try:
        result = synthkit.release(
            real,
            output,
            holdout=held,
            context=synthkit.load(context) if context is not None else None,
            model=model,
            epsilon=epsilon,
            gates=gates,
            target=target,
            save_model=save_model,
            random_state=seed,
            model_params={"epochs": epochs} if epochs is not None else None,
        )
    except ReleaseGateError as error:
        console.print(str(error), markup=False)
        raise typer.Exit(code=1) from None
    for check in result.gates:
        console.print(check.line(), markup=False)
    console.print(f"Released {', '.join(result.files)} to {result.path}.", markup=False)


def main() -> None:
    """The ``synthkit`` command: a synthkit error prints its message and exits with 2.

    Bad input (a missing file, a wrong option value, data a model cannot take) is
    the user's to fix, so it gets the error's message, not a Python traceback.
    """
    from synthkit.errors import SynthkitError

    try:
        app()
    except SynthkitError as error:
        Console(stderr=True).print(f"Error: {error}", markup=False, highlight=False)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
