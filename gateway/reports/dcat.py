"""DCAT-AP metadata of a period's open data, as JSON-LD (`catalog.jsonld`), which CKAN's DCAT
harvester (ckanext-dcat) and the EU data portal read: a catalog with one dataset per period,
its temporal coverage, publisher, licence and one distribution per file."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gateway.reports.config import OpenData
from gateway.reports.model import Report

DCAT_NAME = "catalog.jsonld"
CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
MEDIA_TYPES = "http://www.iana.org/assignments/media-types/"
FILE_TYPES = "http://publications.europa.eu/resource/authority/file-type/"
THEME = "http://publications.europa.eu/resource/authority/data-theme/EDUC"


def catalog(report: Report, meta: OpenData, files: dict[str, str]) -> dict[str, Any]:
    """`files`: file name -> media type (text/csv, application/json)."""
    base = meta.base_url.rstrip("/")
    prefix = f"{base}/{report.period}/" if base else ""
    dataset_id = f"{prefix or 'urn:edumon:'}{report.period}"
    publisher = {"@type": "foaf:Agent", "foaf:name": meta.publisher}
    return {
        "@context": CONTEXT,
        "@type": "dcat:Catalog",
        "dct:title": meta.title,
        "dct:description": f"{meta.title}: monthly key performance indicators",
        "dct:publisher": publisher,
        "dcat:dataset": {
            "@id": dataset_id,
            "@type": "dcat:Dataset",
            "dct:identifier": dataset_id,
            "dct:title": f"{meta.title}, {report.period}",
            "dct:description": (
                "Availability, utilisation, Wi-Fi health, IPv6 reachability, exhibit "
                "availability, sensor completeness and incidents per school and city-wide."
            ),
            "dct:publisher": publisher,
            "dct:license": {"@id": meta.licence_url},
            "dct:issued": _date_time(datetime.now(UTC)),
            "dct:temporal": {
                "@type": "dct:PeriodOfTime",
                "dcat:startDate": _date_time(_utc(report.start_ns)),
                "dcat:endDate": _date_time(_utc(report.end_ns)),
            },
            "dcat:theme": {"@id": THEME},
            "dcat:keyword": ["schools", "network", "Wi-Fi", "KPI"],
            "dcat:distribution": [
                {
                    "@type": "dcat:Distribution",
                    "dct:title": name,
                    "dcat:accessURL": {"@id": prefix + name},
                    "dcat:downloadURL": {"@id": prefix + name},
                    "dcat:mediaType": {"@id": MEDIA_TYPES + media},
                    "dct:format": {"@id": FILE_TYPES + name.rpartition(".")[2].upper()},
                    "dct:license": {"@id": meta.licence_url},
                }
                for name, media in files.items()
            ],
        },
    }


def _utc(time_ns: int) -> datetime:
    return datetime.fromtimestamp(time_ns / 1e9, UTC)


def _date_time(moment: datetime) -> dict[str, str]:
    return {"@value": moment.isoformat(timespec="seconds"), "@type": "xsd:dateTime"}
