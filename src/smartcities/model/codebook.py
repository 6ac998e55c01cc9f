"""The inventory codebook: the coded columns of an initiative and their allowed values.

One source of truth for the reader (validation), the indicator rules (filters) and the automatic coder
(which columns to predict and into which classes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ITEM_TYPES = ("app_web_service", "infrastructure_service", "project", "living_lab", "strategy")
SERVICE_DOMAINS = (
    "administration", "transport", "health_welfare", "environment_energy", "safety_disaster",
    "facility_management", "education", "culture_tourism", "logistics", "employment_economy", "other",
)
TECHNOLOGIES = (
    "iot", "big_data", "ai", "blockchain", "xr", "digital_twin", "metaverse", "5g", "cloud", "robotics",
    "drones", "mobile", "none",
)
# The report's "intelligence" technologies: the fourth-industrial-revolution set.
INTELLIGENT_TECHNOLOGIES = ("ai", "big_data", "iot", "blockchain", "xr", "digital_twin", "metaverse")
LEAD_ACTORS = ("public", "private", "public_private")
ENERGY_ENVIRONMENT = ("direct", "indirect", "none")
CONFIDENCE = ("high", "medium")
BOOLEAN = ("true", "false")


@dataclass(frozen=True)
class Column:
    """One codebook column: its kind and, for coded columns, the allowed values."""

    name: str
    kind: Literal["text", "enum", "list", "bool", "int"]
    values: tuple[str, ...] = ()
    required: bool = True
    coded: bool = False  # filled by a coder (person or model), not by the source


COLUMNS: tuple[Column, ...] = (
    Column("id", "text"),
    Column("city", "text"),
    Column("country", "text", required=False),
    Column("name", "text"),
    Column("item_type", "enum", ITEM_TYPES, coded=True),
    Column("service_domain", "enum", SERVICE_DOMAINS, coded=True),
    Column("technologies", "list", TECHNOLOGIES, coded=True),
    Column("lead_actor", "enum", LEAD_ACTORS, coded=True),
    Column("energy_environment", "enum", ENERGY_ENVIRONMENT, coded=True),
    Column("inclusive", "bool", BOOLEAN, coded=True),
    Column("integrates_data", "bool", BOOLEAN, coded=True),
    Column("citizen_participation", "bool", BOOLEAN, coded=True),
    Column("start_year", "int", required=False),
    Column("description", "text", required=False),
    Column("source_url", "text", required=False),
    Column("confidence", "enum", CONFIDENCE, required=False),
)
COLUMN_BY_NAME = {c.name: c for c in COLUMNS}
CODED_COLUMNS = tuple(c.name for c in COLUMNS if c.coded)
