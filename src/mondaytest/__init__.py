"""Monday: take an AI system from live to shipped.

The short public API lives here; everything else is reached through its subpackage.
"""

from __future__ import annotations

from mondaytest.errors import CheckFailed, ConfigError, InputError, MondayError

__version__ = "0.1.0"

__all__ = ["CheckFailed", "ConfigError", "InputError", "MondayError", "__version__"]
