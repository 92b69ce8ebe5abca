"""`evaluate`: retrieval quality on a labelled photo set, as a table, JSON or a contact sheet."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval import EVALUATION_LABEL, Evaluation, Settings, evaluate, prepare, read_labelled_set
from retrieval.cli.arguments import MODEL_HELP, PLAIN_HELP, by_name, command, existing, json_output, output
from retrieval.cli.contact_sheet import save_contact_sheet
from retrieval.cli.index import LINKING
from retrieval.cli.opening import chosen_model, loaded_embedder, opened_store
from retrieval.cli.progress import Bars, say

if TYPE_CHECKING:
    from retrieval.cli.arguments import Commands


@dataclass(frozen=True)
class EvaluateOptions:
    dataset: Path  # a folder with labels.csv
    model: str | None
    plain: bool  # rank by the plain cosine
    quick: bool  # only the queries of queries.csv
    exact: bool  # also score exact search
    json: Path | str | None  # "-": the figures as JSON on stdout; a file to write them to; None: no JSON
    worst: Path | None  # the contact sheet of the worst queries, to write


def add_evaluate(sub: Commands) -> None:
    evaluation = command(sub, cmd_evaluate, by_name(EvaluateOptions))
    evaluation.add_argument("dataset", type=existing("folder"))
    evaluation.add_argument("--model", help=MODEL_HELP)
    evaluation.add_argument("--plain", action="store_true", help=PLAIN_HELP)
    evaluation.add_argument("--quick", action="store_true", help="only the queries listed in queries.csv")
    evaluation.add_argument("--exact", action="store_true", help="also score exact (brute-force) search over the same vectors")
    evaluation.add_argument(
        "--json",
        nargs="?",
        const="-",
        type=json_output,
        metavar="FILE",
        help="write the figures as JSON to FILE, or to stdout (no FILE)",
    )
    evaluation.add_argument(
        "--worst", type=output, metavar="PNG", help="save a picture of the ten worst queries and what they found"
    )


def cmd_evaluate(options: EvaluateOptions, settings: Settings) -> int:
    """measure retrieval quality on a labelled photo set (mAP, P@1, P@10, recall)

    Index DATASET (a folder with labels.csv: path,label; optional queries.csv) under the EvalImage label, apart from
    your images, and score leave-one-out retrieval: every photo a query, relevant = same label. Re-running re-uses what
    is indexed.
    """
    dataset = read_labelled_set(options.dataset, quick=options.quick)
    choice = chosen_model(options.model, settings)
    with opened_store(settings, "evaluate", label=EVALUATION_LABEL) as store:
        embedder = loaded_embedder(choice, settings)
        with Bars() as bars:
            report = prepare(
                store,
                embedder,
                dataset,
                indexed=bars.follow(f"Indexing {dataset.root}"),
                linked=bars.follow(LINKING),
            )
            say(f"Evaluation photos: {report.summary()}")
            result = evaluate(
                store,
                embedder,
                dataset,
                plain=options.plain,
                exact=options.exact,
                progress=lambda step: bars(f"Queries ({step.stage})", step.done, step.total, unit="query"),
            )
        store.save_evaluation(result.figures())
    if options.worst:
        say(f"Wrote the {len(result.worst())} worst queries to {save_contact_sheet(result.worst(), options.worst)}")
    if options.json is not None:
        text = json.dumps(result.as_json(), indent=2)
        if isinstance(options.json, Path):
            options.json.write_text(text + "\n", encoding="utf-8")
            say(f"Wrote {options.json}")
        else:
            print(text)
    if options.json != "-":
        print(result_table(result))
    return 0


def result_table(result: Evaluation) -> str:
    lines = [
        f"{result.model}, {result.search}, on {result.dataset}: {result.images} images, {result.queries} queries, leave-one-out",
        f"{'':<6} {'mAP':>6} {'P@1':>6} {'P@10':>6} {'R@1':>6} {'R@5':>6} {'R@10':>6}",
    ]
    for name, s in (("index", result.index), ("exact", result.exact)):
        if s is not None:
            values = (s.map, s.p_at_1, s.p_at_10, s.recall_at_1, s.recall_at_5, s.recall_at_10)
            lines.append(f"{name:<6} " + " ".join(f"{v:6.3f}" for v in values))
    lines.append(f"chance P@10: {result.chance_p_at_10:.3f}  ({result.seconds:.0f} s)")
    return "\n".join(lines)
