"""`python -m wan ...`"""

from wan.cli import main

raise SystemExit(main())
