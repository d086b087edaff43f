"""DCAT-AP 3 metadata of the published open data, as JSON-LD, which CKAN's DCAT harvester
(ckanext-dcat) and the EU data portal read.

Each period's directory holds its dataset (`OUT/<period>/dataset.jsonld`: temporal coverage,
publisher, contact point, licence, one distribution per file); `OUT/catalog.jsonld` is ONE
catalog (with its own IRI) over every period published in OUT, rebuilt from those files each
time a period is written. Every IRI is under `open_data.base_url`, which publication requires
(gateway/reports/config.py: OpenData.publication_problems)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.reports.config import OpenData
from gateway.reports.model import Report

CATALOG_NAME, DATASET_NAME = "catalog.jsonld", "dataset.jsonld"
CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
AUTHORITY = "http://publications.europa.eu/resource/authority/"
MEDIA_TYPES = "http://www.iana.org/assignments/media-types/"
THEME = AUTHORITY + "data-theme/EDUC"
LANGUAGES = [{"@id": AUTHORITY + "language/ENG"}, {"@id": AUTHORITY + "language/LAV"}]
MONTHLY = {"@id": AUTHORITY + "frequency/MONTHLY"}
DESCRIPTION = (
    "Availability, utilisation, Wi-Fi health, IPv6 reachability, exhibit availability, sensor "
    "completeness and network incidents per school and city-wide."
)


def dataset(
    report: Report, meta: OpenData, files: dict[str, str], issued: datetime
) -> dict[str, Any]:
    """The period's dataset node; `files`: file name -> media type."""
    prefix = f"{meta.base_url.rstrip('/')}/{report.period}/"
    return {
        "@context": CONTEXT,
        "@id": prefix,
        "@type": "dcat:Dataset",
        "dct:identifier": prefix,
        "dct:title": _titles(meta, f", {report.period}"),
        "dct:description": {"@value": DESCRIPTION, "@language": "en"},
        "dct:publisher": _publisher(meta),
        "dcat:contactPoint": _contact(meta),
        "dct:license": {"@id": meta.licence_url},
        "dct:language": LANGUAGES,
        "dct:accrualPeriodicity": MONTHLY,
        "dct:issued": _date_time(issued),
        "dct:modified": _date_time(datetime.now(UTC)),
        "dct:temporal": {
            "@type": "dct:PeriodOfTime",
            "dcat:startDate": _date_time(_utc(report.start_ns)),
            "dcat:endDate": _date_time(_utc(report.end_ns)),
        },
        **({"dct:spatial": {"@id": meta.spatial}} if meta.spatial else {}),
        "dcat:theme": {"@id": THEME},
        "dcat:keyword": ["schools", "network", "Wi-Fi", "KPI"],
        "dcat:distribution": [
            {
                "@id": f"{prefix}{DATASET_NAME}#{name}",
                "@type": "dcat:Distribution",
                "dct:title": name,
                "dct:description": f"{name}: the period's KPI rows ({media})",
                "dcat:accessURL": {"@id": prefix + name},
                "dcat:downloadURL": {"@id": prefix + name},
                "dcat:mediaType": {"@id": MEDIA_TYPES + media},
                "dct:format": {"@id": AUTHORITY + "file-type/" + name.rpartition(".")[2].upper()},
                "dct:license": {"@id": meta.licence_url},
            }
            for name, media in files.items()
        ],
    }


def catalog(meta: OpenData, datasets: list[dict[str, Any]]) -> dict[str, Any]:
    base = meta.base_url.rstrip("/")
    issued = min((d["dct:issued"]["@value"] for d in datasets), default=None)
    return {
        "@context": CONTEXT,
        "@id": f"{base}/{CATALOG_NAME}",
        "@type": "dcat:Catalog",
        "dct:title": _titles(meta, ""),
        "dct:description": {"@value": f"{meta.title}: {DESCRIPTION}", "@language": "en"},
        "dct:publisher": _publisher(meta),
        "dcat:contactPoint": _contact(meta),
        "foaf:homepage": {"@id": meta.homepage or f"{base}/"},
        "dct:license": {"@id": meta.licence_url},
        "dct:language": LANGUAGES,
        "dct:accrualPeriodicity": MONTHLY,
        **({"dct:spatial": {"@id": meta.spatial}} if meta.spatial else {}),
        **({"dct:issued": {"@value": issued, "@type": "xsd:dateTime"}} if issued else {}),
        "dct:modified": _date_time(datetime.now(UTC)),
        "dcat:themeTaxonomy": {"@id": AUTHORITY + "data-theme"},
        "dcat:dataset": [{k: v for k, v in d.items() if k != "@context"} for d in datasets],
    }


def publish(report: Report, meta: OpenData, files: dict[str, str], out_dir: Path) -> list[Path]:
    """Write the period's dataset (keeping its first dct:issued when re-run) and rebuild the
    catalog over every period in `out_dir`; the two paths."""
    path = out_dir / report.period / DATASET_NAME
    issued = datetime.now(UTC)
    if path.exists():
        issued = datetime.fromisoformat(_read(path)["dct:issued"]["@value"])
    _write(path, dataset(report, meta, files, issued))
    periods = sorted(out_dir.glob(f"*/{DATASET_NAME}"))
    catalog_path = out_dir / CATALOG_NAME
    _write(catalog_path, catalog(meta, [_read(p) for p in periods]))
    return [path, catalog_path]


def _titles(meta: OpenData, suffix: str) -> list[dict[str, str]]:
    return [
        {"@value": meta.title + suffix, "@language": "en"},
        {"@value": meta.title_lv + suffix, "@language": "lv"},
    ]


def _publisher(meta: OpenData) -> dict[str, Any]:
    return {"@type": "foaf:Agent", "foaf:name": meta.publisher}


def _contact(meta: OpenData) -> dict[str, Any]:
    return {
        "@type": ["vcard:Kind", "vcard:Organization"],
        "vcard:fn": meta.publisher,
        "vcard:hasEmail": {"@id": f"mailto:{meta.contact_email}"},
    }


def _read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _write(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def _utc(time_ns: int) -> datetime:
    return datetime.fromtimestamp(time_ns / 1e9, UTC)


def _date_time(moment: datetime) -> dict[str, str]:
    return {"@value": moment.isoformat(timespec="seconds"), "@type": "xsd:dateTime"}
