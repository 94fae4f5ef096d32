"""`parcelwatch evidence ORDER_ID`: one order's appeal evidence (HTML, PDF, or the zip with
the carrier's bodies and a manifest), and `--verify PACK` to check a pack's hashes
(docs/evidence-and-penalties.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import cast

import click

from monitor.cli.common import config_option, err, fail, load, open_store, out
from monitor.clock import SystemClock
from monitor.evidence.documents import Format, order_evidence
from monitor.evidence.pack import PdfUnavailable, verify
from monitor.evidence.verdict import PenaltyKind
from monitor.store.orders import Ambiguous


@click.command("evidence")
@click.argument("order_id", required=False)
@click.option("--platform", default=None, help="The order's platform, when ids repeat across them.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "pdf", "zip"]),
    default="pdf",
    show_default=True,
    help="zip: the PDF, the HTML, the raw bodies and a manifest.",
)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option(
    "--kind",
    type=click.Choice([k.value for k in PenaltyKind if k.value != "other"]),
    default=None,
    help="Judge one charge; default: shipping and pickup both.",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Default: evidence-<platform>-<order id>.<format> here.",
)
@click.option(
    "--verify",
    "verify_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Check a pack's hashes instead.",
)
@config_option
def evidence(
    order_id: str | None,
    platform: str | None,
    fmt: str,
    lang: str,
    kind: str | None,
    out_path: Path | None,
    verify_path: Path | None,
    config_path: Path | None,
) -> None:
    """Write the evidence for appealing a platform's charge on one order."""
    if verify_path is not None:
        problems = verify(verify_path)
        for problem in problems:
            err.print(f"{verify_path}: {problem}", highlight=False, markup=False)
        if problems:
            sys.exit(1)
        out.print(f"{verify_path}: every file matches its manifest", highlight=False)
        return
    if not order_id:
        fail("give an ORDER_ID (or --verify PACK.zip)")
        return
    config = load(config_path)
    engine = open_store(config)
    try:
        document = order_evidence(
            engine,
            config,
            order_id,
            SystemClock().now(),
            platform,
            cast(Format, fmt),
            lang,
            PenaltyKind(kind) if kind else None,
        )
    except PdfUnavailable as exc:
        fail(str(exc), 1)
        return
    if document is None:
        fail(f"no order {order_id!r}" + (f" on {platform}" if platform else ""), 1)
        return
    if isinstance(document, Ambiguous):
        fail(f"{document}; use --platform")
        return
    target = out_path or Path(document.filename)
    target.write_bytes(document.data)
    out.print(f"{target}: {len(document.data)} bytes", highlight=False)
