"""An evidence pack: the HTML page, the same page as a PDF (WeasyPrint, with the CJK font
embedded), each carrier body as received, and a manifest of SHA-256 hashes, in one zip
(docs/evidence-and-penalties.md "What a pack holds", "Checking a pack").

The HTML and the PDF are made from one template, so what a lead reads in the browser is what
the platform's appeal desk gets. Every body is stored under its own hash: checking a pack is
hashing each file again, and each body's hash is also the one computed when it arrived.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape

from monitor import __version__
from monitor.config import Config
from monitor.evidence.facts import OrderFacts
from monitor.evidence.text import TEXT
from monitor.evidence.verdict import Outcome, Verdict
from monitor.names import PLATFORM_NAMES, STATUS_NAMES, carrier_name

_render_lock = threading.Lock()
_fonts: Any = None  # weasyprint's FontConfiguration, made at the first PDF
SHOWN_BYTES = 64 * 1024  # of one body in the page; the zip holds it whole
MANIFEST = "manifest.json"
_env = Environment(loader=PackageLoader("monitor.evidence"), autoescape=select_autoescape())


class PdfUnavailable(RuntimeError):
    """This machine cannot lay out PDFs (no Pango): say so, and what works instead."""


@dataclass(frozen=True)
class Charge:
    """The platform's charge a pack answers, when there is one."""

    kind: str
    kind_text: str
    amount: float
    charged_at: datetime | None = None


@dataclass(frozen=True)
class PackFile:
    name: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def zone_of(config: Config, warehouse: str) -> ZoneInfo:
    found = config.warehouse(warehouse)
    return ZoneInfo(found.timezone if found else "Asia/Shanghai")


def _answer_file(answer: Any) -> str:
    stamp = answer.received_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    ext = "json" if answer.body.lstrip()[:1] in (b"{", b"[") else "txt"
    return f"raw/{stamp}-{answer.api}-{answer.sha256[:16]}.{ext}"


def raw_files(facts: OrderFacts) -> list[PackFile]:
    """Each body the carrier sent about the order's parcels, once, named by time and hash."""
    raws = {_answer_file(a): a.body for p in facts.parcels for a in p.answers}
    return [PackFile(name, body) for name, body in sorted(raws.items())]


def _shown(body: bytes) -> tuple[str, str | None]:
    """The body as text, and for a form-encoded push (Kuaidi100's `param=...&sign=...`) its
    decoded form as a reading aid beside the original."""
    text = body[:SHOWN_BYTES].decode("utf-8", "replace")
    if len(body) > SHOWN_BYTES:
        text += f"\n… ({len(body) - SHOWN_BYTES} B more in the pack's raw/ file)"
    decoded = unquote_plus(text) if ("%7B" in text or "%22" in text) else None
    return text, decoded


def render_html(
    facts: OrderFacts,
    verdicts: list[Verdict],
    config: Config,
    now: datetime,
    lang: str = "zh",
    charge: Charge | None = None,
    manifest: list[PackFile] | None = None,
) -> str:
    t = TEXT[lang]
    zone = zone_of(config, facts.warehouse)
    order = facts.order
    platform = PLATFORM_NAMES[lang].get(str(order["platform"]), str(order["platform"]))
    if facts.deadline.rule == "platform_export":
        rule_text = t["rule_platform_export"]
    else:
        rule_text = t["rule_promise"].format(
            hours=_hours(facts.deadline.promise_hours), platform=platform
        )
    answers, seen = [], set()
    for parcel in facts.parcels:
        for answer in parcel.answers:
            if answer.sha256 in seen:
                continue
            seen.add(answer.sha256)
            text, decoded = _shown(answer.body)
            answers.append(
                {
                    "api": answer.api,
                    "source": answer.source,
                    "body": answer.body,
                    "received_at": answer.received_at,
                    "sha256": answer.sha256,
                    "file": _answer_file(answer),
                    "text": text,
                    "decoded": decoded,
                }
            )
    outcomes = {v.outcome for v in verdicts}
    worst = next((o for o in (Outcome.UNKNOWN, Outcome.FAIR) if o in outcomes), Outcome.CONTESTABLE)
    if manifest is None:
        manifest = raw_files(facts)
    return _env.get_template("evidence.html").render(
        t=t,
        lang=lang,
        zone=zone,
        order=order,
        deadline=facts.deadline,
        rule_text=rule_text,
        parcels=facts.parcels,
        answers=answers,
        verdicts=verdicts,
        worst=worst.value,
        penalty=charge,
        manifest=manifest,
        generated_at=now,
        version=__version__,
        platform_name=platform,
        hours=_hours,
        full=lambda moment: _full(moment, zone),
        short=lambda moment: (
            moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if moment else ""
        ),
        zone_label=f"{zone.key} (UTC{now.astimezone(zone):%z})",
        names_source=t["sources"],
        carrier_name=lambda code: carrier_name(code, lang) or t["none"],
        status_name=lambda code: STATUS_NAMES[lang].get(code, code),
    )


def _hours(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _full(moment: datetime | None, zone: ZoneInfo) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M:%S} ({local:%z} {zone.key})"


def render_pdf(html: str) -> bytes:
    """WeasyPrint lays the page out with Pango, which finds the CJK font through fontconfig
    and embeds the glyphs used; imported here, as it takes half a second to load. One font
    configuration serves every render: a new one per render keeps the CJK font files it
    loaded (about 100 MiB a PDF, measured in bench/evidence.py). Pango's font map is not
    shared across threads safely, so renders take turns."""
    try:
        from weasyprint import HTML
        from weasyprint.text.fonts import FontConfiguration
    except OSError as exc:  # Pango is a system library, not a Python package
        raise PdfUnavailable(
            "PDF needs the Pango library (Debian: apt-get install libpango-1.0-0 "
            f"libpangoft2-1.0-0 fonts-noto-cjk); the HTML pack works without it ({exc})"
        ) from exc
    global _fonts
    with _render_lock:
        if _fonts is None:
            _fonts = FontConfiguration()
        pdf = HTML(string=html).write_pdf(font_config=_fonts)
    assert pdf is not None
    return bytes(pdf)


def build_pack(
    facts: OrderFacts,
    verdicts: list[Verdict],
    config: Config,
    now: datetime,
    lang: str = "zh",
    charge: Charge | None = None,
) -> bytes:
    """The zip: raw/ bodies, evidence.html (listing the bodies' hashes), evidence.pdf, and
    manifest.json with the hash of every other file."""
    files = raw_files(facts)
    html = render_html(facts, verdicts, config, now, lang, charge, manifest=list(files))
    files.append(PackFile("evidence.html", html.encode()))
    files.append(PackFile("evidence.pdf", render_pdf(html)))
    manifest = {
        "order_id": facts.order["order_id"],
        "platform": facts.order["platform"],
        "generated_at": now.isoformat(),
        "generator": f"parcelwatch {__version__}",
        "conclusion": [v.sentence(lang, zone_of(config, facts.warehouse)) for v in verdicts],
        "files": [{"name": f.name, "sha256": f.sha256, "bytes": len(f.data)} for f in files],
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for f in files:
            archive.writestr(f.name, f.data)
        archive.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2))
    return buffer.getvalue()


def verify(pack: Path | bytes) -> list[str]:
    """What does not match in a pack: a file whose hash differs from the manifest's, a file
    missing or not listed, a body whose name does not start its own hash. Empty: intact."""
    source = io.BytesIO(pack) if isinstance(pack, bytes) else pack
    problems = []
    with zipfile.ZipFile(source) as archive:
        try:
            manifest = json.loads(archive.read(MANIFEST))
        except KeyError:
            return [f"no {MANIFEST}"]
        listed = {f["name"]: f["sha256"] for f in manifest.get("files", [])}
        present = set(archive.namelist()) - {MANIFEST}
        for name in sorted(present - set(listed)):
            problems.append(f"{name}: not in the manifest")
        for name, expected in sorted(listed.items()):
            if name not in present:
                problems.append(f"{name}: missing")
                continue
            actual = hashlib.sha256(archive.read(name)).hexdigest()
            if actual != expected:
                problems.append(f"{name}: SHA-256 {actual}, the manifest says {expected}")
            elif name.startswith("raw/") and expected[:16] not in name:
                problems.append(f"{name}: not the body its name says ({expected[:16]})")
    return problems
