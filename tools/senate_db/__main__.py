"""Allow ``python -m senate_db``."""

from senate_db.cli import main

raise SystemExit(main())
