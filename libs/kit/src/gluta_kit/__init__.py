from gluta_kit import _lean

_lean.install()
