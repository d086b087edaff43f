"""Open-data files: the KPI rows as CSV and JSON (the same rows), and a metadata file.

kpis.csv        UTF-8, comma-separated, header row, empty cell = no value
kpis.json       {"rows": [...]} with the same columns; no value = null
metadata.json   title, period, licence, publisher, columns (with units) and KPI definitions
dataset.jsonld  the same as a DCAT-AP 3 dataset (JSON-LD); OUT/catalog.jsonld catalogs them all
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.reports.config import OpenData
from gateway.reports.dcat import publish
from gateway.reports.model import COLUMNS, KPIS, Report

CSV_NAME, JSON_NAME, METADATA_NAME = "kpis.csv", "kpis.json", "metadata.json"


def rows(report: Report) -> list[dict[str, Any]]:
    """The open-data rows, in column order."""
    out = []
    for row in report.rows:
        out.append(
            {
                "period": report.period,
                "site": row.site,
                "site_name": report.label(row.site),
                "kpi": row.kpi,
                "value": row.value,
                "unit": row.unit,
                "up_h": row.up_h,
                "down_h": row.down_h,
                "unknown_h": row.unknown_h,
                "excluded_h": row.excluded_h,
            }
        )
    return out


class PublicationRefused(ValueError):
    """The open data cannot be published as configured (no base URL or contact)."""


def write_open_data(report: Report, meta: OpenData, root: Path) -> list[Path]:
    """Write the period's files into `root/<period>/` and the catalog into `root`."""
    if problems := meta.publication_problems():
        raise PublicationRefused("cannot publish open data: " + "; ".join(problems))
    out_dir = root / report.period
    out_dir.mkdir(parents=True, exist_ok=True)
    table = rows(report)
    csv_path = out_dir / CSV_NAME
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in table)
    json_path = out_dir / JSON_NAME
    json_path.write_text(json.dumps({"rows": table}, ensure_ascii=False, indent=1) + "\n")
    metadata_path = out_dir / METADATA_NAME
    metadata_path.write_text(json.dumps(metadata(report, meta), ensure_ascii=False, indent=1))
    files = {CSV_NAME: "text/csv", JSON_NAME: "application/json"}
    return [csv_path, json_path, metadata_path, *publish(report, meta, files, root)]


def metadata(report: Report, meta: OpenData) -> dict[str, Any]:
    return {
        "title": f"{meta.title}, {report.period}",
        "period": {
            "label": report.period,
            "start": _iso(report.start_ns),
            "end": _iso(report.end_ns),
        },
        "publisher": meta.publisher,
        "licence": {"id": meta.licence, "url": meta.licence_url},
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "distributions": [
            {"file": CSV_NAME, "format": "text/csv"},
            {"file": JSON_NAME, "format": "application/json"},
        ],
        "columns": [{"name": name, "description": text} for name, text in COLUMNS.items()],
        "kpis": [
            {"id": kpi, "unit": spec.unit, "definition": spec.description}
            for kpi, spec in KPIS.items()
        ],
    }


def _iso(time_ns: int) -> str:
    return datetime.fromtimestamp(time_ns / 1e9, UTC).isoformat(timespec="seconds")
