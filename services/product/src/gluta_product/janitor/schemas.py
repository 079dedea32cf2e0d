"""Janitor report."""

from gluta_product.schemas import CamelModel


class JanitorReport(CamelModel):
    """What one janitor run found and removed (in a dry run: what it would remove)."""

    found: int
    files_removed: int
    rows_removed: int
    bytes_freed: int
    dry_run: bool
    cutoff: str
