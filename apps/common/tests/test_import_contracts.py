"""The architecture is checked, not hoped for: the import contracts of .importlinter hold (``make lint`` runs them).

apps.common imports no domain app; apps depend one way in the documented order (no cycle between apps);
inside an app, adapters -> services/selectors -> models.
"""

import subprocess
import sys
from pathlib import Path

from django.conf import settings


def test_import_contracts_are_kept():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
