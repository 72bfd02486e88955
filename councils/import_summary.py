"""What an import did (created, updated, skipped...), shared by every councils importer."""

from dataclasses import dataclass, field


@dataclass
class ImportSummary:
    """What an import did, for the command's output and the admin's result page."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    label: str = "representatives"

    @property
    def skipped_count(self) -> int:
        return len(self.skipped)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deactivated)

    def headline(self) -> str:
        text = (
            f"{self.label.capitalize()}: {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.deactivated} deactivated, "
            f"{len(self.skipped)} skipped"
        )
        if not self.changed:
            text += " (nothing changed)"
        return text

    def lines(self) -> list[str]:
        out = [self.headline()]
        out += [f"  skipped line {line}: {reason}" for line, reason in self.skipped]
        out += [f"  note: {note}" for note in self.notes]
        return out
