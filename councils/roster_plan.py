"""What a roster import changes, council by council, worked out before anything is written.

The admin's review page and the commands' --dry-run show a RosterPlan; applying it
(import_representatives.roster_plan_apply) writes exactly what it lists, after checking that
no roster it touches has changed since. While it waits for an organizer it is kept as JSON on
a DirectoryImport.

Rows skipped, rows placed in no municipality, notes and the reasons a change waits for
approval are kept as codes with their values, and put into words only when shown, in the
language of whoever reads them.
"""

import hashlib
import json
from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .import_summary import ImportSummary
from .models import Representative, Role

# The fields an import sets and compares; a difference in any of them is a change.
COMPARED_FIELDS = (
    "name",
    "first_name",
    "last_name",
    "role",
    "role_text",
    "ward_id",
    "email",
    "email_kind",
    "contact_url",
    "phone",
    "offices",
    "photo_url",
    "source",
    "source_url",
    "active",
)

# Problems and notes: code -> message (its %(name)s values come with the code).
MESSAGES = {
    # Rows skipped
    "no_name": gettext_lazy("no name"),
    "vacant": gettext_lazy("vacant seat (%(name)s)"),
    "listed_twice": gettext_lazy("%(name)s is listed twice"),
    "invalid": gettext_lazy("%(name)s was not imported: %(errors)s"),
    # Rows placed in no municipality
    "no_municipality": gettext_lazy(
        "This row names no municipality: it has no Locality and no OCD id, and no "
        "municipality was chosen for the whole file."
    ),
    "unknown_locality": gettext_lazy(
        "No municipality named “%(locality)s” is in the directory. Check the spelling in the "
        "Locality column."
    ),
    "unknown_locality_province": gettext_lazy(
        "No municipality named “%(locality)s” in %(province)s is in the directory. Check the "
        "spelling in the Locality and Province columns."
    ),
    "ambiguous_locality": gettext_lazy(
        "Several municipalities are named “%(locality)s”: add a Province column, or the "
        "municipality's OCD id in the District ID column."
    ),
    "unknown_ocd_id": gettext_lazy(
        "No municipality with the OCD id %(ocd_id)s is in the directory."
    ),
    # Notes
    "ignored_column": gettext_lazy("ignored column: %(column)s"),
    "no_ward": gettext_lazy("no ward matches “%(district)s”"),
    "invalid_email": gettext_lazy("invalid email “%(email)s” dropped"),
    "more_pages": gettext_lazy("more pages at %(url)s were not read (not a URL source)"),
    "no_valid_rows": gettext_lazy(
        "%(municipality)s: no row of the file could be imported, so its contacts stay as they are."
    ),
    # Why a Represent sync waits for approval
    "many_changes": gettext_lazy(
        "%(count)s members would be added or retired (more than %(limit)s)"
    ),
    "mayor_changes": gettext_lazy("the mayor changes"),
}
# The command line says what a flag does; the admin names none.
COMMAND_MESSAGES = {
    "no_municipality": "no municipality (pass --municipality OCD_ID, or add a Locality column "
    "or OCD ids)",
}


def message(code: str, params: dict | None = None, *, command: bool = False) -> str:
    """A problem, note or reason in words, in the active language."""
    if command and code in COMMAND_MESSAGES:
        return COMMAND_MESSAGES[code]
    text = MESSAGES.get(code)
    if text is None:
        return code
    return str(text) % (params or {}) if params else str(text)


def issue(line: int, code: str, **params) -> list:
    """A problem or note about one line of the file (0: the whole file)."""
    return [line, code, params]


def fingerprint(representatives) -> str:
    """A digest of a council's roster as an import sees it (every person, active or not,
    with the fields an import sets): a plan is applied only to the roster it was made for."""
    rows = sorted(
        [rep.pk, *(getattr(rep, name) for name in COMPARED_FIELDS)] for rep in representatives
    )
    return hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class CouncilPlan:
    """One council's roster after the import: who is new, who changes, who is retired.

    new:       [{"line", "values", "ward"}]          values: the Representative fields
    changed:   [{"id", "line", "values", "changes"}] changes: [[field, old, new], ...]
    unchanged: [id, ...]
    retired:   [{"id", "name", "role", "ward", "email", "placeholder", "manual"}]
    """

    municipality_id: int
    municipality: str
    fingerprint: str
    new: list = field(default_factory=list)
    changed: list = field(default_factory=list)
    unchanged: list = field(default_factory=list)
    retired: list = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        return bool(self.new or self.changed or self.retired)


@dataclass
class RosterPlan:
    """Every council an import replaces the roster of, and the rows it could not use.

    source_label is what the councils' roster_source records: a file name, a URL.
    skipped, unplaced and notes are issues: [line, code, params].
    """

    source_label: str = ""
    councils: list[CouncilPlan] = field(default_factory=list)
    skipped: list = field(default_factory=list)
    unplaced: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    # The counts, named as ImportSummary and DirectoryImport name them.
    @property
    def created(self) -> int:
        return sum(len(c.new) for c in self.councils)

    @property
    def updated(self) -> int:
        return sum(len(c.changed) for c in self.councils)

    @property
    def unchanged(self) -> int:
        return sum(len(c.unchanged) for c in self.councils)

    @property
    def deactivated(self) -> int:
        return sum(len(c.retired) for c in self.councils)

    @property
    def skipped_count(self) -> int:
        return len(self.skipped) + len(self.unplaced)

    @property
    def has_changes(self) -> bool:
        return any(c.has_changes for c in self.councils)

    @property
    def rows(self) -> int:
        """The people applying this plan writes."""
        return self.created + self.updated + self.unchanged + self.deactivated

    def to_json(self) -> dict:
        return {
            "source_label": self.source_label,
            "councils": [vars(council) for council in self.councils],
            "skipped": self.skipped,
            "unplaced": self.unplaced,
            "notes": self.notes,
        }

    @classmethod
    def from_json(cls, data: dict) -> "RosterPlan":
        return cls(
            source_label=data.get("source_label", ""),
            councils=[CouncilPlan(**council) for council in data.get("councils", [])],
            skipped=data.get("skipped", []),
            unplaced=data.get("unplaced", []),
            notes=data.get("notes", []),
        )

    def summary(self, *, command: bool = False) -> ImportSummary:
        """The counts and the problems in words (the commands' last lines)."""
        return ImportSummary(
            created=self.created,
            updated=self.updated,
            unchanged=self.unchanged,
            deactivated=self.deactivated,
            skipped=[
                (line, message(code, params, command=command))
                for line, code, params in [*self.unplaced, *self.skipped]
            ],
            notes=[_note_text(note) for note in self.notes],
        )


def _note_text(note: list) -> str:
    line, code, params = note
    text = message(code, params)
    return f"line {line}: {text}" if line else text


def mayor_changes(plan: RosterPlan) -> bool:
    """A mayor is added, retired, or changed (or someone becomes or stops being mayor)."""
    for council in plan.councils:
        if any(entry["values"]["role"] == Role.MAYOR for entry in council.new):
            return True
        if any(entry["role"] == Role.MAYOR for entry in council.retired):
            return True
        for entry in council.changed:
            roles = {entry["values"]["role"]}
            roles |= {old for name, old, _new in entry["changes"] if name == "role"}
            if Role.MAYOR in roles:
                return True
    return False


# --- Shown to people -------------------------------------------------------------------------


def _role_label(value: str) -> str:
    try:
        return str(Role(value).label)
    except ValueError:
        return value or ""


def _value_text(name: str, value) -> str:
    if value in (None, "", []):
        return "—"
    if name == "role":
        return _role_label(value)
    if name == "active":
        return _("yes") if value else _("no")
    if name == "offices":
        return " | ".join(
            ", ".join(str(v) for k, v in office.items() if k != "type").replace("\n", ", ")
            for office in value
        )
    return str(value)


def _field_label(name: str) -> str:
    return str(Representative._meta.get_field(name).verbose_name)


def _person(values: dict, ward: str) -> dict:
    return {
        "name": values["name"],
        "role": values.get("role_text") or _role_label(values["role"]),
        "ward": ward,
        "email": values.get("email", ""),
        "contact": values.get("phone", "") or values.get("contact_url", ""),
    }


def plan_preview(plan: RosterPlan, *, limit: int = 200, command: bool = False) -> dict:
    """What the review page and the commands show: each council's new, changed and retired
    members in words (at most `limit` of each), and the rows the import cannot use."""
    councils = []
    for council in plan.councils:
        retired = []
        for entry in council.retired[:limit]:
            if entry.get("placeholder"):
                note = _("demo placeholder")
            elif entry.get("manual"):
                note = _("added by hand")
            else:
                note = ""
            retired.append(
                {
                    "name": entry["name"],
                    "role": _role_label(entry["role"]),
                    "ward": entry.get("ward", ""),
                    "email": entry.get("email", ""),
                    "note": note,
                }
            )
        councils.append(
            {
                "municipality": council.municipality,
                "counts": {
                    "new": len(council.new),
                    "changed": len(council.changed),
                    "unchanged": len(council.unchanged),
                    "retired": len(council.retired),
                },
                "new": [_person(e["values"], e.get("ward", "")) for e in council.new[:limit]],
                "changed": [
                    {
                        "name": entry["values"]["name"],
                        "changes": [
                            (_field_label(name), _value_text(name, old), _value_text(name, new))
                            for name, old, new in entry["changes"]
                        ],
                    }
                    for entry in council.changed[:limit]
                ],
                "retired": retired,
                "more": {
                    "new": max(0, len(council.new) - limit),
                    "changed": max(0, len(council.changed) - limit),
                    "retired": max(0, len(council.retired) - limit),
                },
            }
        )

    def lines(issues):
        return [(line, message(code, params, command=command)) for line, code, params in issues]

    return {
        "councils": councils,
        "unplaced": lines(plan.unplaced[: limit * 5]),
        "skipped": lines(plan.skipped[: limit * 5]),
        "notes": lines(plan.notes[: limit * 5]),
        "unplaced_count": len(plan.unplaced),
        "skipped_count": len(plan.skipped),
        "notes_count": len(plan.notes),
    }


def plan_lines(plan: RosterPlan) -> list[str]:
    """The plan as the commands print it (--dry-run and before applying)."""
    preview = plan_preview(plan, limit=10_000, command=True)
    out = []
    for council in preview["councils"]:
        counts = council["counts"]
        out.append(
            f"{council['municipality']}: {counts['new']} new, {counts['changed']} changed, "
            f"{counts['retired']} retired, {counts['unchanged']} unchanged"
        )
        for person in council["new"]:
            ward = f" ({person['ward']})" if person["ward"] else ""
            out.append(f"  + {person['name']}, {person['role']}{ward} <{person['email'] or '—'}>")
        for person in council["changed"]:
            changes = "; ".join(f"{label}: {old} → {new}" for label, old, new in person["changes"])
            out.append(f"  ~ {person['name']}: {changes}")
        for person in council["retired"]:
            note = f" [{person['note']}]" if person["note"] else ""
            out.append(f"  - {person['name']}, {person['role']}{note}")
    return out
