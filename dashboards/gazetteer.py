"""The inventory's sites as a Grafana gazetteer, so the city map places schools by `site` tag.

Grafana serves files below its `public/` directory; docker-compose.yml mounts the built
file there. The format is that of Grafana's own `public/gazetteer/countries.json`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, TypeAdapter

from gateway.inventory import Location, Slug

GAZETTEER_FILE = "edumon-sites.json"
GAZETTEER_URL_PATH = f"public/gazetteer/{GAZETTEER_FILE}"


class MapSite(BaseModel):
    """What the map needs of a site; its devices are the collectors' plugins' business."""

    model_config = ConfigDict(extra="ignore")
    id: Slug
    name: str
    location: Location | None = None


def load_sites(config_path: Path) -> list[MapSite]:
    """The sites of an edumon config, validated; the rest of the file (and the secrets its
    credentials name) is not needed to build dashboards."""
    data = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    return TypeAdapter(list[MapSite]).validate_python(data.get("sites", []))


def site_gazetteer(sites: Sequence[MapSite]) -> list[dict[str, str | float]]:
    """One entry per site that has a location: key (the `site` tag), name, lat/lon."""
    return [
        {
            "key": site.id,
            "name": site.name,
            "latitude": site.location.lat,
            "longitude": site.location.lon,
        }
        for site in sites
        if site.location is not None
    ]
