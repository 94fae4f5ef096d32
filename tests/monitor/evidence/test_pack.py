"""An evidence pack built from a real carrier push (a YTO push captured from Kuaidi100,
tests/fixtures/carriers/real/kuaidi100/README.md) that arrived through the webhook: the PDF
carries the Chinese conclusion and every fact (its first page is kept as a PNG in
test-artifacts/ for a person to look at), the body is in the pack exactly as received, and
the manifest catches any change."""

from __future__ import annotations

import ctypes
import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pypdfium2
import pypdfium2.raw as pdfium_c
import pytest

from monitor.daemon.service import Daemon
from monitor.evidence.documents import Document, order_evidence
from monitor.evidence.pack import verify
from monitor.store.orders import Ambiguous
from tests.support.evidence import import_rows, k100_push, make_daemon, push, real_yto_push
from tests.support.paths import ARTIFACTS

NOW = datetime(2023, 2, 5, 2, 0, tzinfo=UTC)
NUMBER = "YT6074326614455"  # the real push's number


@pytest.fixture
def daemon(tmp_path: Path) -> Daemon:
    daemon = make_daemon(tmp_path, NOW)
    import_rows(daemon, [{"order_id": "PDD-230201-1", "platform": "拼多多", "warehouse": "hz1",
                          "paid_at": "2023-02-01 10:00", "carrier": "yto", "province": "湖南",
                          "tracking_number": NUMBER, "shipped_at": "2023-02-02 08:30",
                          "amount": "39.90"}])  # fmt: skip
    push(daemon, real_yto_push())
    return daemon


def pack(daemon: Daemon, fmt: str = "zip", lang: str = "zh") -> bytes:
    document = order_evidence(daemon.engine, daemon.ctx.config, "PDD-230201-1", NOW,
                              fmt=fmt, lang=lang)  # type: ignore[arg-type]  # fmt: skip
    assert document is not None and not isinstance(document, Ambiguous)
    return document.data


def pdf_text(data: bytes) -> str:
    document = pypdfium2.PdfDocument(data)
    return "\n".join(page.get_textpage().get_text_range() for page in document)


def test_the_pdf_states_the_conclusion_and_the_facts_in_chinese(daemon: Daemon) -> None:
    data = pack(daemon, "pdf")
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    assert "可申诉" in text
    assert "运单号上传 02-02 08:30，早于发货时限 02-03 10:00" in text
    assert "揽收扫描 02-02 09:57" in text  # the real push's first scan
    assert "付款后 48 小时内发货（拼多多承诺时效）" in text
    assert "已接单" in text  # the carrier's own words, as sent
    page = pypdfium2.PdfDocument(data)[0]
    ARTIFACTS.mkdir(exist_ok=True)
    image = page.render(scale=1.5).to_pil()
    image.save(ARTIFACTS / "evidence-pack-first-page.png")
    # The glyphs are really there: a page of tofu boxes would extract as text but draw no ink.
    assert image.convert("L").getextrema()[0] < 80


def test_the_cjk_font_is_embedded(daemon: Daemon) -> None:
    """A reader without the font (the platform's appeal desk) sees the same glyphs."""
    page = pypdfium2.PdfDocument(pack(daemon, "pdf"))[0]
    fonts = set()
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_TEXT]):
        font = pdfium_c.FPDFTextObj_GetFont(obj.raw)
        size = pdfium_c.FPDFFont_GetBaseFontName(font, None, 0)
        name = ctypes.create_string_buffer(size)
        pdfium_c.FPDFFont_GetBaseFontName(font, name, size)
        fonts.add((name.value.decode(), bool(pdfium_c.FPDFFont_GetIsEmbedded(font))))
    assert any("Noto-Sans-CJK-SC" in name for name, _ in fonts)
    assert all(embedded for _, embedded in fonts), fonts


def test_the_body_is_in_the_pack_exactly_as_received(daemon: Daemon) -> None:
    data = pack(daemon)
    body = real_yto_push()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        (raw,) = [n for n in names if n.startswith("raw/")]
        assert archive.read(raw) == body
        manifest = json.loads(archive.read("manifest.json"))
        html = archive.read("evidence.html").decode()
    sha = hashlib.sha256(body).hexdigest()
    assert sha[:16] in raw and sha in html
    assert {f["name"] for f in manifest["files"]} == {raw, "evidence.html", "evidence.pdf"}
    assert manifest["conclusion"][0].startswith("运单号上传 02-02 08:30")
    assert verify(data) == []


def test_the_manifest_catches_a_changed_or_added_file(daemon: Daemon) -> None:
    data = pack(daemon)
    source = zipfile.ZipFile(io.BytesIO(data))
    changed = io.BytesIO()
    with zipfile.ZipFile(changed, "w") as target:
        for name in source.namelist():
            content = source.read(name)
            if name.startswith("raw/"):
                content = content.replace(b"09%3A57", b"08%3A57")  # an earlier scan, forged
            target.writestr(name, content)
        target.writestr("extra.txt", b"not in the manifest")
    problems = verify(changed.getvalue())
    assert any(p.startswith("raw/") and "SHA-256" in p for p in problems)
    assert "extra.txt: not in the manifest" in problems


def test_a_status_read_from_the_scan_text_says_so(tmp_path: Path) -> None:
    """A push without per-event codes (only the newest scan takes the push's state): the
    pack does not pass the stage parcelwatch read from an older scan's text off as the
    carrier's own."""
    daemon = make_daemon(tmp_path, NOW)
    import_rows(daemon, [{"order_id": "A2", "platform": "拼多多", "warehouse": "hz1",
                          "paid_at": "2023-02-01 10:00", "carrier": "zto",
                          "tracking_number": "ZT77", "shipped_at": "2023-02-02 08:30"}])  # fmt: skip
    push(daemon, k100_push("ZT77", "zto", [("2023-02-02 09:00", "【杭州市】快件已揽收", None),
                                           ("2023-02-02 20:00", "快件已到达【杭州转运中心】", "0")]))  # fmt: skip
    document = order_evidence(daemon.engine, daemon.ctx.config, "A2", NOW, fmt="html")
    assert isinstance(document, Document)
    assert document.data.decode().count("状态据原文推断") == 1


def test_an_english_pack_on_request(daemon: Daemon) -> None:
    text = pack(daemon, "html", "en").decode()
    assert "evidence for a logistics appeal" in text
    assert "tracking number uploaded 02-02 08:30, before the ship deadline 02-03 10:00" in text
